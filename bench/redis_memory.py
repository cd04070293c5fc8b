#!/usr/bin/env python3
"""Redis memory by key family, on loopback only.

Starts the release bridge on its own redis-server (bench/load.py's `Redis` and `Bridge`), seeds
it as load.py does (users through Bulk, one big group and one of 10), then sums
`MEMORY USAGE` of every key by family of the layout in `src/store/redis/keys.rs`
(`r/<space>` records, `ri/<space>` listing index, `u/<index>` unique terms, `s/<set>` sets,
`q` the event stream) in one script (it blocks that Redis for a few seconds; bounded by the
key count).

    python3 bench/redis_memory.py --users 100000 --members 50000 --events-data ids
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import load  # noqa: E402
LUA = r"""
local fam = {}
local cursor = '0'
repeat
  local r = redis.call('SCAN', cursor, 'COUNT', 1000)
  cursor = r[1]
  for _, k in ipairs(r[2]) do
    local f = string.match(k, '^scim%-bridge:(%a+):') or string.match(k, '^scim%-bridge:(%a+)') or k
    if f == 'r' or f == 's' or f == 'u' or f == 'ri' then
      local space = string.match(k, '^scim%-bridge:%a+:%d*:?([%a%.]+)')
      if space then f = f .. '/' .. space end
    end
    fam[f] = (fam[f] or 0) + (redis.call('MEMORY', 'USAGE', k, 'SAMPLES', 0) or 0)
    fam[f .. '/#'] = (fam[f .. '/#'] or 0) + 1
  end
until cursor == '0'
local out = {}
for k, v in pairs(fam) do out[#out + 1] = k .. '=' .. v end
return out
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--members", type=int, default=50_000)
    ap.add_argument("--events-data", choices=["full", "ids"], default="full")
    ap.add_argument("--binary", help="the bridge binary (default: build target/release)")
    args = ap.parse_args()
    if args.users > 1_000_000 or args.members > args.users:
        raise SystemExit("refusing: --users <= 1,000,000 and --members <= --users")
    with tempfile.TemporaryDirectory(prefix="scim-redis-memory-") as w:
        report(args, w)


def report(args, w):
    mode = args.events_data
    b = load.Bridge(w, {"OP_EVENTS_DATA": mode}, args.binary, True)
    try:
        load.prepare(b, args, w)
        port = str(b.redis.port)
        out = subprocess.run(["redis-cli", "-p", port, "eval", LUA, "0"], capture_output=True, text=True,
                             check=True, timeout=300).stdout
        rows = dict(line.rsplit("=", 1) for line in out.splitlines() if "=" in line)
        used = int(b.redis.info("memory")["used_memory"])
        print(f"OP_EVENTS_DATA={mode}: used_memory {used / 2**20:.1f} MiB")
        print("| key family | MiB | keys |")
        print("| --- | ---: | ---: |")
        for k in sorted(k for k in rows if not k.endswith("/#")):
            print(f"| {k} | {int(rows[k]) / 2**20:.1f} | {rows.get(k + '/#', '?')} |")
    finally:
        b.stop()


if __name__ == "__main__":
    main()
