"""A straightforward Python decision endpoint, for scripts/compare-peers only (not part of Tessera).

It does what the seed's design describes, the way a Python team would write it first:
ThreadingHTTPServer, JSON bodies, the mission's tool list and resource globs checked, a budget,
an Ed25519-signed receipt (compact JWS, EdDSA) hash-chained to the previous one, and the session
update plus the receipt written to SQLite (WAL, synchronous=FULL) in one transaction per decision.

  POST /session/start  {"allowed_tools": [...], "resource_scope": [...], "max_tool_calls": N}
                       → {"session_id": "..."}
  POST /evaluate       {"session_id", "tool_name", "arguments"} → {"decision", "reason", "receipt_id"}

Usage: python evaluate_server.py DB_PATH  (prints "listening on http://127.0.0.1:PORT" on stderr)
"""

import base64
import fnmatch
import hashlib
import json
import sqlite3
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

KEY = Ed25519PrivateKey.generate()
LOCK = threading.Lock()  # SQLite has one writer; the budget and the chain need the session serialised.


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(claims: dict) -> str:
    header = b64(json.dumps({"alg": "EdDSA", "typ": "receipt+jwt", "kid": "k1"}, separators=(",", ":")).encode())
    payload = b64(json.dumps(claims, separators=(",", ":"), sort_keys=True).encode())
    signing_input = f"{header}.{payload}".encode()
    return f"{header}.{payload}.{b64(KEY.sign(signing_input))}"


def open_db(path):
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS receipts (session_id TEXT, seq INTEGER, jwt TEXT, hash TEXT, PRIMARY KEY (session_id, seq))")
    return db


def decide(state, tool, arguments):
    if tool not in state["allowed_tools"]:
        return "DENY", f"tool {tool} is not allowed"
    path = arguments.get("path") if isinstance(arguments, dict) else None
    if path is not None and not any(fnmatch.fnmatchcase(path, g.replace("**", "*")) for g in state["resource_scope"]):
        return "DENY", f"path {path} is outside the resource scope"
    if state["used"] >= state["max_tool_calls"]:
        return "DENY", "budget exhausted"
    return "PERMIT", "allowed"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    db = None

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        if length > 65536:
            return self.reply(413, {"error": "too_large"})
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return self.reply(400, {"error": "invalid_json"})
        if self.path == "/session/start":
            session_id = "ses_" + uuid.uuid4().hex
            state = {"allowed_tools": body["allowed_tools"], "resource_scope": body.get("resource_scope", ["/**"]),
                     "max_tool_calls": body.get("max_tool_calls", 10**9), "used": 0, "seq": 0, "prev": "0" * 64}
            with LOCK:
                self.db.execute("INSERT INTO sessions VALUES (?, ?)", (session_id, json.dumps(state)))
            return self.reply(200, {"session_id": session_id})
        if self.path != "/evaluate":
            return self.reply(404, {"error": "not_found"})
        with LOCK:
            row = self.db.execute("SELECT state FROM sessions WHERE id = ?", (body.get("session_id"),)).fetchone()
            if row is None:
                return self.reply(404, {"error": "unknown_session"})
            state = json.loads(row[0])
            decision, reason = decide(state, body.get("tool_name"), body.get("arguments", {}))
            if decision == "PERMIT":
                state["used"] += 1
            state["seq"] += 1
            receipt_id = str(uuid.uuid4())
            jws = sign({"jti": receipt_id, "session_id": body["session_id"], "seq": state["seq"], "tool": body.get("tool_name"),
                        "decision": decision, "reason": reason, "prev": state["prev"], "iat": int(time.time()),
                        "args_sha256": hashlib.sha256(json.dumps(body.get("arguments", {}), sort_keys=True).encode()).hexdigest()})
            digest = hashlib.sha256(jws.encode()).hexdigest()
            state["prev"] = digest
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE sessions SET state = ? WHERE id = ?", (json.dumps(state), body["session_id"]))
            self.db.execute("INSERT INTO receipts VALUES (?, ?, ?, ?)", (body["session_id"], state["seq"], jws, digest))
            self.db.execute("COMMIT")
        return self.reply(200, {"decision": decision, "reason": reason, "receipt_id": receipt_id})


if __name__ == "__main__":
    Handler.db = open_db(sys.argv[1])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
    server.serve_forever()
