#!/usr/bin/env python3
"""TLS benchmark: scim-bridge's own HTTPS listener side by side with Caddy and nginx, on loopback.

All three servers serve the SAME throwaway certificate (a P-256 CA and a P-256 leaf for
--name, made with openssl at run time in a temporary directory, never committed) on free
127.0.0.1 ports:

* scim-bridge: release build, OP_TLS_CERT_FILE/OP_TLS_KEY_FILE, its own session from
  `scim-bridge init`, embedded store in the temporary directory; path /ping.
* Caddy: bench/tls/Caddyfile.static (protocols h1 h2, no HTTP/3, no redirects, `tls CERT KEY`),
  `respond /ping "pong"`.
* nginx: bench/tls/nginx.conf (ssl + http2, keepalive_requests 100000000, foreground, root,
  temporary prefix), `return 200 "pong"` on /ping.

Measured, in the same run, for each server:

1. New full TLS handshakes per second, no resumption: repeated h2load bursts of
   `-c C -n C` (C clients, one request each, so every request opens a new TCP connection and
   does a full handshake in a fresh h2load process, which keeps no session cache), until
   --duration seconds are spent; the rate is succeeded requests / sum of h2load's own
   "finished in" times (process start-up is not counted); the negotiated protocol, cipher and
   key exchange are recorded from h2load's output (TLS 1.3, X25519 here). A second, independent
   client checks the figure: --py-clients Python processes (ssl module, OpenSSL 3), each
   looping until --duration: new TCP connection (TCP_NODELAY), full TLS 1.3 handshake with SNI
   and certificate verification, GET /ping with Connection: close, read the status line, close.
   No session is ever offered (Python resumes only when given session=), so every handshake is full.
2. Keep-alive HTTPS requests per second: wrk (HTTP/1.1) and h2load (HTTP/2, -m 10) for
   --duration seconds over --connections connections against /ping.
3. Time from process start to the first HTTPS response carrying a certificate freshly issued
   by pebble (ACME TLS-ALPN-01; pebble's tlsPort = the server's HTTPS port, HTTP-01 pointed at
   an unused port): scim-bridge versus Caddy (ACME issuer at pebble, HTTP challenge disabled),
   each with its own fresh pebble + pebble-challtestsrv (fake DNS answering 127.0.0.1), one
   after the other, bounded by --acme-timeout. The probe is a Python ssl client polling every
   50 ms with SNI = --name, verifying against pebble's issuing root (/roots/0).

SNI: every client sends SNI = --name. wrk and h2load take it from the URL host, resolved by a
private hosts file bind-mounted over /etc/hosts in their own mount namespace
(`unshare --mount`, needs root); the system's /etc/hosts is untouched. The Python probes
connect to 127.0.0.1 and pass the name as server_hostname. wrk and h2load set TCP_NODELAY.

    python3 bench/tls.py --duration 10 --json /tmp/tls.json

Needs root (unshare, nginx as root, apt-get), cargo (builds the release binary unless
--bridge-binary is given; honours CARGO_TARGET_DIR) and the Debian packages caddy, nginx,
wrk, nghttp2-client, openssl, pebble, installed with apt-get when missing. Every loop is bounded
in count and time; every process started here is killed on exit, errors included.
"""

import argparse
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TEMPLATES = os.path.join(HERE, "tls")
SERVERS = ("scim-bridge", "caddy", "nginx")

# tool -> Debian package
TOOLS = {"caddy": "caddy", "nginx": "nginx", "wrk": "wrk", "h2load": "nghttp2-client",
         "openssl": "openssl", "pebble": "pebble", "pebble-challtestsrv": "pebble", "unshare": "util-linux"}


# ---------------------------------------------------------------------------------------------
# Processes: everything started here is registered and killed (whole process group) on exit.

CHILDREN = []


def spawn(cmd, log_path, env=None, cwd=None):
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    proc.log_file = log
    CHILDREN.append(proc)
    return proc


def stop(proc):
    """Terminates one process started by spawn() and its process group (nginx workers)."""
    if proc.poll() is None:
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
    try:  # workers left behind in the group after the leader exited
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.log_file.close()
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def stop_all():
    for proc in list(reversed(CHILDREN)):
        stop(proc)


def tail(path, lines=15):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Step 1: tools

def ensure_tools():
    missing = sorted({pkg for tool, pkg in TOOLS.items() if not shutil.which(tool)})
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    print(f"installing {' '.join(missing)}", flush=True)
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, timeout=300)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + missing, check=True, timeout=600)


def free_port():
    """A loopback port free for TCP and UDP (pebble-challtestsrv's DNS uses both)."""
    for _ in range(50):
        with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no free loopback port")


def render(template, out_path, **values):
    with open(os.path.join(TEMPLATES, template)) as f:
        text = f.read()
    for key, value in values.items():
        text = text.replace(f"@{key}@", str(value))
    unfilled = re.search(r"@[A-Z_]+@", text)
    if unfilled:
        raise SystemExit(f"{template}: unfilled placeholder {unfilled.group(0)}")
    with open(out_path, "w") as f:
        f.write(text)
    return out_path


# ---------------------------------------------------------------------------------------------
# Step 2: throwaway PKI

def make_pki(workdir, name):
    """A P-256 CA; a P-256 leaf for `name` (the benchmark certificate) and one for
    localhost/127.0.0.1 (pebble's HTTPS API), both signed by that CA. Returns paths."""
    d = os.path.join(workdir, "pki")
    os.makedirs(d)
    p = lambda f: os.path.join(d, f)  # noqa: E731

    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=scim-bridge TLS bench CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    for leaf, san in ((name, f"DNS:{name}"), ("localhost", "DNS:localhost,IP:127.0.0.1")):
        ext = p(f"{leaf}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                    "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n")
        run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", p(f"{leaf}.key"), "-out", p(f"{leaf}.csr"), "-subj", f"/CN={leaf}")
        run("x509", "-req", "-in", p(f"{leaf}.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
            "-CAcreateserial", "-days", "2", "-out", p(f"{leaf}.pem"), "-extfile", ext)
    hosts = p("hosts")
    with open(hosts, "w") as f:
        f.write(f"127.0.0.1 localhost\n127.0.0.1 {name}\n")
    return {"ca": p("ca.pem"), "cert": p(f"{name}.pem"), "key": p(f"{name}.key"),
            "api_cert": p("localhost.pem"), "api_key": p("localhost.key"), "hosts": hosts}


def with_private_hosts(hosts, cmd):
    """`cmd` in its own mount namespace where /etc/hosts is `hosts` (resolves the test name)."""
    return ["unshare", "--mount", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, *cmd]


# ---------------------------------------------------------------------------------------------
# HTTPS probe (Python ssl, SNI = name, certificate verified against `cafile`)

def https_get(port, name, cafile, timeout=2.0):
    """GET /ping over a fresh TLS connection to 127.0.0.1:port; returns (status, tls version,
    cipher) or raises OSError/ssl.SSLError."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname=name) as s:
            s.sendall(f"GET /ping HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
            m = re.match(r"HTTP/1\.[01] (\d{3})", head)
            if not m:
                raise OSError(f"unexpected response {head!r}")
            return int(m.group(1)), s.version(), s.cipher()[0]


def wait_https(proc, port, name, cafile, timeout, log_path):
    """Polls every 50 ms until /ping answers 200 with a certificate chaining to `cafile`;
    returns seconds waited and the TLS parameters. Bounded by `timeout`."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"{log_path}: exited with {proc.returncode}\n{tail(log_path)}")
        try:
            status, version, cipher = https_get(port, name, cafile)
            if status == 200:
                return time.monotonic() - started, version, cipher
            last = f"status {status}"
        except (OSError, ssl.SSLError) as e:
            last = repr(e)
        time.sleep(0.05)
    raise SystemExit(f"no HTTPS 200 on {port} within {timeout} s (last: {last})\n{tail(log_path)}")


# ---------------------------------------------------------------------------------------------
# Step 3: the servers

def build_bridge():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "scim-bridge"], cwd=ROOT,
                   check=True, timeout=1800)
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    return os.path.join(target, "release", "scim-bridge")


def start_bridge(binary, workdir, https_port, tls_env):
    """scim-bridge with its own session and embedded store under workdir/<port>."""
    d = os.path.join(workdir, f"bridge-{https_port}")
    os.makedirs(d)
    session = os.path.join(d, "scimsession")
    subprocess.run([binary, "init", "--session", session], check=True, capture_output=True, timeout=30)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": d, "OP_SESSION": session,
           "OP_DATA_DIR": os.path.join(d, "data"), "OP_BIND_ADDRESS": "127.0.0.1",
           "OP_PORT": str(free_port()), "OP_HTTPS_PORT": str(https_port), **tls_env}
    log = os.environ.get("BENCH_BRIDGE_LOG") or os.path.join(d, "bridge.log")
    return spawn([binary, "serve"], log, env=env), log


def start_caddy(workdir, template, https_port, **values):
    d = os.path.join(workdir, f"caddy-{https_port}")
    os.makedirs(d)
    conf = render(template, os.path.join(d, "Caddyfile"), HTTPS_PORT=https_port, HTTP_PORT=free_port(),
                  DATA=os.path.join(d, "data"), **values)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": d, "XDG_DATA_HOME": os.path.join(d, "xdg-data"),
           "XDG_CONFIG_HOME": os.path.join(d, "xdg-config")}
    log = os.path.join(d, "caddy.log")
    return spawn(["caddy", "run", "--config", conf, "--adapter", "caddyfile"], log, env=env, cwd=d), log


def start_nginx(workdir, https_port, name, cert, key):
    d = os.path.join(workdir, f"nginx-{https_port}")
    os.makedirs(os.path.join(d, "logs"))
    conf = render("nginx.conf", os.path.join(d, "nginx.conf"), PREFIX=d, HTTPS_PORT=https_port,
                  NAME=name, CERT=cert, KEY=key)
    log = os.path.join(d, "nginx.out")
    return spawn(["nginx", "-p", d, "-c", conf, "-e", os.path.join(d, "error.log")], log), log


def start_static_servers(binary, workdir, pki, name, timeout=30):
    """The three servers on the same certificate; returns {server: (proc, port, tls params)}."""
    out = {}
    for server in SERVERS:
        port = free_port()
        if server == "scim-bridge":
            proc, log = start_bridge(binary, workdir, port, {
                "OP_TLS_DOMAIN": name, "OP_TLS_CERT_FILE": pki["cert"], "OP_TLS_KEY_FILE": pki["key"]})
        elif server == "caddy":
            proc, log = start_caddy(workdir, "Caddyfile.static", port, NAME=name, CERT=pki["cert"], KEY=pki["key"])
        else:
            proc, log = start_nginx(workdir, port, name, pki["cert"], pki["key"])
        _, version, cipher = wait_https(proc, port, name, pki["ca"], timeout, log)
        out[server] = (proc, port, f"{version} {cipher}")
        print(f"{server:12s} https://{name}:{port}/ping  ({version} {cipher})", flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# Step 4: measurements

H2LOAD_FINISHED = re.compile(r"finished in ([\d.]+)(ms|s|us)")
H2LOAD_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored")


def h2load(hosts, url, args, timeout):
    out = subprocess.run(with_private_hosts(hosts, ["h2load", *args, url]), capture_output=True,
                         text=True, timeout=timeout)
    text = out.stdout + out.stderr
    fin, req = H2LOAD_FINISHED.search(text), H2LOAD_REQUESTS.search(text)
    if not fin or not req:
        raise RuntimeError(f"h2load output not understood:\n{text[-2000:]}")
    seconds = float(fin.group(1)) * {"s": 1.0, "ms": 1e-3, "us": 1e-6}[fin.group(2)]
    return seconds, int(req.group(4)), int(req.group(5)) + int(req.group(6)), text


def handshakes_per_second(hosts, name, port, duration, clients):
    """Bursts of `clients` new connections (one request each) until `duration` s are spent
    (at most 10,000 bursts)."""
    url = f"https://{name}:{port}/ping"
    spent = succeeded = failed = bursts = 0
    tls = None
    deadline = time.monotonic() + duration
    while time.monotonic() < deadline and bursts < 10_000:
        seconds, ok, bad, text = h2load(hosts, url, ["-c", str(clients), "-n", str(clients), "-m", "1"], 60)
        spent, succeeded, failed, bursts = spent + seconds, succeeded + ok, failed + bad, bursts + 1
        tls = tls or " ".join(m.group(1).strip() for m in
                              re.finditer(r"^(?:TLS Protocol|Cipher|Server Temp Key): (.*)$", text, re.M))
    return {"value": succeeded / spent if spent else 0.0, "connections": succeeded, "failed": failed,
            "bursts": bursts, "seconds": round(spent, 3), "tls": tls}


def _py_handshake_worker(args):
    port, name, cafile, deadline = args
    ok = failed = 0
    while time.monotonic() < deadline and ok + failed < 1_000_000:
        try:
            status, _, _ = https_get(port, name, cafile)
            ok, failed = (ok + 1, failed) if status == 200 else (ok, failed + 1)
        except (OSError, ssl.SSLError):
            failed += 1
    return ok, failed


def tls13_handshakes_per_second(name, port, cafile, duration, clients):
    """`clients` Python processes doing full TLS 1.3 handshakes + one request, for `duration` s."""
    started = time.monotonic()
    deadline = started + duration
    with multiprocessing.get_context("fork").Pool(clients) as pool:
        parts = pool.map(_py_handshake_worker, [(port, name, cafile, deadline)] * clients, chunksize=1)
    elapsed = time.monotonic() - started
    ok, failed = sum(p[0] for p in parts), sum(p[1] for p in parts)
    return {"value": ok / elapsed, "connections": ok, "failed": failed, "seconds": round(elapsed, 3)}


def h2_keepalive(hosts, name, port, duration, connections):
    url = f"https://{name}:{port}/ping"
    seconds, ok, bad, _ = h2load(hosts, url, ["-t", "2", "-c", str(connections), "-m", "10",
                                              "-D", str(duration)], duration + 60)
    return {"value": ok / seconds if seconds else 0.0, "requests": ok, "failed": bad}


def h1_keepalive(hosts, name, port, duration, connections):
    url = f"https://{name}:{port}/ping"
    out = subprocess.run(with_private_hosts(hosts, ["wrk", "-t2", f"-c{connections}", f"-d{duration}s",
                                                    "-H", f"Host: {name}", url]),
                         capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    if not m:
        raise RuntimeError(f"wrk output not understood:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out.stdout)
    errors = re.search(r"Socket errors: (.*)", out.stdout)
    return {"value": float(m.group(1)), "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else None}


class Pebble:
    """pebble + pebble-challtestsrv (fake DNS: every name is 127.0.0.1) on free loopback ports;
    pebble validates TLS-ALPN-01 on `tls_port`, HTTP-01 on an unused port."""

    def __init__(self, workdir, pki, tls_port):
        d = os.path.join(workdir, f"pebble-{tls_port}")
        os.makedirs(d)
        listen, self.management, dns, dns_mgmt, http = (free_port() for _ in range(5))
        conf = os.path.join(d, "pebble.json")
        with open(conf, "w") as f:
            json.dump({"pebble": {
                "listenAddress": f"127.0.0.1:{listen}", "managementListenAddress": f"127.0.0.1:{self.management}",
                "certificate": pki["api_cert"], "privateKey": pki["api_key"], "httpPort": http,
                "tlsPort": tls_port, "ocspResponderURL": "", "externalAccountBindingRequired": False}}, f)
        self.ca = pki["ca"]
        self.dns = spawn(["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns}", "-http01", "", "-https01", "",
                          "-tlsalpn01", "", "-management", f"127.0.0.1:{dns_mgmt}",
                          "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], os.path.join(d, "challtestsrv.log"))
        self.log = os.path.join(d, "pebble.log")
        self.proc = spawn(["pebble", "-config", conf, "-dnsserver", f"127.0.0.1:{dns}", "-strict=false"],
                          self.log, env=dict(os.environ, PEBBLE_VA_NOSLEEP="1"))
        self.directory = f"https://127.0.0.1:{listen}/dir"
        self.root = os.path.join(d, "issuing-root.pem")
        ctx = ssl.create_default_context(cafile=self.ca)
        deadline = time.monotonic() + 30
        while True:  # bounded: 30 s
            try:
                with urllib.request.urlopen(self.directory, context=ctx, timeout=2):
                    pass
                with urllib.request.urlopen(f"https://127.0.0.1:{self.management}/roots/0",
                                            context=ctx, timeout=2) as r, open(self.root, "wb") as f:
                    f.write(r.read())
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"pebble did not start in 30 s\n{tail(self.log)}")
                time.sleep(0.1)

    def stop(self):
        stop(self.proc)
        stop(self.dns)


def time_to_first_acme_response(server, binary, workdir, pki, name, timeout):
    """Seconds from spawning `server` to its first HTTPS 200 with a pebble-issued certificate."""
    port = free_port()
    pebble = Pebble(workdir, pki, port)
    try:
        started = time.monotonic()
        if server == "scim-bridge":
            proc, log = start_bridge(binary, workdir, port, {
                "OP_TLS_DOMAIN": name, "OP_ACME_DIRECTORY_URL": pebble.directory, "OP_ACME_CA_ROOTS": pki["ca"]})
        else:
            proc, log = start_caddy(workdir, "Caddyfile.acme", port, NAME=name, ACME_DIR=pebble.directory,
                                    ACME_CA_ROOTS=pki["ca"])
        waited, version, cipher = wait_https(proc, port, name, pebble.root, timeout, log)
        total = time.monotonic() - started
        print(f"{server:12s} first HTTPS response with a pebble certificate after {total:.2f} s "
              f"({version} {cipher})", flush=True)
        stop(proc)
        return {"value": total}
    finally:
        pebble.stop()


# ---------------------------------------------------------------------------------------------
# Step 5: report

METRICS = [
    ("handshakes", "new full TLS handshakes/s (h2load bursts, 1 request per new connection)", "{:.0f}", True),
    ("handshakes13", "new full TLS handshakes/s (Python ssl processes, 1 request per new connection)", "{:.0f}", True),
    ("h1", "keep-alive HTTPS/1.1 requests/s (wrk)", "{:.0f}", True),
    ("h2", "keep-alive HTTPS/2 requests/s (h2load, -m 10)", "{:.0f}", True),
    ("acme", "start → first HTTPS response with a pebble certificate (s, lower is better)", "{:.2f}", False),
]


def table(results):
    lines = ["| metric | scim-bridge | caddy | nginx | bridge/caddy | bridge/nginx |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for key, label, fmt, _ in METRICS:
        row = results.get(key, {})
        vals = {s: row.get(s, {}).get("value") for s in SERVERS}
        cells = [fmt.format(vals[s]) if vals[s] is not None else "—" for s in SERVERS]
        ratios = []
        for other in ("caddy", "nginx"):
            b, o = vals["scim-bridge"], vals[other]
            ratios.append(f"{b / o:.2f}" if b is not None and o else "—")
        lines.append(f"| {label} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement (1..60)")
    ap.add_argument("--connections", type=int, default=64, help="keep-alive connections (wrk, h2load)")
    ap.add_argument("--handshake-clients", type=int, default=64, help="concurrent new connections per h2load burst")
    ap.add_argument("--py-clients", type=int, default=4, help="Python processes for the TLS 1.3 handshake row")
    ap.add_argument("--acme-timeout", type=int, default=120, help="bound on each ACME wait, seconds")
    ap.add_argument("--name", default="scim.bench.test", help="the certificate's DNS name (SNI)")
    ap.add_argument("--bridge-binary", help="use this scim-bridge binary instead of building one")
    ap.add_argument("--skip-acme", action="store_true", help="skip the pebble measurement")
    ap.add_argument("--skip-static", action="store_true", help="only the pebble measurement")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    if not 1 <= args.duration <= 60 or not 1 <= args.acme_timeout <= 300 \
            or not 1 <= args.connections <= 1000 or not 1 <= args.handshake_clients <= 1000 \
            or not 1 <= args.py_clients <= 32:
        raise SystemExit("refusing an unbounded run: --duration 1..60, --acme-timeout 1..300, "
                         "--connections and --handshake-clients 1..1000, --py-clients 1..32")
    if os.geteuid() != 0:
        raise SystemExit("run as root: unshare --mount for the private hosts file, nginx as root")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ensure_tools()
    binary = args.bridge_binary or build_bridge()
    results = {key: {} for key, *_ in METRICS}
    tls_params = {}
    with tempfile.TemporaryDirectory(prefix="scim-tlsbench-") as workdir:
        try:
            pki = make_pki(workdir, args.name)
            servers = {} if args.skip_static else start_static_servers(binary, workdir, pki, args.name)
            for server, (_, port, params) in servers.items():
                tls_params[server] = params
            for key, run in (("handshakes", lambda p: handshakes_per_second(pki["hosts"], args.name, p, args.duration, args.handshake_clients)),
                             ("handshakes13", lambda p: tls13_handshakes_per_second(args.name, p, pki["ca"], args.duration, args.py_clients)),
                             ("h1", lambda p: h1_keepalive(pki["hosts"], args.name, p, args.duration, args.connections)),
                             ("h2", lambda p: h2_keepalive(pki["hosts"], args.name, p, args.duration, args.connections))):
                for server in servers:
                    time.sleep(1)
                    r = run(servers[server][1])
                    results[key][server] = r
                    print(f"{key:10s} {server:12s} {r['value']:10.0f}  {json.dumps({k: v for k, v in r.items() if k != 'value'})}", flush=True)
            for proc, _, _ in servers.values():
                stop(proc)
            if not args.skip_acme:
                for server in ("scim-bridge", "caddy"):
                    try:
                        results["acme"][server] = time_to_first_acme_response(
                            server, binary, workdir, pki, args.name, args.acme_timeout)
                    except (SystemExit, RuntimeError, OSError) as e:
                        print(f"acme {server}: FAILED: {e}", file=sys.stderr, flush=True)
        finally:
            stop_all()
    print()
    print(f"TLS benchmark on 127.0.0.1, {os.cpu_count()} CPUs shared by clients and servers; "
          f"{args.duration} s per measurement, {args.connections} keep-alive connections, "
          f"handshake bursts of {args.handshake_clients}, SNI {args.name}, same P-256 certificate\n")
    print(table(results))
    print("\nnegotiated by the Python client: " + "; ".join(f"{s} {p}" for s, p in tls_params.items()))
    h2tls = {s: r.get("tls") for s, r in results["handshakes"].items()}
    if h2tls:
        print("negotiated by h2load: " + "; ".join(f"{s} {p}" for s, p in h2tls.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "tls": tls_params, "results": results}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
