#!/usr/bin/env python3
"""Poses as Okta making a classic mistake: provisions a few people into a group, then
deactivates them all, with Okta's request shapes (its User-Agent, a PATCH without a path).
Prints one line per request with its status, so the deprovisioning guard's 503s show.

    OP_DEPROVISION_LIMIT=5 scim-bridge serve
    python3 examples/mass_deactivation.py --url http://127.0.0.1:3002 --token "$TOKEN" --users 10

Then open the status page, sign in, search `demo3` and open her history: the deactivation,
by which token and client, `active` old → new, and the quirk the bridge normalised; the
guard card shows what it held. Only standard-library Python; talks to the URL given.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request

AGENT = "Okta SCIM Client 1.0.0"


def call(args, method, path, body=None):
    req = urllib.request.Request(
        args.url.rstrip("/") + "/scim/v2" + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": "Bearer " + args.token, "User-Agent": AGENT,
                 "Content-Type": "application/scim+json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, json.loads(raw) if raw else None, r.headers
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, json.loads(raw) if raw else None, e.headers


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:3002")
    ap.add_argument("--token", required=True)
    ap.add_argument("--users", type=int, default=10)
    ap.add_argument("--prefix", default="demo", help="userNames are PREFIX<n>@example.com")
    args = ap.parse_args()
    ids = []
    for i in range(args.users):
        name = f"{args.prefix}{i}@example.com"
        status, doc, _ = call(args, "GET", "/Users?filter=" + urllib.request.quote(f'userName eq "{name}"'))
        found = (doc or {}).get("Resources") or []
        if found:
            ids.append(found[0]["id"])
            continue
        status, doc, _ = call(args, "POST", "/Users", {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
            "externalId": f"00u{args.prefix}{i}", "active": True,
            "name": {"givenName": args.prefix.title(), "familyName": str(i)},
            "emails": [{"value": name, "primary": True, "type": "work"}]})
        if status != 201:
            sys.exit(f"create {i}: {status} {doc}")
        ids.append(doc["id"])
    print(f"provisioned {len(ids)} users")
    status, doc, _ = call(args, "POST", "/Groups", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": f"{args.prefix.title()} Engineering", "members": [{"value": i} for i in ids]})
    print(f"group: {status}")
    held = 0
    for i, user in enumerate(ids):
        # Okta deactivates with a path-less replace of `active`.
        status, doc, headers = call(args, "PATCH", f"/Users/{user}", {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": False}}]})
        if status == 503:
            held += 1
            print(f"deactivate {i}: 503 (Retry-After {headers.get('Retry-After')}): {(doc or {}).get('detail')}")
        else:
            print(f"deactivate {i}: {status}")
    print(f"{len(ids) - held} deactivated, {held} held by the deprovisioning guard")


if __name__ == "__main__":
    main()
