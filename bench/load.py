#!/usr/bin/env python3
"""Load benchmark for a running scim-bridge, on loopback only.

Starts the release binary on the embedded store in a temporary directory, seeds N users and a
group of M members through the SCIM API (Bulk and PATCH, as an identity provider would), then
drives each scenario with wrk for a bounded time and reports requests/s, p50 and p99 latency,
the server's CPU per request (utime + stime from /proc) and its resident memory: the peak of
the seeding and of each scenario (VmHWM, started afresh before each through `clear_refs`).
Every loop is bounded in count and time; all traffic goes to 127.0.0.1.

    python3 bench/load.py --users 100000 --members 50000 --duration 10

Settings (`OP_*`) and allocator options (`MIMALLOC_*`) in the environment reach the bridge.

A/B: `--baseline OTHER_BINARY` starts a second bridge from another build, seeds it the same,
and runs each scenario on both, alternating which goes first, `--rounds` times; it reports the
median of each and the ratio (this build / baseline). `--only create,PATCH` keeps the scenarios
whose names contain one of the words. For example, against the build before issue 12:

    git worktree add /tmp/old 47e53d8 && (cd /tmp/old && cargo build --release --bin scim-bridge)
    python3 bench/load.py --users 10000 --members 5000 --duration 5 --rounds 3 \
        --only create,PATCH --baseline /tmp/old/target/release/scim-bridge

`--baseline-env KEY=VALUE` gives side B a setting of its own (B is this build unless
`--baseline` names another): one setting's A/B in one run, e.g. the store's page cache:

    python3 bench/load.py --only lookup,GET,page --rounds 3 \
        --baseline-env OP_STORE_CACHE_BYTES=67108864

`--ceiling` also measures, for the lookup, the GET by id and the page of 100, a bare hyper
server (examples/ceiling.rs) answering the very bytes the bridge answered, in the same run and
alternating, and prints each rate as a ratio to that ceiling, with the ceiling's CPU per request.

`--redis` runs each bridge on its own redis-server (appendfsync always), for the Redis read
and write path, printing each scenario's Redis commands per request (`INFO commandstats`);
`--redis --baseline` compares two builds on Redis. `--stores` compares the
stores of one build: A on Redis, B on the embedded store, alternating as above.

Needs: cargo (builds the release binary), redis-server with --redis, wrk (Debian package `wrk`; installed when missing).
"""

import argparse
import concurrent.futures
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SCRIPTS = os.path.join(HERE, "wrk")


def cpu_seconds(pid):
    """User plus system CPU time of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ms_per_request(cpu_s, rps, duration):
    """CPU milliseconds per request, from the CPU seconds spent over a wrk run."""
    return 1000 * cpu_s / max(rps * duration, 1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk():
    if shutil.which("wrk"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True)


class Redis:
    """A redis-server for one bridge, on a free loopback port, durable as the README asks
    (`appendfsync always`, `noeviction`)."""

    def __init__(self, workdir):
        os.makedirs(workdir, exist_ok=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", workdir,
             "--save", "", "--appendonly", "yes", "--appendfsync", "always",
             "--maxmemory-policy", "noeviction"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            if subprocess.run(["redis-cli", "-p", str(self.port), "PING"], capture_output=True,
                              text=True).stdout.strip() == "PONG":
                return
            time.sleep(0.1)
        raise SystemExit("redis-server did not start in 10 s")

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def info(self, section):
        out = subprocess.run(["redis-cli", "-p", str(self.port), "INFO", section],
                             capture_output=True, text=True).stdout
        return dict(l.split(":", 1) for l in out.splitlines() if ":" in l)

    def reset_stats(self):
        subprocess.run(["redis-cli", "-p", str(self.port), "CONFIG", "RESETSTAT"], capture_output=True)

    def commands_per(self, requests):
        """`INFO commandstats` since the last reset, per request: {command: (calls, µs)}; a
        script's µs include the commands it calls."""
        out = {}
        for name, rest in self.info("commandstats").items():
            f = dict(kv.split("=", 1) for kv in rest.split(","))
            if name.startswith("cmdstat_") and "config" not in name:
                out[name[len("cmdstat_"):]] = (int(f["calls"]) / requests, int(f["usec"]) / requests)
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Bridge:
    """The bridge process under test (with `redis=True`, on its own redis-server)."""

    def __init__(self, workdir, extra_env, binary=None, redis=False):
        self.redis = Redis(os.path.join(workdir, "redis")) if redis else None
        if self.redis:
            extra_env = {**extra_env, "OP_REDIS_URL": self.redis.url}
        if binary is None:
            subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "scim-bridge"], cwd=ROOT, check=True)
            binary = os.path.join(ROOT, "target", "release", "scim-bridge")
        self.binary = binary
        os.makedirs(workdir, exist_ok=True)
        session = os.path.join(workdir, "scimsession")
        self.token = subprocess.run([binary, "init", "--session", session], check=True,
                                    capture_output=True, text=True).stdout.strip()
        self.port = free_port()
        # Settings (OP_*) and allocator options (MIMALLOC_*) in the environment pass through,
        # for A/B runs; the ones set here win.
        env = {k: v for k, v in os.environ.items() if k.startswith(("OP_", "MIMALLOC_"))}
        env.update({"PATH": os.environ.get("PATH", ""), "OP_SESSION": session,
               "OP_DATA_DIR": os.path.join(workdir, "data"), "OP_BIND_ADDRESS": "127.0.0.1",
               "OP_PORT": str(self.port)})
        env.update(extra_env)
        self.log = open(os.path.join(workdir, "bridge.log"), "w")
        self.proc = subprocess.Popen([binary, "serve"], env=env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base}/ping", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("the bridge did not start in 30 s")

    @property
    def base(self):
        return f"http://127.0.0.1:{self.port}"

    def rss_mb(self):
        return self._status_mb("VmRSS:")

    def peak_rss_mb(self):
        """The most resident memory the process has had (VmHWM)."""
        return self._status_mb("VmHWM:")

    def reset_peak(self):
        """Starts VmHWM afresh at the current resident size (Linux `clear_refs` value 5), so
        the next peak_rss_mb is the peak of what follows."""
        with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
            f.write("5")

    def cpu_s(self):
        """(this bridge's CPU seconds, its Redis's CPU seconds or 0), user plus system."""
        return cpu_seconds(self.proc.pid), cpu_seconds(self.redis.proc.pid) if self.redis else 0.0

    def _status_mb(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) / 1024
        return 0.0

    def call(self, method, path, body=None, timeout=120):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}/scim/v2{path}", data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/scim+json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw else None)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        if self.redis:
            self.redis.stop()


def user_name(i):
    return f"user{i}@bench.example"


def seed(bridge, users, members, workers=16, chunk=500):
    """Creates `users` users with Bulk (parallel streams, as group commit likes) and a group
    of `members` of them; returns (user ids, big group id, small group id, spare user ids)."""
    started = time.time()

    def create(start):
        ops = [{"method": "POST", "bulkId": str(i), "path": "/Users", "data": {
            "userName": user_name(i), "name": {"givenName": "Bench", "familyName": f"User{i}"},
            "emails": [{"value": user_name(i), "type": "work", "primary": True}], "active": True}}
            for i in range(start, min(start + chunk, users))]
        _, body = bridge.call("POST", "/Bulk", {"Operations": ops})
        out = {}
        for op in body["Operations"]:
            if op["status"] != "201":
                raise SystemExit(f"seeding failed: {op}")
            out[int(op["bulkId"])] = op["location"].rsplit("/", 1)[1]
        return out

    ids = {}
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for part in pool.map(create, range(0, users, chunk)):
            ids.update(part)
    ordered = [ids[i] for i in range(users)]
    seeded_users = time.time() - started
    bridge.seed_peaks = {"users": bridge.peak_rss_mb()}
    bridge.reset_peak()

    _, big = bridge.call("POST", "/Groups", {"displayName": "Big group", "members": []})
    big = big["id"]
    member_ids = ordered[:members]
    for start in range(0, len(member_ids), 1000):
        part = [{"value": m} for m in member_ids[start:start + 1000]]
        bridge.call("PATCH", f"/Groups/{big}", {"Operations": [{"op": "add", "path": "members", "value": part}]})
    _, small = bridge.call("POST", "/Groups", {"displayName": "Small group",
                                              "members": [{"value": m} for m in ordered[:10]]})
    spare = ordered[members:members + 1000] if users > members + 1000 else ordered[-1000:]
    bridge.seed_peaks["groups"] = bridge.peak_rss_mb()
    print(f"seeded {users} users in {seeded_users:.1f} s ({users / seeded_users:.0f}/s through Bulk), "
          f"a group of {members} and one of 10 in {time.time() - started - seeded_users:.1f} s", flush=True)
    return ordered, big, small["id"], spare


LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$")


def wrk(bridge, script, duration, connections, env):
    env = dict(os.environ, TOKEN=bridge.token, PWD=ROOT, **{k: str(v) for k, v in env.items()})
    threads = min(2, connections)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-s", os.path.join(SCRIPTS, script), bridge.base],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for line in out.splitlines():
        m = LAT.match(line)
        if m:
            scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(3)]
            lat[m.group(1)] = float(m.group(2)) * scale
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50_ms": lat.get("50"), "p99_ms": lat.get("99"),
            "non_2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else None}


class Ceiling:
    """The bare hyper server of examples/ceiling.rs, answering the bridge's own bodies (a
    lookup's ListResponse, a user, a page of 100, fetched from the seeded bridge) to the same
    wrk scripts, so client and server do the same work but the bridge's."""

    SCRIPTS = ("filter.lua", "get.lua", "page.lua")

    def __init__(self, bridge, users, workdir):
        subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "ceiling"], cwd=ROOT, check=True)
        args = [os.path.join(ROOT, "target", "release", "examples", "ceiling"), "--port", "0"]
        self.sizes = []
        # (what the request's target contains, a request of that shape to the bridge).
        for i, (text, path) in enumerate([
                ("filter=", f"/Users?filter=userName%20eq%20%22{user_name(0).replace('@', '%40')}%22"),
                ("startIndex=", "/Users?startIndex=1&count=100"),
                ("/Users/", f"/Users/{users[0]}")]):
            req = urllib.request.Request(f"{bridge.base}/scim/v2{path}",
                                         headers={"Authorization": f"Bearer {bridge.token}"})
            with urllib.request.urlopen(req, timeout=60) as r:
                body = r.read()
            f = os.path.join(workdir, f"ceiling-{i}.json")
            with open(f, "wb") as out:
                out.write(body)
            args += ["--route", text, f]
            self.sizes.append(len(body))
        self.token = bridge.token  # sent by the scripts, ignored by the ceiling
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.base = "http://" + self.proc.stdout.readline().strip().removeprefix("listening on ")

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def prepare(bridge, args, workdir):
    """Seeds `bridge`; returns the wrk environment shared by its scenarios and its groups."""
    users, big, small, spare = seed(bridge, args.users, args.members)
    ids_file = os.path.join(workdir, "ids.txt")
    with open(ids_file, "w") as f:
        f.write("\n".join(users))
    spare_file = os.path.join(workdir, "spare.txt")
    with open(spare_file, "w") as f:
        f.write("\n".join(spare))
    return {"USERS": args.users, "IDS": ids_file, "SPARE": spare_file}, {"big": big, "small": small}


def scenarios(args):
    """(name, wrk script, group the script patches or None, connections). An identity provider
    sends one group's membership changes one after another: the size comparison runs
    sequentially; the last PATCH row shows many clients contending for one group (they queue
    on its per-resource write lock)."""
    conns = args.connections
    every = [
        ("filter lookup userName eq", "filter.lua", None, conns),
        ("GET by id", "get.lua", None, conns),
        ("page of 100", "page.lua", None, conns),
        ("create (durable)", "create.lua", None, conns),
        (f"one-member PATCH, {args.members}-member group, sequential", "member_patch.lua", "big", 1),
        ("one-member PATCH, 10-member group, sequential", "member_patch.lua", "small", 1),
        (f"one-member PATCH, {args.members}-member group, {conns} clients", "member_patch.lua", "big", conns),
        ("active toggle PATCH", "active.lua", None, conns),
    ]
    if not args.only:
        return every
    words = [w.strip() for w in args.only.split(",") if w.strip()]
    return [sc for sc in every if any(w in sc[0] for w in words)]


def run(bridge, prepared, scenario, duration):
    name, script, group, connections = scenario
    common, groups = prepared
    extra = {"GROUP": groups[group]} if group else {}
    # Let the previous scenario's writes reach the disk, so one scenario's writeback does not
    # land in the next one's latency tail.
    subprocess.run(["sync"], check=False)
    time.sleep(3)
    if bridge.redis:
        bridge.redis.reset_stats()
    bridge.reset_peak()
    before = bridge.cpu_s()
    r = wrk(bridge, script, duration, connections, {**common, **extra, "RUN": time.time_ns()})
    after = bridge.cpu_s()
    done = max(r["rps"] * duration, 1)
    # CPU per request: the bridge's, and its Redis's (0 on the embedded store).
    r["bridge_cpu_ms"] = ms_per_request(after[0] - before[0], r["rps"], duration)
    r["redis_cpu_ms"] = ms_per_request(after[1] - before[1], r["rps"], duration)
    r["scenario"] = name
    if bridge.redis:
        r["redis_commands"] = bridge.redis.commands_per(done)
    r["rss_mb"] = round(bridge.rss_mb(), 1)
    r["peak_mb"] = round(bridge.peak_rss_mb(), 1)
    return r


def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def single(args, workdir):
    bridge = Bridge(workdir, {}, args.binary, args.redis)
    ceiling = None
    try:
        prepared = prepare(bridge, args, workdir)
        seed_peak = max(bridge.seed_peaks.values())
        print(f"resident memory: seeding peak {bridge.seed_peaks['users']:.1f} MB (users, Bulk), "
              f"{bridge.seed_peaks['groups']:.1f} MB (groups, PATCH), now {bridge.rss_mb():.1f} MB", flush=True)
        if args.ceiling:
            ids = open(prepared[0]["IDS"]).read().split()
            ceiling = Ceiling(bridge, ids, workdir)
            print(f"ceiling: a bare hyper server answering the bridge's bodies ({ceiling.sizes} bytes)", flush=True)
        results = []
        for k, scenario in enumerate(scenarios(args)):
            measured = ceiling is not None and scenario[1] in Ceiling.SCRIPTS
            common = {**prepared[0], "RUN": time.time_ns()}

            def on_ceiling():
                before = cpu_seconds(ceiling.proc.pid)
                top = wrk(ceiling, scenario[1], args.duration, scenario[3], common)
                top["cpu_ms"] = ms_per_request(cpu_seconds(ceiling.proc.pid) - before, top["rps"], args.duration)
                return top

            # Alternate which goes first, so neither always runs on a warmer machine.
            if measured and k % 2:
                top = on_ceiling()
            r = run(bridge, prepared, scenario, args.duration)
            if measured and not k % 2:
                time.sleep(3)
                top = on_ceiling()
            if measured:
                r["ceiling_rps"] = top["rps"]
                r["ceiling_p99_ms"] = top["p99_ms"]
                r["ceiling_ratio"] = r["rps"] / top["rps"]
                r["ceiling_cpu_ms"] = top["cpu_ms"]
            results.append(r)
            beside = (f"  ceiling {r['ceiling_rps']:.0f} req/s, ratio {r['ceiling_ratio']:.2f}, "
                      f"ceiling cpu/req {1000 * r['ceiling_cpu_ms']:.1f} µs") if measured else ""
            print(f"{r['scenario']:45s} {r['rps']:10.0f} req/s  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms"
                  f"  non-2xx {r['non_2xx']}  cpu/req {1000 * r['bridge_cpu_ms']:.1f} µs"
                  f"  rss {r['rss_mb']} MB, peak {r['peak_mb']} MB{beside}", flush=True)
            for cmd, (calls, usec) in sorted(r.get("redis_commands", {}).items(), key=lambda c: -c[1][1]):
                if calls >= 0.01:
                    print(f"    redis {cmd:18s} {calls:8.2f} calls {usec:9.1f} µs per request", flush=True)
        print()
        print(f"| scenario ({args.users} users, {args.connections} connections, {args.duration} s) "
              "| requests/s | p50 ms | p99 ms | non-2xx | CPU µs per request | peak resident MB "
              "| ceiling requests/s | ratio | ceiling CPU µs per request |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for phase, peak in bridge.seed_peaks.items():
            print(f"| seeding {phase} | — | — | — | — | — | {peak:.0f} | — | — | — |")
        for r in results:
            top = (f"{r['ceiling_rps']:.0f} | {r['ceiling_ratio']:.2f} | {1000 * r['ceiling_cpu_ms']:.1f}"
                   if "ceiling_rps" in r else "— | — | —")
            print(f"| {r['scenario']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non_2xx']} "
                  f"| {1000 * r['bridge_cpu_ms']:.1f} | {r['peak_mb']:.0f} | {top} |")
        print(f"\nresident memory after all scenarios: {bridge.rss_mb():.1f} MB, "
              f"peak over the whole run {max([seed_peak] + [r['peak_mb'] for r in results]):.1f} MB")
        if bridge.redis:
            mem, cpu = bridge.redis.info("memory"), bridge.redis.info("cpu")
            print(f"redis: used_memory {int(mem['used_memory']) / 2**20:.1f} MiB, "
                  f"rss {int(mem['used_memory_rss']) / 2**20:.1f} MiB, "
                  f"cpu user {float(cpu['used_cpu_user']):.1f} s + sys {float(cpu['used_cpu_sys']):.1f} s")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "results": results, "rss_mb": bridge.rss_mb()}, f, indent=2)
    finally:
        if ceiling:
            ceiling.stop()
        bridge.stop()


def compare(args, workdir, labels, redis, baseline):
    """Side A against side B, in one run, alternating: `labels` names them, `redis` says
    which of them runs on Redis, `baseline` is B's binary (None: the same build as A)."""
    a = Bridge(os.path.join(workdir, "a"), {}, args.binary, redis[0])
    b = None
    try:
        b_env = dict(kv.split("=", 1) for kv in args.baseline_env or [])
        b = Bridge(os.path.join(workdir, "b"), b_env, baseline or a.binary, redis[1])
        prepared = {"a": prepare(a, args, os.path.join(workdir, "a")),
                    "b": prepare(b, args, os.path.join(workdir, "b"))}
        bridges = {"a": a, "b": b}
        rows = []
        for scenario in scenarios(args):
            runs = {"a": [], "b": []}
            for round_ in range(args.rounds):
                for side in ("a", "b") if round_ % 2 == 0 else ("b", "a"):
                    r = run(bridges[side], prepared[side], scenario, args.duration)
                    runs[side].append(r)
                    print(f"{scenario[0]:45s} {labels[0] if side == 'a' else labels[1]:10s} "
                          f"{r['rps']:10.0f} req/s  p99 {r['p99_ms']:.2f} ms  non-2xx {r['non_2xx']}  "
                          f"cpu/req bridge {r['bridge_cpu_ms']:.3f} ms redis {r['redis_cpu_ms']:.3f} ms", flush=True)
            ra, rb = (median([r["rps"] for r in runs[s]]) for s in ("a", "b"))
            pa, pb = (median([r["p99_ms"] for r in runs[s]]) for s in ("a", "b"))
            cpu = {s: (median([r["bridge_cpu_ms"] for r in runs[s]]),
                       median([r["redis_cpu_ms"] for r in runs[s]])) for s in ("a", "b")}
            peak = {s: max(r["peak_mb"] for r in runs[s]) for s in ("a", "b")}
            rows.append({"scenario": scenario[0], "rps": ra, "baseline_rps": rb, "ratio": ra / rb,
                         "p99_ms": pa, "baseline_p99_ms": pb, "cpu_ms": cpu, "peak_mb": peak, "runs": runs})
        print()
        print(f"| scenario ({args.users} users, median of {args.rounds}, {args.duration} s each) "
              f"| {labels[0]} req/s | {labels[1]} req/s | ratio | p99 ms ({labels[0]} / {labels[1]}) "
              f"| CPU ms per request, bridge + Redis ({labels[0]} / {labels[1]}) "
              f"| peak resident MB ({labels[0]} / {labels[1]}) |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in rows:
            (ba, ra_), (bb, rb_) = r["cpu_ms"]["a"], r["cpu_ms"]["b"]
            print(f"| {r['scenario']} | {r['rps']:.0f} | {r['baseline_rps']:.0f} | {r['ratio']:.2f} "
                  f"| {r['p99_ms']:.2f} / {r['baseline_p99_ms']:.2f} "
                  f"| {ba:.3f} + {ra_:.3f} / {bb:.3f} + {rb_:.3f} "
                  f"| {r['peak_mb']['a']:.0f} / {r['peak_mb']['b']:.0f} |")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"args": vars(args), "results": rows}, f, indent=2)
    finally:
        a.stop()
        if b is not None:
            b.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--members", type=int, default=50_000)
    ap.add_argument("--duration", type=int, default=10, help="seconds per scenario (bounded)")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--binary", help="the bridge binary to measure (default: build target/release)")
    ap.add_argument("--baseline", help="another build's binary to compare with, in the same run")
    ap.add_argument("--rounds", type=int, default=3, help="runs per scenario and side with --baseline")
    ap.add_argument("--only", help="comma-separated words; keep the scenarios whose names contain one")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--ceiling", action="store_true",
                    help="also measure a bare hyper server (examples/ceiling.rs) answering the bridge's own "
                         "bodies for the lookup, the GET and the page, alternating, and print each ratio")
    ap.add_argument("--redis", action="store_true",
                    help="each bridge on its own redis-server (appendfsync always) instead of the embedded store")
    ap.add_argument("--baseline-env", action="append", metavar="KEY=VALUE",
                    help="a setting for side B only (repeatable); without --baseline, B is this build: "
                         "an A/B of one setting, e.g. --baseline-env OP_STORE_CACHE_BYTES=67108864")
    ap.add_argument("--stores", action="store_true",
                    help="one build on Redis (A) against the same build on the embedded store (B), in the same run")
    args = ap.parse_args()
    if args.duration > 120 or args.users > 1_000_000 or not 1 <= args.rounds <= 9:
        raise SystemExit("refusing an unbounded run: --duration <= 120, --users <= 1,000,000, --rounds 1..9")
    if args.stores and (args.baseline or args.baseline_env or args.redis):
        raise SystemExit("--stores compares the two stores of one build: not with --baseline or --redis")
    if not scenarios(args):
        raise SystemExit(f"--only {args.only!r} keeps no scenario")
    ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="scim-bench-") as workdir:
        if args.baseline or args.baseline_env:
            compare(args, workdir, ("this build", "baseline"), (args.redis, args.redis), args.baseline)
        elif args.stores:
            compare(args, workdir, ("Redis", "embedded"), (True, False), None)
        else:
            single(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
