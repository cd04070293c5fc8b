#!/usr/bin/env python3
"""What the status page's directory browser costs on a large directory, on loopback only.

Starts the release binary (embedded store, or Redis with --redis), seeds N users and a group of
M members as bench/load.py does, then asks each request the page makes `--repeat` times in a
row (bounded) and prints the median and the slowest time of each:

    python3 bench/directory.py --users 100000 --members 50000

* a search as the page sends it (`userName co … or emails.value co … or externalId eq … or
  displayName co …`, a page of 20): a scan of every user, since only `eq` has an index;
* the same for a text nothing matches (the whole scan, no page to render);
* `userName eq` (an index lookup), for comparison;
* a group's members, first page and one 40,000 ids in (`/groups/{id}/members?count=50`);
* a user, and her history (`/events?resource=User/{id}`).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402  (the bench's Bridge and seeding)


def timed(bridge, path, repeat):
    """(median ms, max ms, last body bytes) of `repeat` GETs of `path`."""
    times = []
    body = b""
    for _ in range(repeat):
        req = urllib.request.Request(f"{bridge.base}{path}", headers={
            "Authorization": f"Bearer {bridge.token}", "Accept": "application/scim+json"})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            body = r.read()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times), len(body)


def search(text):
    v = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    f = f"userName co {v} or emails.value co {v} or externalId eq {v} or displayName co {v}"
    return ("/scim/v2/Users?startIndex=1&count=20&attributes=userName,displayName,active,externalId,emails"
            f"&filter={urllib.parse.quote(f)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--members", type=int, default=50_000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--binary")
    ap.add_argument("--redis", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="scim-bridge-directory-") as workdir:
        bridge = load.Bridge(workdir, {}, args.binary, args.redis)
        try:
            users, big, _small, _spare = load.seed(bridge, args.users, args.members)
            _, page = bridge.call("GET", f"/Groups/{big}?excludedAttributes=members")
            deep = sorted(users[:args.members])[min(40_000, args.members - 1)]
            target = users[len(users) // 2]
            name = load.user_name(len(users) // 2)
            rows = [
                ("search, a page of 20 (scan)", search("user1234")),
                ("search, no match (scan)", search("nobody-here")),
                ("userName eq (index)", "/scim/v2/Users?filter=" + urllib.parse.quote(f'userName eq "{name}"')),
                ("group members, first 50", f"/groups/{big}/members?count=50"),
                ("group members, 50 after 40,000", f"/groups/{big}/members?count=50&after={deep}"),
                ("a user", f"/scim/v2/Users/{target}"),
                ("a user's history", f"/events?resource=User/{target}&limit=500"),
            ]
            store = "Redis" if args.redis else "embedded"
            print(f"{args.users} users, a {args.members}-member group ({page['displayName']}), {store} store, "
                  f"{args.repeat} requests each, sequential")
            print(f"{'request':36} {'median ms':>10} {'max ms':>10} {'bytes':>9}")
            for label, path in rows:
                med, worst, size = timed(bridge, path, args.repeat)
                print(f"{label:36} {med:10.1f} {worst:10.1f} {size:9}", flush=True)
            print(f"resident memory {bridge.rss_mb():.0f} MB, peak {bridge.peak_rss_mb():.0f} MB")
        finally:
            bridge.stop()


if __name__ == "__main__":
    main()
