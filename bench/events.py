#!/usr/bin/env python3
"""The event log and webhook delivery under an initial sync (issue 12).

Starts a release build on loopback with one webhook endpoint pointing at a minimal receiver in
this process (asyncio, HTTP/1.1 keep-alive, answers 204 without verifying, so the bridge is
what is measured), then creates USERS users through Bulk requests of 1,000 operations (each
create writes one event), and reports: the write rate, how long after the last write the last
event reached the receiver, the delivery rate, the store's growth per 100,000 events (the data
directory on the embedded store; Redis `used_memory` with STORE=redis), and the bridge's RSS.
GROUP=N then puts the first N users in one group through PATCHes of 1,000 members (as an
identity provider pushes a group; each makes one `group.members.added` event of 1,000 ids) and
deletes it again (one batch that drops N memberships), and the report adds the peak RSS
(VmHWM) over the whole run. BIN=path measures another build (with NOHOOK=1, one from before
the event log: the same run without events). Bounded: USERS / 1000 + GROUP / 1000 + 1
requests, each with a time limit, and a 300 s limit on delivery.

Run: python3 bench/events.py            (USERS=100000 STORE=embedded|redis BACKLOG=0|1 GROUP=0)
"""
import asyncio, json, os, shutil, socket, subprocess, sys, tempfile, threading, time
import concurrent.futures, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from load import Bridge, free_port  # noqa: E402

USERS = int(os.environ.get("USERS", 100_000))
STORE = os.environ.get("STORE", "embedded")
# BACKLOG=1: the receiver starts listening only after the last write, so the whole sync is
# delivered as one backlog (the delivery rate alone); otherwise delivery runs beside the writes.
BACKLOG = os.environ.get("BACKLOG") == "1"
GROUP = int(os.environ.get("GROUP", 0))
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Receiver:
    """Counts deliveries; records when the first and the last arrived."""

    def __init__(self):
        self.count, self.first, self.last, self.max_seq = 0, None, None, 0
        self.port = free_port()
        self.ready = threading.Event()

    def start(self):
        threading.Thread(target=lambda: asyncio.run(self.serve()), daemon=True).start()
        self.ready.wait(10)

    async def handle(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length)
                now = time.time()
                self.first = self.first or now
                self.last = now
                self.count += 1
                seq = int(body[7:body.index(b",")])  # {"seq":N,...
                self.max_seq = max(self.max_seq, seq)
                writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve(self):
        server = await asyncio.start_server(self.handle, "127.0.0.1", self.port)
        self.ready.set()
        async with server:
            await server.serve_forever()


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def redis_used(port):
    out = subprocess.run(["redis-cli", "-p", str(port), "info", "memory"], capture_output=True, text=True).stdout
    return int(next(l.split(":")[1] for l in out.splitlines() if l.startswith("used_memory:")))


def main():
    work = tempfile.mkdtemp(prefix="scim-events-")
    receiver = Receiver()
    env = {"OP_WEBHOOK_URL": f"http://127.0.0.1:{receiver.port}/hook", "OP_WEBHOOK_SECRET": SECRET,
           "OP_WEBHOOK_BACKOFF": "50ms", "OP_WEBHOOK_BACKOFF_MAX": "100ms", "OP_WEBHOOK_MAX_ATTEMPTS": "1000000"}
    # Any OP_* setting given passes to the bridge (OP_EVENTS_MAX=1 measures the store without
    # the log, for the log's share of it).
    env.update({k: v for k, v in os.environ.items() if k.startswith("OP_")})
    if os.environ.get("NOHOOK") == "1":
        # No endpoint: the store's growth without dead letters (with OP_EVENTS_MAX=1, the
        # store without the log).
        for k in ("OP_WEBHOOK_URL", "OP_WEBHOOK_SECRET"):
            env.pop(k)
    if not BACKLOG:
        receiver.start()
    redis = None
    if STORE == "redis":
        rport = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "yes", "--appendfsync", "always", "--dir", work],
                                 stdout=subprocess.DEVNULL)
        time.sleep(0.5)
        env["OP_REDIS_URL"] = f"redis://127.0.0.1:{rport}"
    bridge = Bridge(work, env, os.environ.get("BIN"))
    try:
        before = redis_used(rport) if redis else dir_bytes(os.path.join(work, "data"))

        def bulk(start):
            ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}",
                    "data": {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                             "userName": f"sync{i:07d}@example.com",
                             "name": {"givenName": "Sync", "familyName": f"User{i}"},
                             "emails": [{"value": f"sync{i:07d}@example.com", "type": "work", "primary": True}],
                             "active": True}}
                   for i in range(start, min(start + 1000, USERS))]
            status, doc = bridge.call("POST", "/Bulk", {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}, timeout=300)
            assert status == 200, status
            bad = [o for o in doc["Operations"] if o["status"] != "201"]
            assert not bad, bad[:3]
            return [o["location"].rsplit("/", 1)[1] for o in doc["Operations"]]

        started = time.time()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            ids = [i for part in pool.map(bulk, range(0, USERS, 1000)) for i in part]
        expected = USERS
        group = {}
        if GROUP:
            members = ids[:GROUP]
            g_started = time.time()
            status, doc = bridge.call("POST", "/Groups", {"displayName": "Everyone", "members": []})
            assert status == 201, status
            for at in range(0, len(members), 1000):
                part = [{"value": m} for m in members[at:at + 1000]]
                status, _ = bridge.call("PATCH", f"/Groups/{doc['id']}", {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": part}]}, timeout=120)
                assert status in (200, 204), status
            filled = time.time()
            group["fill_s"] = round(filled - g_started, 1)
            group["rss_filled_mb"] = round(bridge.rss_mb(), 1)
            status, _ = bridge.call("DELETE", f"/Groups/{doc['id']}", timeout=300)
            assert status == 204, status
            group["delete_s"] = round(time.time() - filled, 2)
            expected += 1 + (GROUP + 999) // 1000 + 1
        written = time.time()
        if BACKLOG:
            receiver.start()
        deadline = written + 300
        while "OP_WEBHOOK_URL" in env and receiver.max_seq < expected and time.time() < deadline:
            time.sleep(0.05)
        after = redis_used(rport) if redis else dir_bytes(os.path.join(work, "data"))
        per_100k = (after - before) * 100_000 / USERS / 1e6
        print(json.dumps({
            "store": STORE, "users": USERS, "backlog": BACKLOG,
            "events_max": os.environ.get("OP_EVENTS_MAX", "default"),
            "writes_per_s": round(USERS / (written - started)),
            "delivered": receiver.count, "max_seq": receiver.max_seq,
            "delivered_after_last_write_s": round((receiver.last or written) - written, 2),
            "delivery_events_per_s": round(receiver.count / (((receiver.last or 0) - (receiver.first or 0)) or 1)),
            "store_mb_per_100k_users_with_events": round(per_100k, 1),
            "rss_mb": round(bridge.rss_mb(), 1),
            "peak_rss_mb": round(bridge.peak_rss_mb(), 1),
            **({"group": GROUP, **group} if GROUP else {}),
        }))
    finally:
        bridge.stop()
        if redis:
            redis.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
