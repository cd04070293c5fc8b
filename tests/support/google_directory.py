#!/usr/bin/env python3
"""A loopback stand-in of Google's OAuth 2.0 token endpoint and the Admin SDK Directory API's
list endpoints, written from Google's public reference, for the bridge's Workspace tests.

* POST /token: the JWT-bearer grant (RFC 7523) as Google documents it for service accounts.
  The assertion's RS256 signature is verified with PyJWT against the registered public key;
  `iss` must be the service account, `aud` this endpoint's URL, `exp - iat` at most an hour
  and `iat` near now, `sub` a known administrator, and every `scope` granted to the account
  (domain-wide delegation). Refusals are Google's: 400 `invalid_grant` ("Invalid JWT
  Signature.", …), 401 `unauthorized_client`, 400 `unsupported_grant_type`.
* GET /admin/directory/v1/users?customer=my_customer, /groups?customer=my_customer and
  /groups/{groupKey}/members: Bearer access tokens, `maxResults` (at most 500 users, 200 groups
  or members), opaque `pageToken`/`nextPageToken`, Google's error bodies
  (`{"error": {"code", "message", "errors": [{"reason", "domain", "message"}], "status"}}`).
* /_control/*: the test's levers (not Google's): replace or generate the directory, make the
  next N matching calls fail with a status and reason, expire every access token, delay
  answers, and read counts.

    python3 tests/support/google_directory.py --port 0 --client-email sync@p.iam.gserviceaccount.com \\
        --public-key tests/fixtures/workspace/test-key.pub.pem --admin admin@example.com

It prints `listening on http://127.0.0.1:PORT` once ready. Loopback only.
"""

import argparse
import base64
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # PyJWT, with the cryptography package for RS256

SCOPES = {
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
}
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


class State:
    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        with open(args.public_key, "rb") as f:
            self.public_key = f.read()
        self.tokens = {}  # token -> expiry (unix seconds)
        self.users = []  # Google user resources, by primaryEmail
        self.groups = []  # {"id", "email", "name", "description", "members": [{"id", "email", "type"}]}
        self.failures = []  # {"path": prefix, "status", "reason", "times"}
        self.delay = {"path": None, "seconds": 0.0}
        self.counts = {}
        self.token_lifetime = 3599

    def count(self, what):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + 1


def google_error(code, reason, message, status):
    return {"error": {"code": code, "message": message,
                      "errors": [{"message": message, "domain": "global", "reason": reason}],
                      "status": status}}


def page_token(offset):
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def offset_of(token):
    if not token:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        return int(json.loads(base64.urlsafe_b64decode(padded))["o"])
    except Exception:
        return None


def generate(spec):
    """`{"users": N, "groups": [{"email", "name", "members": M, "nested": [emails]}], "domain"}`:
    N users user00000@domain…, each group's first M of them, optional nested groups."""
    domain = spec.get("domain", "example.com")
    users = []
    for i in range(spec.get("users", 0)):
        users.append({
            "kind": "admin#directory#user", "id": str(100000000 + i),
            "primaryEmail": f"user{i:06d}@{domain}",
            "name": {"givenName": "User", "familyName": f"{i:06d}", "fullName": f"User {i:06d}"},
            "isAdmin": False, "suspended": False, "archived": False, "orgUnitPath": "/",
            "emails": [{"address": f"user{i:06d}@{domain}", "primary": True}],
            "organizations": [{"title": "Engineer", "department": "R&D", "primary": True}],
        })
    groups = []
    for j, g in enumerate(spec.get("groups", [])):
        members = [{"id": u["id"], "email": u["primaryEmail"], "type": "USER", "role": "MEMBER",
                    "status": "ACTIVE"} for u in users[g.get("offset", 0):g.get("offset", 0) + g.get("members", 0)]]
        groups.append({"id": str(900000 + j), "email": g["email"], "name": g.get("name", g["email"]),
                       "description": "", "members": members, "nested": g.get("nested", [])})
    by_email = {g["email"]: g for g in groups}
    for g in groups:
        for e in g.pop("nested"):
            g["members"].append({"id": by_email[e]["id"], "email": e, "type": "GROUP", "role": "MEMBER"})
    return users, groups


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *a):  # quiet: the tests read answers, not logs
            pass

        def reply(self, status, body):
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def body(self):
            n = int(self.headers.get("Content-Length", "0") or 0)
            return self.rfile.read(n) if n else b""

        # ---- the token endpoint
        def token(self):
            state.count("token")
            form = urllib.parse.parse_qs(self.body().decode(), keep_blank_values=True)
            grant = (form.get("grant_type") or [""])[0]
            if grant != GRANT:
                return self.reply(400, {"error": "unsupported_grant_type",
                                        "error_description": f"Invalid grant_type: {grant}"})
            assertion = (form.get("assertion") or [""])[0]
            audience = f"http://127.0.0.1:{self.server.server_port}/token"
            try:
                header = jwt.get_unverified_header(assertion)
                if header.get("alg") != "RS256":
                    raise jwt.InvalidAlgorithmError("alg")
                claims = jwt.decode(assertion, state.public_key, algorithms=["RS256"], audience=audience,
                                    issuer=state.args.client_email,
                                    options={"require": ["exp", "iat", "iss", "aud"]}, leeway=0)
            except jwt.InvalidSignatureError:
                state.count("token_refused")
                return self.reply(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
            except (jwt.InvalidAudienceError, jwt.InvalidIssuerError):
                state.count("token_refused")
                return self.reply(400, {"error": "invalid_grant",
                                        "error_description": "Invalid JWT: Failed audience check or issuer."})
            except jwt.ExpiredSignatureError:
                state.count("token_refused")
                return self.reply(400, {"error": "invalid_grant", "error_description":
                                        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."})
            except jwt.PyJWTError as e:
                state.count("token_refused")
                return self.reply(400, {"error": "invalid_grant", "error_description": f"Invalid JWT: {type(e).__name__}"})
            now = time.time()
            if claims["exp"] - claims["iat"] > 3600 or abs(claims["iat"] - now) > 300:
                state.count("token_refused")
                return self.reply(400, {"error": "invalid_grant", "error_description":
                                        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."})
            scopes = set(str(claims.get("scope", "")).split())
            if claims.get("sub") not in state.args.admin or not scopes or not scopes <= SCOPES:
                state.count("token_refused")
                return self.reply(401, {"error": "unauthorized_client", "error_description":
                                        "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested."})
            token = "ya29." + secrets.token_urlsafe(32)
            with state.lock:
                state.tokens[token] = now + state.token_lifetime
            state.count("token_granted")
            return self.reply(200, {"access_token": token, "expires_in": state.token_lifetime, "token_type": "Bearer"})

        # ---- the Directory API
        def authorized(self):
            auth = self.headers.get("Authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else ""
            with state.lock:
                expiry = state.tokens.get(token)
            if expiry is None or expiry < time.time():
                self.reply(401, google_error(401, "authError", "Invalid Credentials", "UNAUTHENTICATED"))
                return False
            return True

        def injected(self, path):
            with state.lock:
                for f in state.failures:
                    if path.startswith(f["path"]) and f["times"] > 0:
                        f["times"] -= 1
                        status, reason = f["status"], f["reason"]
                        break
                else:
                    return False
            state.count(f"injected_{status}")
            message = {"rateLimitExceeded": "Rate Limit Exceeded", "backendError": "Backend Error"}.get(reason, reason)
            statuses = {403: "PERMISSION_DENIED", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
            self.reply(status, google_error(status, reason, message, statuses.get(status, "UNKNOWN")))
            return True

        def paged(self, items, key, kind, query, most):
            try:
                per = int((query.get("maxResults") or [str(most)])[0])
            except ValueError:
                return self.reply(400, google_error(400, "invalid", "Invalid value for maxResults", "INVALID_ARGUMENT"))
            if per < 1 or per > most:
                return self.reply(400, google_error(400, "invalid", f"Invalid Input: maxResults must be 1 to {most}", "INVALID_ARGUMENT"))
            start = offset_of((query.get("pageToken") or [""])[0])
            if start is None:
                return self.reply(400, google_error(400, "invalid", "Invalid Input: pageToken", "INVALID_ARGUMENT"))
            chunk = items[start:start + per]
            if key == "members":
                chunk = [dict(m, kind="admin#directory#member") for m in chunk]
            body = {"kind": kind, "etag": '"stand-in"', key: chunk}
            if start + per < len(items):
                body["nextPageToken"] = page_token(start + per)
            return self.reply(200, body)

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            path = url.path
            if path == "/_control/stats":
                with state.lock:
                    return self.reply(200, dict(state.counts))
            if not path.startswith("/admin/directory/v1/"):
                return self.reply(404, google_error(404, "notFound", "Not Found", "NOT_FOUND"))
            state.count("api")
            if not self.authorized():
                state.count("api_unauthorized")
                return
            if self.injected(path):
                return
            with state.lock:
                delay = state.delay["seconds"] if state.delay["path"] and path.startswith(state.delay["path"]) else 0
            if delay:
                time.sleep(delay)
            rest = path[len("/admin/directory/v1/"):]
            with state.lock:  # the lists are replaced, never changed in place: a reference will do
                users = state.users
                groups = state.groups
            if rest == "users":
                state.count("users_page")
                if (query.get("customer") or [""])[0] != "my_customer":
                    return self.reply(400, google_error(400, "badRequest", "Bad Request", "INVALID_ARGUMENT"))
                return self.paged(users, "users", "admin#directory#users", query, 500)
            if rest == "groups":
                state.count("groups_page")
                if (query.get("customer") or [""])[0] != "my_customer":
                    return self.reply(400, google_error(400, "badRequest", "Bad Request", "INVALID_ARGUMENT"))
                shown = [{"kind": "admin#directory#group", "id": g["id"], "email": g["email"], "name": g["name"],
                          "description": g.get("description", ""), "directMembersCount": str(len(g["members"]))}
                         for g in groups]
                return self.paged(shown, "groups", "admin#directory#groups", query, 200)
            parts = rest.split("/")
            if len(parts) == 3 and parts[0] == "groups" and parts[2] == "members":
                state.count("members_page")
                key = urllib.parse.unquote(parts[1])
                group = next((g for g in groups if g["id"] == key or g["email"].lower() == key.lower()), None)
                if group is None:
                    return self.reply(404, google_error(404, "notFound", f"Resource Not Found: {key}", "NOT_FOUND"))
                return self.paged(group["members"], "members", "admin#directory#members", query, 200)
            return self.reply(404, google_error(404, "notFound", "Not Found", "NOT_FOUND"))

        def do_POST(self):
            path = urllib.parse.urlsplit(self.path).path
            if path == "/token":
                return self.token()
            if not path.startswith("/_control/"):
                return self.reply(404, google_error(404, "notFound", "Not Found", "NOT_FOUND"))
            doc = json.loads(self.body() or b"{}")
            what = path[len("/_control/"):]
            with state.lock:
                if what == "directory":
                    state.users = sorted(doc.get("users", []), key=lambda u: u["primaryEmail"])
                    state.groups = doc.get("groups", [])
                elif what == "generate":
                    users, groups = generate(doc)
                    state.users, state.groups = users, groups
                elif what == "fail":
                    state.failures.append({"path": doc["path"], "status": doc["status"],
                                           "reason": doc.get("reason", ""), "times": doc.get("times", 1)})
                elif what == "expire-tokens":
                    state.tokens = {t: 0 for t in state.tokens}
                elif what == "delay":
                    state.delay = {"path": doc.get("path"), "seconds": float(doc.get("seconds", 0))}
                elif what == "token-lifetime":
                    state.token_lifetime = int(doc["seconds"])
                else:
                    return self.reply(404, {"error": f"no control {what}"})
            return self.reply(200, {"ok": True})

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that went away mid-answer (a bridge killed by a test) is not an error here.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--client-email", required=True)
    ap.add_argument("--public-key", required=True, help="the service account's public key (PEM)")
    ap.add_argument("--admin", action="append", required=True, help="an administrator the account may act as")
    args = ap.parse_args()
    server = Server(("127.0.0.1", args.port), make_handler(State(args)))
    print(f"listening on http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
