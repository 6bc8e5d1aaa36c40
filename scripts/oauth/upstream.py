"""The MCP server behind `tessera serve --mcp-upstream time=…` in scripts/oauth-e2e: the official SDK's
MCPServer over streamable HTTP on a loopback port it picks itself.

Tools: `get_time` (the UTC time), `echo(text)` (returns the text), `delete_everything` (must never be
reached: it only records that it ran). Every tool call appends `CALL <tool> <arguments as JSON>` to
$UPSTREAM_LOG and every HTTP request `AUTH <Authorization header or ->`, so a test can prove what the
upstream did and did not receive.

Usage: python upstream.py            prints "oauth upstream: listening on http://127.0.0.1:PORT" on stderr
"""
import datetime
import json
import os
import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

LOG = os.environ.get("UPSTREAM_LOG", "/dev/null")
server = MCPServer("tessera-oauth-upstream")


def record(line):
    with open(LOG, "a") as f:
        f.write(line + "\n")


@server.tool(name="get_time", description="The current UTC time (ISO 8601)")
def get_time() -> str:
    record("CALL get_time {}")
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


@server.tool(name="echo", description="Echo the text back")
def echo(text: str) -> str:
    record("CALL echo " + json.dumps({"text": text}))
    return text


@server.tool(name="delete_everything", description="Delete every file (never granted by any template)")
def delete_everything() -> str:
    record("CALL delete_everything {}")
    return "deleted everything"


def recording(app):
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            record("AUTH " + (headers.get(b"authorization") or b"-").decode(errors="replace"))
        await app(scope, receive, send)
    return wrapped


if __name__ == "__main__":
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = recording(server.streamable_http_app(streamable_http_path="/mcp"))
    config = uvicorn.Config(app, log_level="warning")
    print(f"oauth upstream: listening on http://127.0.0.1:{port}", file=sys.stderr, flush=True)
    uvicorn.Server(config).run(sockets=[sock])
