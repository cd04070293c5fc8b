#!/usr/bin/env python3
"""A small webhook receiver for scim-bridge: verifies each delivery's Standard Webhooks
signature with the `standardwebhooks` library (pip install standardwebhooks) and prints the
event, one line each. A delivery that fails verification gets 400 and is not printed.

    WEBHOOK_SECRET=whsec_... python3 examples/webhook_receiver.py --port 8081
    OP_WEBHOOK_URL=http://127.0.0.1:8081/ OP_WEBHOOK_SECRET=whsec_... scim-bridge

With --jsonl FILE each verified event is also appended to FILE as one JSON line (the tests
read it). It listens on 127.0.0.1 only. Receivers must ignore fields they do not know, and
may see an event twice (delivery is at least once): `id` is the same on every redelivery.
"""

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"))
    parser.add_argument("--jsonl", help="also append each verified event to this file")
    args = parser.parse_args()
    if not args.secret:
        sys.exit("set WEBHOOK_SECRET (or --secret) to the endpoint's whsec_ secret")
    webhook = Webhook(args.secret)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = webhook.verify(body, headers)
            except WebhookVerificationError as e:
                print(f"refused a delivery: {e}", file=sys.stderr, flush=True)
                self.answer(400)
                return
            with lock:
                resource = event.get("resource", {})
                print(
                    f'{event.get("seq")} {event.get("type")} '
                    f'{resource.get("type")} {resource.get("id")}',
                    flush=True,
                )
                if args.jsonl:
                    with open(args.jsonl, "a", encoding="utf-8") as f:
                        f.write(json.dumps({"webhook-id": headers.get("webhook-id"), "event": event}) + "\n")
            self.answer(204)

        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"listening on 127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
