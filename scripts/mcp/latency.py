"""Time per tools/call through the Tessera MCP gateway vs straight to the same upstream, side by
side in one run (a trivial `echo` tool), over stdio and over streamable HTTP.
Needs TESSERA_BIN, TESSERA_SERVER, TESSERA_TOKEN; optional CALLS (default 500).

With MCP_BENCH_JSON=1 (scripts/compare-peers): streamable HTTP only, and under load. The upstream
is scripts/mcp/fault_server.py (the SDK's MCPServer, formerly FastMCP, served by uvicorn); the
gateway is a `tessera serve --mcp-upstream` started here, with one passport for every client (one
hot governance session). Measured straight to the upstream and through the gateway:
  at 1 client:   CALLS sequential calls after 50 warm-up
  at N clients:  CLIENTS (default 32) ClientSessions in this one asyncio process, each with its own
                 HTTP connection, each doing CALLS_EACH (default 100) calls after 10 warm-up, all
                 started together
Prints one JSON object: {"direct_1"|"gateway_1"|"direct_N"|"gateway_N": {"p50_ms", "p99_ms",
"calls_per_s", "calls", "errors"}, "clients", "calls_1", "calls_each"}. The clients are Python
on the same cores as the gateway and the upstream, so the figures at N clients include their cost.
TESSERA_SERVER and TESSERA_TOKEN are not used in this mode (the upstream is a start-up flag of
`serve`, so it needs a server of its own)."""
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

TESSERA = os.environ["TESSERA_BIN"]
SERVER = os.environ["TESSERA_SERVER"]
TOKEN = os.environ["TESSERA_TOKEN"]
CALLS = int(os.environ.get("CALLS", "500"))
JSON_MODE = os.environ.get("MCP_BENCH_JSON") == "1"
CLIENTS = int(os.environ.get("CLIENTS", "32"))
CALLS_EACH = int(os.environ.get("CALLS_EACH", "100"))
HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
FAULT = os.path.join(HERE, "fault_server.py")
ENV = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}


def post(url, body, token):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Bearer " + token})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


async def measure(session):
    await session.initialize()
    for _ in range(50):
        await session.call_tool("echo", {"text": "warm"})
    samples = []
    for _ in range(CALLS):
        start = time.perf_counter()
        await session.call_tool("echo", {"text": "hello"})
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return samples[len(samples) // 2], samples[int(len(samples) * 0.99) - 1]


def percentile(ordered, q):
    """Nearest-rank percentile of an ascending list."""
    return ordered[max(0, -(-len(ordered) * q // 100) - 1)]


def figures(samples, errors, seconds):
    samples.sort()
    return {"p50_ms": percentile(samples, 50), "p99_ms": percentile(samples, 99), "calls_per_s": len(samples) / seconds,
            "calls": len(samples), "errors": errors}


async def http_load(url, token, clients, calls, warm):
    """`clients` ClientSessions, each on its own HTTP connection, `warm` calls each, then all
    start together and make `calls` calls each; latencies pooled, throughput over the wall time."""
    headers = {"Authorization": "Bearer " + token} if token else {}
    ready, go = [0], asyncio.Event()
    samples, errors = [], [0]

    async def one():
        async with httpx2.AsyncClient(headers=headers, timeout=60) as client:
            # No DELETE at the end: through the gateway, ending one client's MCP session ends the
            # passport's governance session, which the other clients of this run still use.
            async with streamable_http_client(url, http_client=client, terminate_on_close=False) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    for _ in range(warm):
                        await session.call_tool("echo", {"text": "warm"})
                    ready[0] += 1
                    if ready[0] == clients:
                        go.set()
                    await go.wait()
                    for _ in range(calls):
                        start = time.perf_counter()
                        try:
                            result = await session.call_tool("echo", {"text": "hello"})
                        except MCPError:  # a JSON-RPC error (the gateway's refusal, an upstream failure): counted, not timed
                            errors[0] += 1
                            continue
                        if result.is_error:
                            errors[0] += 1
                            continue
                        samples.append((time.perf_counter() - start) * 1000)
                    return time.perf_counter()

    tasks = [asyncio.ensure_future(one()) for _ in range(clients)]
    started = asyncio.ensure_future(go.wait())
    await asyncio.wait([started, *tasks], return_when=asyncio.FIRST_COMPLETED)
    if not go.is_set():  # a client failed before the start (initialize or warm-up): stop the rest, raise its error
        for task in tasks:
            task.cancel()
        started.cancel()
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception():
                raise task.exception()
        raise RuntimeError("a client finished before the start")
    began = time.perf_counter()
    ended = max(await asyncio.gather(*tasks))
    if not samples:
        raise RuntimeError(f"no successful calls to {url} ({errors[0]} errors)")
    return figures(samples, errors[0], ended - began)


async def stdio(args):
    async with stdio_client(StdioServerParameters(command=args[0], args=args[1:], env=ENV)) as (read, write):
        async with ClientSession(read, write) as session:
            return await measure(session)


async def http(url, token=None):
    headers = {"Authorization": "Bearer " + token} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as client:
        async with streamable_http_client(url, http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                return await measure(session)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HTTPPair:
    """The fault server over streamable HTTP and a `tessera serve` gateway in front of it."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.__exit__()
            raise

    def start(self):
        self.upstream = self.server = None
        upstream_port, port = free_port(), free_port()
        self.upstream = subprocess.Popen([PY, FAULT, "http", str(upstream_port)], stderr=subprocess.DEVNULL)
        state = tempfile.mkdtemp()
        token = "tsk_" + secrets.token_urlsafe(32)
        self.server = subprocess.Popen(
            [TESSERA, "serve", "--state-dir", state + "/s", "--port", str(port), "--bootstrap-mode", "token", "--bootstrap-token", token,
             "--mcp-upstream", f"e=http://127.0.0.1:{upstream_port}/mcp", "--log-level", os.environ.get("MCP_BENCH_LOG_LEVEL", "warning")],
            stdout=subprocess.DEVNULL, stderr=open(os.environ.get("MCP_BENCH_SERVER_LOG", os.devnull), "w"))
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/mcp", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        self.direct = f"http://127.0.0.1:{upstream_port}/mcp"
        self.endpoint = f"http://127.0.0.1:{port}/mcp/e"
        self.issue_url, self.admin = f"http://127.0.0.1:{port}/issue", token
        self.passport = self.new_passport()
        return self

    def new_passport(self):
        """A passport for the gateway: one governance session (a run's clients share it)."""
        mission = {"agent_id": "bench", "mission": "measure", "allowed_tools": ["echo"], "max_tool_calls": 1000000}
        return post(self.issue_url, {"mission": mission, "audience": self.endpoint, "ttl_s": 3600}, self.admin)["token"]

    def __exit__(self, *exc):
        for process in (self.server, self.upstream):
            if process is not None:
                process.terminate()
                process.wait(timeout=10)


async def json_main():
    with HTTPPair() as pair:
        result = {"clients": CLIENTS, "calls_1": CALLS, "calls_each": CALLS_EACH}
        for name, url, token in [("direct", pair.direct, None), ("gateway", pair.endpoint, pair.new_passport())]:
            print(f"latency: {name}, 1 client, {CALLS} calls…", file=sys.stderr, flush=True)
            result[name + "_1"] = await http_load(url, token, 1, CALLS, 50)
        for name, url, token in [("direct", pair.direct, None), ("gateway", pair.endpoint, pair.new_passport())]:
            print(f"latency: {name}, {CLIENTS} clients × {CALLS_EACH} calls…", file=sys.stderr, flush=True)
            result[f"{name}_{CLIENTS}"] = await http_load(url, token, CLIENTS, CALLS_EACH, 10)
    print(json.dumps(result))


async def main():
    mission = {"agent_id": "bench", "mission": "measure", "allowed_tools": ["echo"]}
    rows = []
    direct = await stdio([PY, FAULT])
    passport = tempfile.mktemp()
    with open(passport, "w") as f:
        f.write(post(SERVER + "/issue", {"mission": mission, "ttl_s": 3600}, TOKEN)["token"])
    gated = await stdio([TESSERA, "gateway", "stdio", "--passport", passport, "--server", SERVER, "--", PY, FAULT])
    rows.append(("stdio", direct, gated))

    with HTTPPair() as pair:
        direct = await http(pair.direct)
        gated = await http(pair.endpoint, pair.passport)
        rows.append(("streamable HTTP", direct, gated))
    print(f"tools/call latency, {CALLS} sequential calls after 50 warm-up (ms)")
    print("| transport | direct p50 | direct p99 | via Tessera p50 | via Tessera p99 | added p50 |")
    print("|---|---|---|---|---|---|")
    for name, (d50, d99), (g50, g99) in rows:
        print(f"| {name} | {d50:.2f} | {d99:.2f} | {g50:.2f} | {g99:.2f} | {g50 - d50:+.2f} |")


if __name__ == "__main__":
    asyncio.run(json_main() if JSON_MODE else main())
