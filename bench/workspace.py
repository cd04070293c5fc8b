#!/usr/bin/env python3
"""A first Google Workspace sync at scale, on loopback only: the stand-in of Google's
Directory API (tests/support/google_directory.py) generates N users and G groups (every user in
one group, so everyone is in scope), the release bridge syncs them all through its engine, and
this reports how long the first sync took, the rate, and the bridge's resident memory, sampled
every 0.2 s (peak and end), then the second sync (nothing to change).

    python3 bench/workspace.py --users 100000 --groups 10

Bounded: the waits end after --timeout seconds. Needs PyJWT with cryptography (scripts/test
installs it) and cargo (builds the release binary unless --binary is given).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import load  # noqa: E402  (the bench's Bridge)

FIXTURES = os.path.join(ROOT, "tests", "fixtures", "workspace")
CLIENT = "scim-sync@bridge-bench.iam.gserviceaccount.com"
ADMIN = "admin@example.com"


def post(url, doc):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read() or b"null")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=10)
    ap.add_argument("--binary")
    ap.add_argument("--timeout", type=int, default=1800)
    args = ap.parse_args()
    standin = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "tests", "support", "google_directory.py"), "--port", "0",
         "--client-email", CLIENT, "--admin", ADMIN, "--public-key", os.path.join(FIXTURES, "test-key.pub.pem")],
        stdout=subprocess.PIPE, text=True)
    base = standin.stdout.readline().strip().removeprefix("listening on ")
    per = args.users // args.groups
    post(f"{base}/_control/generate", {"users": args.users, "groups": [
        {"email": f"team{g}@example.com", "name": f"Team {g}", "members": per, "offset": g * per}
        for g in range(args.groups)]})
    with tempfile.TemporaryDirectory(prefix="scim-bridge-workspace-") as workdir:
        with open(os.path.join(FIXTURES, "test-key.pem")) as f:
            key = f.read()
        cred = os.path.join(workdir, "workspace-credentials.json")
        with open(cred, "w") as f:
            json.dump({"type": "service_account", "client_email": CLIENT, "private_key_id": "k1",
                       "private_key": key, "token_uri": f"{base}/token"}, f)
        settings = os.path.join(workdir, "workspace-settings.json")
        with open(settings, "w") as f:
            json.dump({"actor": ADMIN, "bridgeAddress": "https://scim.example.com"}, f)
        started = time.time()
        bridge = load.Bridge(workdir, {
            "OP_WORKSPACE_CREDENTIALS": cred, "OP_WORKSPACE_SETTINGS": settings,
            "OP_WORKSPACE_API_URL": base, "OP_WORKSPACE_GROUPS": "*",
            "OP_WORKSPACE_SYNC_INTERVAL": "1h"}, args.binary)
        peak = 0.0

        def last_sync():
            req = urllib.request.Request(f"{bridge.base}/status.json",
                                         headers={"Authorization": f"Bearer {bridge.token}"})
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["workspace"]["lastSync"]

        def wait(pred, what):
            nonlocal peak
            deadline = time.time() + args.timeout
            while time.time() < deadline:
                peak = max(peak, bridge.rss_mb())
                s = last_sync()
                if s and pred(s):
                    return s
                time.sleep(0.2)
            raise SystemExit(f"{what}: no result in {args.timeout} s")

        try:
            cpu0 = (load.cpu_seconds(bridge.proc.pid), load.cpu_seconds(standin.pid))
            first = wait(lambda s: s["state"] in ("ok", "failed"), "the first sync")
            cpu1 = (load.cpu_seconds(bridge.proc.pid), load.cpu_seconds(standin.pid))
            elapsed = first["durationMs"] / 1000
            print(f"first sync: {first['state']}, {first['created']} users created in {elapsed:.1f} s "
                  f"({first['created'] / max(elapsed, 0.001):.0f}/s), {first['groupsSynced']} groups, "
                  f"{first['membersAdded']} memberships; errors {first['errors'][:3]}")
            print(f"CPU seconds in the first sync: bridge {cpu1[0] - cpu0[0]:.1f}, Google stand-in {cpu1[1] - cpu0[1]:.1f}")
            print(f"bridge resident memory: peak {peak:.0f} MB sampled, VmHWM {bridge.peak_rss_mb():.0f} MB, "
                  f"now {bridge.rss_mb():.0f} MB")
            post_sync = urllib.request.Request(f"{bridge.base}/workspace/sync", method="POST",
                                               headers={"Authorization": f"Bearer {bridge.token}"})
            urllib.request.urlopen(post_sync, timeout=60).read()
            second = wait(lambda s: s["startedAt"] != first["startedAt"], "the second sync")
            cpu2 = (load.cpu_seconds(bridge.proc.pid), load.cpu_seconds(standin.pid))
            print(f"second sync: {second['state']}, {second['unchanged']} unchanged, {second['updated']} updated "
                  f"in {second['durationMs'] / 1000:.1f} s (CPU: bridge {cpu2[0] - cpu1[0]:.1f} s, stand-in "
                  f"{cpu2[1] - cpu1[1]:.1f} s); peak {bridge.peak_rss_mb():.0f} MB")
            print(f"wall time from start: {time.time() - started:.1f} s")
        finally:
            bridge.stop()
            standin.kill()


if __name__ == "__main__":
    main()
