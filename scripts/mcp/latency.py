"""Time per tools/call through the Tessera MCP gateway vs straight to the same upstream, side by
side in one run (a trivial `echo` tool), over stdio and over streamable HTTP.
Needs TESSERA_BIN, TESSERA_SERVER, TESSERA_TOKEN; optional CALLS (default 500)."""
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

TESSERA = os.environ["TESSERA_BIN"]
SERVER = os.environ["TESSERA_SERVER"]
TOKEN = os.environ["TESSERA_TOKEN"]
CALLS = int(os.environ.get("CALLS", "500"))
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


async def main():
    mission = {"agent_id": "bench", "mission": "measure", "allowed_tools": ["echo"]}
    rows = []
    direct = await stdio([PY, FAULT])
    passport = tempfile.mktemp()
    with open(passport, "w") as f:
        f.write(post(SERVER + "/issue", {"mission": mission, "ttl_s": 3600}, TOKEN)["token"])
    gated = await stdio([TESSERA, "gateway", "stdio", "--passport", passport, "--server", SERVER, "--", PY, FAULT])
    rows.append(("stdio", direct, gated))

    upstream_port, port = free_port(), free_port()
    upstream = subprocess.Popen([PY, FAULT, "http", str(upstream_port)], stderr=subprocess.DEVNULL)
    state = tempfile.mkdtemp()
    token = "tsk_" + secrets.token_urlsafe(32)
    server = subprocess.Popen([TESSERA, "serve", "--state-dir", state + "/s", "--port", str(port), "--bootstrap-mode", "token",
                               "--bootstrap-token", token, "--mcp-upstream", f"e=http://127.0.0.1:{upstream_port}/mcp", "--log-level", "warning"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                urllib.request.urlopen(f"http://127.0.0.1:{upstream_port}/mcp", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}/mcp/e"
        good = post(f"http://127.0.0.1:{port}/issue", {"mission": mission, "audience": endpoint, "ttl_s": 3600}, token)["token"]
        direct = await http(f"http://127.0.0.1:{upstream_port}/mcp")
        gated = await http(endpoint, good)
        rows.append(("streamable HTTP", direct, gated))
    finally:
        server.terminate()
        upstream.terminate()
    print(f"tools/call latency, {CALLS} sequential calls after 50 warm-up (ms)")
    print("| transport | direct p50 | direct p99 | via Tessera p50 | via Tessera p99 | added p50 |")
    print("|---|---|---|---|---|---|")
    for name, (d50, d99), (g50, g99) in rows:
        print(f"| {name} | {d50:.2f} | {d99:.2f} | {g50:.2f} | {g99:.2f} | {g50 - d50:+.2f} |")


asyncio.run(main())
