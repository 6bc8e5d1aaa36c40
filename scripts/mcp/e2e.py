"""End-to-end: `tessera gateway stdio` in front of real MCP servers, driven by the official MCP
Python SDK's client. Needs TESSERA_BIN, TESSERA_SERVER and TESSERA_TOKEN (an admin API key).
Prints one line per check and closes with 'N passed, N failed'; exits 1 on any failure."""
import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from common import ADMIN, HERE, PY, RESULTS, SERVER, TESSERA, check, environment, free_port, http, issue, summary, wait_for


def message_of(body):
    """The JSON-RPC message of an HTTP answer, JSON or a one-event SSE stream."""
    text = (body or b"").decode("utf-8", "replace")
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip():
            return json.loads(line[5:].strip())
    try:
        return json.loads(text)
    except ValueError:
        return None


def gateway_params(passport, upstream, server=SERVER, **env):
    return StdioServerParameters(
        command=TESSERA, args=["gateway", "stdio", "--passport", passport, "--server", server, "--", *upstream], env=environment(**env))


def error_of(call):
    """Runs an awaitable expected to fail with a JSON-RPC error; returns the MCPError (or None)."""
    async def run():
        try:
            await call
        except MCPError as error:
            return error
        return None
    return run()


async def git_server():
    repo = tempfile.mkdtemp(prefix="tessera-mcp-repo-")
    run = lambda *a: subprocess.run(["git", *a], cwd=repo, check=True, capture_output=True)
    run("init", "-q")
    run("config", "user.email", "t@example.com")
    run("config", "user.name", "t")
    with open(os.path.join(repo, "README"), "w") as f:
        f.write("hello\n")
    run("add", "README")
    run("commit", "-qm", "first")
    repo_rule = {"subpath": repo}
    mission = {
        "agent_id": "git-agent", "mission": "inspect one repository", "max_tool_calls": 3,
        "tools": {
            "git_status": {"arguments": {"repo_path": repo_rule}},
            "git_log": {"arguments": {"repo_path": repo_rule, "max_count": {"optional": {"range": {"min": 1, "max": 50}}}}},
        },
    }
    passport, jti = issue(mission)
    async with stdio_client(gateway_params(passport, [PY, "-m", "mcp_server_git"])) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = await session.list_tools()
            names = sorted(t.name for t in tools.tools)
            check("git: tools/list shows only what the passport permits", names == ["git_log", "git_status"], names)
            status = await session.call_tool("git_status", {"repo_path": repo})
            check("git: git_status is permitted and answered by the real server", not status.is_error and "Repository status" in str(status.content), status)
            receipt = (status.meta or {}).get("io.tessera/receipt") if hasattr(status, "meta") else None
            check("git: the answer names the decision's receipt in _meta (io.tessera/receipt)", receipt, status)
            commit = await error_of(session.call_tool("git_commit", {"repo_path": repo, "message": "evil"}))
            check("git: git_commit is refused with -32001", commit is not None and commit.code == -32001, commit)
            log = subprocess.run(["git", "log", "--oneline"], cwd=repo, capture_output=True, text=True).stdout.strip().splitlines()
            check("git: the repository is untouched (still one commit)", len(log) == 1, log)
            outside = await error_of(session.call_tool("git_status", {"repo_path": "/tmp"}))
            violations = (outside.data or {}).get("violations", []) if outside else []
            check("git: a repo_path outside the allowed repository is refused naming repo_path",
                  outside is not None and outside.code == -32001 and violations and violations[0]["argument"] == "repo_path", outside)
            for _ in range(2):
                result = await session.call_tool("git_log", {"repo_path": repo})
            check("git: calls within the budget are permitted", not result.is_error, result)
            over = await error_of(session.call_tool("git_status", {"repo_path": repo}))
            check("git: call N+1 is refused (budget exhausted)", over is not None and "budget_exhausted" in (over.data or {}).get("reason", ""), over)
    # The receipts of what happened verify offline with the CLI.
    status, body = http("GET", "/receipts?jti=" + jti)
    receipts = tempfile.mktemp(suffix=".ndjson")
    with open(receipts, "wb") as f:
        f.write(body)
    lines = body.decode().strip().splitlines()
    verify = subprocess.run([TESSERA, "receipts", "verify", receipts, "--server", SERVER], capture_output=True, text=True)
    check("git: receipts verify with `tessera receipts verify`", status == 200 and verify.returncode == 0 and len(lines) == 6,
          f"{status} {verify.returncode} {len(lines)} {verify.stderr[-300:]}")


async def approvals():
    """A call that needs a human: -32002 with the approval id; after the grant, the same call works once."""
    mission = {"agent_id": "payer", "mission": "pay", "tools": {"echo": {
        "arguments": {"text": {"one_of": ["small", "large"]}},
        "requires_approval": {"when": {"text": {"one_of": ["large"]}}, "approvers": ["user:admin"], "ttl_s": 600}}}}
    passport, _ = issue(mission)
    async with stdio_client(gateway_params(passport, [PY, os.path.join(HERE, "fault_server.py")])) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            small = await session.call_tool("echo", {"text": "small"})
            check("approvals: a call below the condition needs no approval", not small.is_error, small)
            pending = await error_of(session.call_tool("echo", {"text": "large"}))
            approval = (pending.data or {}).get("approval_id") if pending else None
            check("approvals: a call needing approval gets -32002 with the approval id", pending is not None and pending.code == -32002 and approval, pending)
            status, body = http("POST", f"/approvals/{approval}/grant", {})
            check("approvals: the approver grants it", status == 200 and json.loads(body).get("status") == "granted", body)
            granted = await session.call_tool("echo", {"text": "large"})
            check("approvals: after the grant the same call goes through once", not granted.is_error and "large" in str(granted.content), granted)
            again = await error_of(session.call_tool("echo", {"text": "large"}))
            check("approvals: and the next one needs a new approval", again is not None and again.code == -32002, again)


async def concurrency():
    mission = {"agent_id": "clock", "mission": "tell the time",
               "tools": {"get_current_time": {"arguments": {"timezone": {"regex": "^[A-Za-z_]+/[A-Za-z_]+$"}}}}}
    passport, _ = issue(mission)
    zones = ["Europe/London", "Asia/Tokyo", "America/New_York", "Australia/Sydney", "Africa/Cairo"]
    async with stdio_client(gateway_params(passport, [PY, "-m", "mcp_server_time"])) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            calls = [session.call_tool("get_current_time", {"timezone": zones[i % len(zones)]}) for i in range(50)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            right = sum(1 for i, r in enumerate(results)
                        if not isinstance(r, BaseException) and not r.is_error and zones[i % len(zones)] in str(r.content))
            check("concurrency: 50 interleaved tools/call on one connection all answered, each with its own result", right == 50, f"{right}/50")


def raw_gateway(passport, upstream, server=SERVER, **env):
    return subprocess.Popen(
        [TESSERA, "gateway", "stdio", "--passport", passport, "--server", server, "--", *upstream],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment(**env))


def send(process, message):
    data = message if isinstance(message, (bytes, bytearray)) else json.dumps(message).encode()
    process.stdin.write(data + b"\n")
    process.stdin.flush()


def receive(process, want_id=None, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = process.stdout.readline()
        if not line:
            return None
        message = json.loads(line)
        if want_id is None or message.get("id") == want_id:
            return message
    return None


def handshake(process):
    send(process, {"jsonrpc": "2.0", "id": 0, "method": "initialize",
                   "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}})
    reply = receive(process, 0)
    send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
    return reply


def call(process, id, tool, arguments=None):
    send(process, {"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments or {}}})
    return receive(process, id)


def faults():
    mission = {"agent_id": "faulty", "mission": "exercise faults", "allowed_tools": ["echo", "count", "crash", "slow"]}
    passport, _ = issue(mission)
    upstream = [PY, os.path.join(HERE, "fault_server.py")]

    # Garbage and oversized lines from the client: clear errors, the gateway keeps serving.
    process = raw_gateway(passport, upstream)
    check("faults: handshake through the gateway", (handshake(process) or {}).get("result") is not None)
    send(process, b"this is not json")
    garbage = receive(process)
    check("faults: a garbage line gets -32700", garbage and garbage["error"]["code"] == -32700, garbage)
    send(process, b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"' + b"x" * (5 << 20) + b'"}}}')
    oversized = receive(process)
    check("faults: a 5 MiB line gets -32600 and is not buffered", oversized and oversized["error"]["code"] == -32600, str(oversized)[:200])
    dup = b'{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"echo","name":"crash","arguments":{"text":"a"}}}'
    send(process, dup)
    duplicate = receive(process)
    check("faults: a message with a duplicate member name is refused", duplicate and duplicate["error"]["code"] == -32700, duplicate)
    echo = call(process, 9, "echo", {"text": "still here"})
    check("faults: the gateway still serves after hostile input", echo and "still here" in json.dumps(echo.get("result")), echo)

    # A call cancelled while it is being evaluated never reaches the upstream, and gets no answer.
    cancel_counter = tempfile.mktemp(suffix=".count")
    cancelling = raw_gateway(passport, upstream, COUNT_FILE=cancel_counter)
    handshake(cancelling)
    send(cancelling, b'{"jsonrpc":"2.0","id":21,"method":"tools/call","params":{"name":"count","arguments":{}}}\n'
         b'{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":21,"reason":"user"}}')
    after = call(cancelling, 22, "echo", {"text": "after"})
    reached = open(cancel_counter).read().count("x") if os.path.exists(cancel_counter) else 0
    check("faults: a call cancelled during evaluation is not forwarded (no orphan upstream)",
          after and after.get("id") == 22 and reached == 0, f"{after} reached={reached}")
    cancelling.stdin.close()
    cancelling.wait(timeout=20)

    # Upstream crash mid-call: the pending call gets an error, the gateway exits non-zero with the cause.
    crashed = call(process, 10, "crash")
    check("faults: a call the upstream dies on is answered with an error", crashed and crashed.get("error", {}).get("code") == -32603, crashed)
    try:
        code = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        code = None
    stderr = process.stderr.read().decode(errors="replace")
    check("faults: the gateway exits non-zero naming the cause on stderr", code not in (0, None) and "upstream MCP server exited" in stderr, f"{code} {stderr[-300:]}")

    # Tessera stopped mid-session: fail closed, nothing reaches the upstream unevaluated.
    state = tempfile.mkdtemp(prefix="tessera-mcp-state-")
    token = "tsk_" + secrets.token_urlsafe(32)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([TESSERA, "serve", "--state-dir", state + "/s", "--port", str(port), "--bootstrap-mode", "token", "--bootstrap-token", token],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if http("GET", "/health", server=url, token=None)[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    own_passport, _ = issue(mission, server=url, token=token)
    counter = tempfile.mktemp(suffix=".count")
    process = raw_gateway(own_passport, upstream, server=url, COUNT_FILE=counter)
    handshake(process)
    first = call(process, 1, "count")
    check("faults: a call is permitted while Tessera runs", first and "result" in first, first)
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    second = call(process, 2, "count")
    reached = open(counter).read().count("x") if os.path.exists(counter) else 0
    check("faults: with Tessera stopped the call is refused (-32001) and never reaches the upstream",
          second and second.get("error", {}).get("code") == -32001 and reached == 1, f"{second} reached={reached}")
    process.stdin.close()
    process.wait(timeout=20)


async def http_gateway():
    """`tessera serve --mcp-upstream` in front of an MCPServer speaking streamable HTTP."""
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    headers_file = tempfile.mktemp(suffix=".headers")
    upstream_port, port = free_port(), free_port()
    upstream = subprocess.Popen([PY, os.path.join(HERE, "fault_server.py"), "http", str(upstream_port)],
                                env=environment(HEADERS_FILE=headers_file), stderr=subprocess.DEVNULL)
    state = tempfile.mkdtemp(prefix="tessera-mcp-http-")
    token = "tsk_" + secrets.token_urlsafe(32)
    server = subprocess.Popen([TESSERA, "serve", "--state-dir", state + "/s", "--port", str(port), "--bootstrap-mode", "token",
                               "--bootstrap-token", token, "--mcp-upstream", f"fault=http://127.0.0.1:{upstream_port}/mcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    endpoint = base + "/mcp/fault"
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/mcp")
        wait_for(base + "/health")
        status, _ = http("POST", "/mcp/fault", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=None, server=base)
        request = urllib.request.Request(endpoint, data=b"{}", method="POST")
        try:
            urllib.request.urlopen(request, timeout=10)
            challenge = ""
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate", "")
        check("http: no token → 401 with resource metadata", status == 401 and "resource_metadata=" in challenge, f"{status} {challenge}")
        metadata_url = challenge.split('resource_metadata="')[1].split('"')[0] if "resource_metadata=" in challenge else ""
        with urllib.request.urlopen(metadata_url, timeout=10) as response:
            metadata = json.loads(response.read())
        check("http: RFC 9728 metadata names this resource", metadata.get("resource") == endpoint and metadata.get("authorization_servers"), metadata)

        mission = {"agent_id": "http-agent", "mission": "echo things", "allowed_tools": ["echo", "count"]}
        status, body = http("POST", "/issue", {"mission": mission, "audience": "https://elsewhere.example/mcp"}, token=token, server=base)
        wrong = json.loads(body)["token"]
        status, _ = http("POST", "/mcp/fault", {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, token=wrong, server=base)
        check("http: a passport for another audience → 401", status == 401, status)

        status, body = http("POST", "/issue", {"mission": mission, "audience": endpoint}, token=token, server=base)
        good = json.loads(body)["token"]
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer " + good}, timeout=30) as client:
            async with streamable_http_client(endpoint, http_client=client) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    names = sorted(t.name for t in (await session.list_tools()).tools)
                    check("http: tools/list filtered to the passport", names == ["count", "echo"], names)
                    echoed = await session.call_tool("echo", {"text": "over http"})
                    check("http: a permitted call reaches the upstream", not echoed.is_error and "over http" in str(echoed.content), echoed)
                    crash = await error_of(session.call_tool("crash", {}))
                    check("http: a call outside the passport is refused with -32001", crash is not None and crash.code == -32001, crash)
        # Revision 2026-07-28 (no initialize: server/discover; mirrored routing headers), as the SDK speaks it by default.
        # A new passport: the 2025-11-25 client above ended its session (DELETE) and with it the passport's.
        status, body = http("POST", "/issue", {"mission": mission, "audience": endpoint}, token=token, server=base)
        good = json.loads(body)["token"]
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer " + good}, timeout=30) as client:
            async with streamable_http_client(endpoint, http_client=client) as streams:
                read, write = streams[0], streams[1]
                async with ClientSession(read, write) as session:
                    discovered = await session.discover()
                    check("2026-07-28: server/discover passes through the gateway", discovered is not None, discovered)
                    listed = await session.list_tools()
                    names = sorted(t.name for t in listed.tools)
                    scope = listed.cache_scope if hasattr(listed, "cache_scope") else (listed.model_extra or {}).get("cacheScope")
                    ttl = listed.ttl_ms if hasattr(listed, "ttl_ms") else (listed.model_extra or {}).get("ttlMs")
                    check("2026-07-28: tools/list filtered, cacheScope private, ttlMs within the passport's life",
                          names == ["count", "echo"] and scope == "private" and ttl is not None and 0 <= ttl <= 3600 * 1000, f"{names} {scope} {ttl}")
                    echoed = await session.call_tool("echo", {"text": "modern"})
                    receipt = (echoed.meta or {}).get("io.tessera/receipt") if hasattr(echoed, "meta") else None
                    check("2026-07-28: a permitted call reaches the upstream, its answer names the receipt in _meta",
                          not echoed.is_error and "modern" in str(echoed.content) and receipt, f"{echoed} {receipt}")
                    crash = await error_of(session.call_tool("crash", {}))
                    check("2026-07-28: a call outside the passport is refused with -32001", crash is not None and crash.code == -32001, crash)

        def modern(body, **headers):
            body = dict(body)
            params = dict(body.get("params") or {})
            params["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
            body["params"] = params
            base_headers = {"MCP-Protocol-Version": "2026-07-28", "Accept": "application/json, text/event-stream"}
            base_headers.update(headers)
            return http("POST", "/mcp/fault", body, token=good, server=base, headers=base_headers)

        call = {"jsonrpc": "2.0", "id": 41, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "hi"}}}
        for label, headers in [
            ("Mcp-Method differs", {"Mcp-Method": "tools/list", "Mcp-Name": "echo"}),
            ("Mcp-Name in another case", {"Mcp-Method": "tools/call", "Mcp-Name": "ECHO"}),
            ("Mcp-Name missing", {"Mcp-Method": "tools/call"}),
            ("Mcp-Name names another tool (header smuggling)", {"Mcp-Method": "tools/call", "Mcp-Name": "crash"}),
            ("MCP-Protocol-Version differs from the body", {"MCP-Protocol-Version": "2026-08-01", "Mcp-Method": "tools/call", "Mcp-Name": "echo"}),
            ("Mcp-Name base64 of another name", {"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?Y3Jhc2g=?="}),
        ]:
            status, body = modern(call, **headers)
            code = (json.loads(body or b"{}").get("error") or {}).get("code")
            check(f"2026-07-28: {label} → 400 -32020 before evaluation", status == 400 and code == -32020, f"{status} {body[:200]}")
        nfc, nfd = "caf\u00e9", "cafe\u0301"
        status, body = modern({"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"name": nfc, "arguments": {}}},
                              **{"Mcp-Method": "tools/call", "Mcp-Name": "=?base64?" + __import__("base64").b64encode(nfd.encode()).decode() + "?="})
        check("2026-07-28: a name in another Unicode normalisation form is a mismatch", status == 400, f"{status} {body[:200]}")
        status, body = modern(call, **{"Mcp-Method": "tools/call", "Mcp-Name": "echo"})
        check("2026-07-28: matching headers → evaluated and forwarded", status == 200 and b"hi" in body, f"{status} {body[:200]}")
        status, body = modern({"jsonrpc": "2.0", "id": 43, "method": "tools/list", "params": {}}, **{"Mcp-Method": "tools/list"})
        listed = (message_of(body) or {}).get("result") or {}
        check("2026-07-28: a raw tools/list is filtered and marked private", status == 200 and sorted(t["name"] for t in listed.get("tools", [])) == ["count", "echo"]
              and listed.get("cacheScope") == "private", f"{status} {body[:300]}")
        # 12 clients at once on one passport, each holding its GET stream open upstream: with an
        # upstream connection pool of 8 (AsyncHTTPClient's default) the ninth client's calls waited
        # until they timed out (issue 28).
        status, body = http("POST", "/issue", {"mission": mission, "audience": endpoint}, token=token, server=base)
        shared = json.loads(body)["token"]

        async def streaming_client(i):
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer " + shared}, timeout=30) as client:
                async with streamable_http_client(endpoint, http_client=client, terminate_on_close=False) as streams:
                    async with ClientSession(streams[0], streams[1]) as session:
                        await session.initialize()
                        answers = [await session.call_tool("echo", {"text": f"client {i} call {n}"}) for n in range(3)]
                        return sum(1 for a in answers if not a.is_error)

        try:
            done = await asyncio.wait_for(asyncio.gather(*[streaming_client(i) for i in range(12)]), timeout=25)
        except BaseException as error:  # a timeout, or a client whose connection was dropped
            done = [repr(error)[:200]]
        check("http: 12 clients at once, each with its GET stream open, all get their 3 calls answered", done == [3] * 12, done)
        seen = open(headers_file).read().split() if os.path.exists(headers_file) else []
        check("http: the upstream never receives the client's Authorization header",
              seen and all(h == "-" for h in seen), seen[:3])
    finally:
        server.terminate()
        upstream.terminate()
        server.wait(timeout=30)
        upstream.wait(timeout=30)


async def main():
    await git_server()
    await approvals()
    await concurrency()
    faults()
    await http_gateway()
    summary()


asyncio.run(main())
