"""Client ID Metadata Documents for scripts/oauth/agents.py, on a loopback port it picks itself:

  /client.json    a valid document whose client_id is its own URL (a public client, redirect http://127.0.0.1/cb)
  /mismatch.json  client_id names another URL
  /big.json       over 5 KiB
  /redirect.json  302 to /client.json (must not be followed)
  /secret.json    carries a client_secret

Prints "cimd: listening on http://127.0.0.1:PORT" on stderr; every request is appended to $CIMD_LOG.
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = os.environ.get("CIMD_LOG", "/dev/null")


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(LOG, "a") as f:
            f.write(self.path + "\n")
        base = f"http://127.0.0.1:{self.server.server_address[1]}"
        doc = {"client_id": base + self.path, "client_name": "CIMD test client", "redirect_uris": ["http://127.0.0.1/cb"],
               "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "token_endpoint_auth_method": "none"}
        if self.path == "/redirect.json":
            self.send_response(302)
            self.send_header("Location", base + "/client.json")
            self.end_headers()
            return
        if self.path == "/mismatch.json":
            doc["client_id"] = base + "/client.json"
        elif self.path == "/big.json":
            doc["client_name"] = "x" * 200
            doc["padding"] = "y" * 6000
        elif self.path == "/secret.json":
            doc["client_secret"] = "s3cret"
        elif self.path != "/client.json":
            self.send_response(404)
            self.end_headers()
            return
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"cimd: listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
server.serve_forever()
