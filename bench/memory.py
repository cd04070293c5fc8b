#!/usr/bin/env python3
"""Peak RSS of the bridge under 16 concurrent maximum-size requests (issue 9, item 4).

Starts a release build on loopback with a fresh session and data directory, creates 16 users,
then sends 16 concurrent PATCHes, each a body just under OP_MAX_BODY_BYTES (4 MiB) adding
emails, in ROUNDS rounds, and reads VmHWM from /proc/PID/status. Bounded: 16 × ROUNDS
requests, a 120 s limit per request. Loopback only.

Run: cargo build --release && python3 bench/memory.py [path/to/scim-bridge]

Environment: KIND=patch (default) | put | post | bulk (the request sent: a PATCH replacing
emails, a PUT of the whole user, a POST of new users, or that PATCH inside a Bulk request;
each body just under 4 MiB), CONCURRENT (16),
ROUNDS (2); any OP_* setting is passed to the bridge.
"""
import concurrent.futures, json, os, re, subprocess, sys, tempfile, time, urllib.request

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/scim-bridge"
CONCURRENT = int(os.environ.get("CONCURRENT", 16))
ROUNDS = int(os.environ.get("ROUNDS", 2))
MAX_BODY = 4 * 1024 * 1024
KIND = os.environ.get("KIND", "patch")


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(rf"{key}:\s+(\d+) kB", f.read()).group(1)) // 1024


def request(base, token, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    req.add_header("Content-Type", "application/scim+json")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError):
        # Answered (503, busy) before the body was sent; the connection closed under us.
        return 0, b""


def big_body(tag):
    emails, size, i = [], 40, 0
    while True:
        e = {"value": f"{tag}-{i:07d}@example.com", "type": "work"}
        size += len(json.dumps(e)) + 2
        if size > MAX_BODY - 64:
            break
        emails.append(e)
        i += 1
    return {"Operations": [{"op": "add", "path": "emails", "value": emails}]}


def main():
    tmp = tempfile.mkdtemp(prefix="scim-mem-")
    session = os.path.join(tmp, "scimsession")
    out = subprocess.run([BIN, "init", "--session", session], capture_output=True, text=True, check=True)
    token = out.stdout.strip()
    env = dict(os.environ, OP_SESSION=session, OP_DATA_DIR=os.path.join(tmp, "data"),
               OP_BIND_ADDRESS="127.0.0.1", OP_PORT="18571", OP_LOG_LEVEL="warn")
    env.update(os.environ)
    proc = subprocess.Popen([BIN, "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = "http://127.0.0.1:18571"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(base + "/ping", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        ids = []
        for i in range(CONCURRENT):
            st, b = request(base, token, "POST", "/scim/v2/Users", {"userName": f"mem{i}@example.com"})
            ids.append(json.loads(b)["id"])
        idle = vm(proc.pid, "VmRSS")
        bodies = [big_body(f"u{i}") for i in range(CONCURRENT)]
        statuses = []
        started = time.time()
        def big(i, r):
            emails = bodies[i]["Operations"][0]["value"]
            if KIND == "put":
                return "PUT", f"/scim/v2/Users/{ids[i]}", {"userName": f"mem{i}@example.com", "emails": emails}
            if KIND == "post":
                return "POST", "/scim/v2/Users", {"userName": f"new{r}-{i}@example.com", "emails": emails}
            patch = {"Operations": [{"op": "replace", "path": "emails", "value": emails}]}
            if KIND == "bulk":
                return "POST", "/scim/v2/Bulk", {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                    "Operations": [{"method": "PATCH", "path": f"/Users/{ids[i]}", "data": {
                        "Operations": [{"op": "replace", "path": "emails", "value": emails[:-4]}]}}]}
            return "PATCH", f"/scim/v2/Users/{ids[i]}", patch
        def answer(status, body):
            # A Bulk answer is 200 with each operation's own status inside.
            if KIND == "bulk" and status == 200:
                return int(json.loads(body)["Operations"][0]["status"])
            return status
        for r in range(ROUNDS):
            with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
                futs = [pool.submit(request, base, token, *big(i, r)) for i in range(CONCURRENT)]
                statuses += [answer(*f.result()) for f in futs]
        peak = vm(proc.pid, "VmHWM")
        after = vm(proc.pid, "VmRSS")
        body_len = len(json.dumps(bodies[0]))
        print(f"{KIND} body {body_len} bytes x {CONCURRENT} concurrent x {ROUNDS} rounds in {time.time()-started:.1f}s")
        print(f"statuses {sorted(set(statuses))}: " + ", ".join(f"{s}={statuses.count(s)}" for s in sorted(set(statuses))))
        print(f"RSS idle {idle} MB, peak (VmHWM) {peak} MB, after {after} MB")
        # /ping (unauthenticated) while two maximum-size PATCHes run.
        slowest = [0.0]
        def pings(stop):
            while not stop():
                t = time.time()
                urllib.request.urlopen(base + "/ping", timeout=30).read()
                slowest[0] = max(slowest[0], time.time() - t)
                time.sleep(0.01)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            work = [pool.submit(request, base, token, "PATCH", f"/scim/v2/Users/{ids[i]}", bodies[i + 2])
                    for i in range(2)]
            p = pool.submit(pings, lambda: all(w.done() for w in work))
            [w.result() for w in work]
            p.result()
        print(f"/ping slowest during two 4 MiB PATCHes: {slowest[0] * 1000:.0f} ms")
        return 0 if peak < 256 else 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
