"""A small MCP server (the official SDK's MCPServer) for the gateway's fault tests.

Tools: `echo` (returns its text; appends a line to ECHO_FILE), `count` (appends a line to COUNT_FILE, so a test can prove the
upstream was or was not reached), `crash` (the process dies mid-call), `slow` (sleeps).
"""
import os
import sys
import time

from mcp.server.mcpserver import MCPServer

server = MCPServer("tessera-fault-server")
COUNT_FILE = os.environ.get("COUNT_FILE", "/dev/null")
ECHO_FILE = os.environ.get("ECHO_FILE", "/dev/null")


@server.tool(name="echo", description="Echo the text back")
def echo(text: str) -> str:
    with open(ECHO_FILE, "a") as f:
        f.write("x\n")
    return text


@server.tool(name="count", description="Record that the upstream was reached")
def count() -> str:
    with open(COUNT_FILE, "a") as f:
        f.write("x\n")
    return "counted"


@server.tool(name="crash", description="Die mid-call")
def crash() -> str:
    sys.stderr.write("fault server: crashing on purpose\n")
    sys.stderr.flush()
    os._exit(3)


@server.tool(name="slow", description="Sleep a while")
def slow(seconds: float) -> str:
    time.sleep(seconds)
    return "done"


def recording(app, path):
    """ASGI wrapper writing each request's Authorization header (or '-') to `path`, so a test can
    prove what the upstream received."""
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            with open(path, "a") as f:
                f.write((headers.get(b"authorization") or b"-").decode() + "\n")
        await app(scope, receive, send)
    return wrapped


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "http":
        import uvicorn

        app = server.streamable_http_app(streamable_http_path="/mcp")
        uvicorn.run(recording(app, os.environ.get("HEADERS_FILE", "/dev/null")), host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
    else:
        server.run("stdio")
