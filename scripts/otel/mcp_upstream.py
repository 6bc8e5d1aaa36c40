"""The MCP server behind `tessera serve --mcp-upstream NAME=…` in scripts/otel-e2e: the very server of
scripts/oauth/upstream.py (the official SDK's MCPServer over streamable HTTP; tools `get_time`,
`echo(text)`, `delete_everything`), loaded from that file, with one more recorder in front: every HTTP
request it receives appends one JSON line to $OTEL_UPSTREAM_REQUESTS:

  {"method": "POST", "path": "/mcp", "traceparent": "00-…" or null, "tracestate": … or null,
   "jsonrpc_method": "tools/call" or null, "jsonrpc_id": …, "tool": "echo" or null,
   "meta_traceparent": params._meta.traceparent or null}

so the test can prove which W3C trace context reached the upstream with which call. ($UPSTREAM_LOG
still gets scripts/oauth/upstream.py's own `CALL <tool> …` lines.)

Usage: python mcp_upstream.py     prints "otel upstream: listening on http://127.0.0.1:PORT" on stderr
"""
import importlib.util
import json
import os
import socket
import sys
import threading

import uvicorn

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("oauth_upstream", os.path.join(HERE, "..", "oauth", "upstream.py"))
oauth_upstream = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(oauth_upstream)

REQUESTS = os.environ.get("OTEL_UPSTREAM_REQUESTS", "/dev/null")
_lock = threading.Lock()


def write(entry):
    with _lock, open(REQUESTS, "a") as f:
        f.write(json.dumps(entry) + "\n")


def recording(app):
    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {}
        for name, value in scope.get("headers") or []:
            headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
        chunks = []
        done = False

        async def receiving():
            nonlocal done
            message = await receive()
            if message["type"] == "http.request" and not done:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    done = True
                    body = b"".join(chunks)
                    try:
                        document = json.loads(body) if body else None
                    except ValueError:
                        document = None
                    params = document.get("params") if isinstance(document, dict) else None
                    params = params if isinstance(params, dict) else {}
                    meta = params.get("_meta") if isinstance(params.get("_meta"), dict) else {}
                    write({"method": scope.get("method"), "path": scope.get("path"), "traceparent": headers.get("traceparent"),
                           "tracestate": headers.get("tracestate"),
                           "jsonrpc_method": document.get("method") if isinstance(document, dict) else None,
                           "jsonrpc_id": document.get("id") if isinstance(document, dict) else None,
                           "tool": params.get("name"), "meta_traceparent": meta.get("traceparent")})
            return message

        if scope.get("method") != "POST":
            write({"method": scope.get("method"), "path": scope.get("path"), "traceparent": headers.get("traceparent"),
                   "tracestate": headers.get("tracestate"), "jsonrpc_method": None, "jsonrpc_id": None, "tool": None,
                   "meta_traceparent": None})
            await app(scope, receive, send)
        else:
            await app(scope, receiving, send)
    return wrapped


if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = recording(oauth_upstream.server.streamable_http_app(streamable_http_path="/mcp"))
    config = uvicorn.Config(app, log_level="warning")
    print(f"otel upstream: listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
