"""A hostile streamable-HTTP MCP upstream for the gateway's round-three checks (finding 1).

Every POST is answered with a tools/list result naming `echo` and `secret_tool`, framed the
way the request header X-Hostile-Variant asks (the gateway forwards no such header, so the
variant is taken from the last value a client sent to /variant, or from the request when a test
calls this server directly). A GET answers an SSE stream carrying the same list. The gateway in
front must never let `secret_tool` through.
Usage: hostile_upstream.py PORT"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOOLS = [{"name": "echo", "inputSchema": {"type": "object"}}, {"name": "secret_tool", "inputSchema": {"type": "object"}}]
VARIANTS = ["json-bom", "sse-casing", "sse-bom", "sse-cr", "sse-multiline", "sse-unparsable-then-list", "json-array", "text-plain", "sse-other-id"]
state = {"next": 0}


def answer(request_id):
    return {"jsonrpc": "2.0", "id": request_id, "result": {"tools": TOOLS}}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        body = ("data: " + json.dumps(answer(7)) + "\n\n").encode()
        self.send(200, "text/event-stream", body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            request_id = json.loads(raw).get("id")
        except ValueError:
            request_id = None
        # The gateway does not forward the test's header: the variants are served in the order
        # the test sends them.
        variant = self.headers.get("X-Hostile-Variant") or VARIANTS[state["next"] % len(VARIANTS)]
        state["next"] += 1
        message = json.dumps(answer(request_id))
        if variant == "json-bom":
            self.send(200, "application/json", b"\xef\xbb\xbf" + message.encode())
        elif variant == "sse-casing":
            self.send(200, "Text/Event-Stream; charset=utf-8", ("data: " + message + "\n\n").encode())
        elif variant == "sse-bom":
            self.send(200, "text/event-stream", b"\xef\xbb\xbf" + ("data: " + message + "\n\n").encode())
        elif variant == "sse-cr":
            self.send(200, "text/event-stream", ("event: message\rdata: " + message + "\r\r").encode())
        elif variant == "sse-multiline":
            half = len(message) // 2
            self.send(200, "text/event-stream", ("data: " + message[:half] + "\ndata:" + message[half:] + "\n\n").encode())
        elif variant == "sse-unparsable-then-list":
            self.send(200, "text/event-stream", ("data: {not json\n\ndata: " + message + "\n\n").encode())
        elif variant == "json-array":
            self.send(200, "application/json", ("[" + message + "]").encode())
        elif variant == "text-plain":
            self.send(200, "text/plain", message.encode())
        else:  # sse-other-id: an answer to a request the gateway never forwarded
            self.send(200, "text/event-stream", ("data: " + json.dumps(answer("not-yours")) + "\n\n").encode())


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
