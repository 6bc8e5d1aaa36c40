"""Round three, finding 1: every tools/call the upstream executes was evaluated by Tessera.

A generator of carriers × line separators × encodings hides a `tools/call` of a tool the
passport does not allow inside one line sent to `tessera gateway stdio`. The upstream is the
official MCP SDK's own server (scripts/mcp/fault_server.py), so its own stdin parser decides what
it reads. The property: the forbidden tool is never executed, and the number of calls the
upstream executed equals the number of PERMIT receipts Tessera signed. No tool list the client
receives names a tool the passport cannot use.

Then the streamable-HTTP gateway in front of a hostile upstream (scripts/mcp/hostile_upstream.py)
that answers tools/list with a BOM, `Text/Event-Stream` casing, bare CRs, an unparsable event,
multi-line data, and a GET stream: no answer may carry an unfiltered list.

Needs TESSERA_BIN, TESSERA_SERVER and TESSERA_TOKEN. Closes with 'N passed, N failed'."""
import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.request

from common import HERE, PY, SERVER, TESSERA, check, environment, free_port, http, issue, summary, wait_for

FORBIDDEN = ["count", "crash", "slow"]
SEPARATORS = ["\r", "\r\n", "\n\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\t\r", " \r ", "\r\r", "\x00"]


def inner(n, tool="count"):
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": {"name": tool, "arguments": {}}})


def inner_list(n):
    return json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/list", "params": {}})


def variants():
    """(label, line) pairs: each line is one message to the gateway, carrying a hidden call."""
    n = 1000
    for sep in SEPARATORS:
        tag = repr(sep)
        for hidden_kind, hidden in (("call", inner), ("list", inner_list)):
            n += 1
            h = hidden(n)
            yield f"notification carrier {tag} {hidden_kind}", '{"jsonrpc":"2.0","method":"notifications/progress","params":{"x":' + sep + h + sep + '}}'
            n += 1
            h = hidden(n)
            yield f"_meta carrier {tag} {hidden_kind}", '{"jsonrpc":"2.0","id":' + str(n + 50000) + ',"method":"ping","params":{"_meta":' + sep + h + sep + '}}'
            n += 1
            h = hidden(n)
            yield f"response-shaped carrier {tag} {hidden_kind}", '{"jsonrpc":"2.0","id":"r' + str(n) + '","result":' + sep + h + sep + '}'
            n += 1
            h = hidden(n)
            yield f"prefix {tag} {hidden_kind}", h + sep + '{"jsonrpc":"2.0","method":"notifications/initialized"}'
            n += 1
            h = hidden(n)
            yield f"suffix {tag} {hidden_kind}", '{"jsonrpc":"2.0","method":"notifications/initialized"}' + sep + h
            n += 1
            h = hidden(n)
            yield (f"inside a permitted call's string {tag} {hidden_kind}",
                   '{"jsonrpc":"2.0","id":' + str(n + 60000) + ',"method":"tools/call","params":{"name":"echo","arguments":{"text":"a' + sep + h.replace('"', '\\"') + sep + '"}}}')
            n += 1
            h = hidden(n)
            yield (f"between members {tag} {hidden_kind}",
                   '{"jsonrpc":"2.0",' + sep + '"id":' + str(n + 70000) + ',' + sep + '"method":"tools/call","params":{"name":"echo","arguments":{"text":"ok"}}}' + sep + h)


def stdio():
    mission = {"agent_id": "smuggler", "mission": "echo only", "allowed_tools": ["echo"]}
    passport, jti = issue(mission)
    counter, echoes = tempfile.mktemp(suffix=".count"), tempfile.mktemp(suffix=".echo")
    process = subprocess.Popen(
        [TESSERA, "gateway", "stdio", "--passport", passport, "--server", SERVER, "--", PY, os.path.join(HERE, "fault_server.py")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=environment(COUNT_FILE=counter, ECHO_FILE=echoes))
    received = []
    done = threading.Event()

    def reader():
        for line in process.stdout:
            received.append(line)
        done.set()

    threading.Thread(target=reader, daemon=True).start()

    def send(text):
        process.stdin.write(text.encode("utf-8", "surrogatepass") + b"\n")
        process.stdin.flush()

    send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                     "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "smuggler", "version": "1"}}}))
    send('{"jsonrpc":"2.0","method":"notifications/initialized"}')
    count = 0
    for _label, line in variants():
        send(line)
        count += 1
    # A last permitted call: when its answer is back, everything sent before it has been handled.
    send(json.dumps({"jsonrpc": "2.0", "id": 99999, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "last"}}}))
    deadline = time.time() + 60
    while time.time() < deadline and not any(b'"id":99999' in line for line in received):
        time.sleep(0.05)
    time.sleep(0.5)
    process.stdin.close()
    process.wait(timeout=30)
    executed_forbidden = open(counter).read().count("x") if os.path.exists(counter) else 0
    executed_echo = open(echoes).read().count("x") if os.path.exists(echoes) else 0
    status, body = http("GET", "/receipts?jti=" + jti)
    receipts = [json.loads(_payload(line)) for line in body.decode().split()] if status == 200 else []
    permits = sum(1 for r in receipts if r.get("decision") == "PERMIT")
    check(f"stdio: {count} smuggling variants — the forbidden tool never executed upstream", executed_forbidden == 0, executed_forbidden)
    check("stdio: every call the upstream executed has a PERMIT receipt (executed == permitted)",
          executed_echo == permits and permits >= 1, f"executed {executed_echo}, permits {permits}")
    leaked = []
    for line in received:
        try:
            message = json.loads(line)
        except ValueError:
            leaked.append(line[:80])
            continue
        tools = ((message.get("result") or {}).get("tools") or []) if isinstance(message.get("result"), dict) else []
        leaked += [t.get("name") for t in tools if t.get("name") in FORBIDDEN]
    check("stdio: no tool list the client received names a forbidden tool; every line is one JSON message", not leaked, leaked[:5])


def _payload(jws):
    import base64
    part = jws.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def http_gateway():
    upstream_port, port = free_port(), free_port()
    upstream = subprocess.Popen([PY, os.path.join(HERE, "hostile_upstream.py"), str(upstream_port)], stderr=subprocess.DEVNULL)
    state = tempfile.mkdtemp(prefix="tessera-mcp-smuggle-")
    token = "tsk_" + os.urandom(24).hex()
    server = subprocess.Popen([TESSERA, "serve", "--state-dir", state + "/s", "--port", str(port), "--bootstrap-mode", "token",
                               "--bootstrap-token", token, "--mcp-upstream", f"hostile=http://127.0.0.1:{upstream_port}/mcp"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    endpoint = base + "/mcp/hostile"
    try:
        wait_for(f"http://127.0.0.1:{upstream_port}/mcp")
        wait_for(base + "/health")
        mission = {"agent_id": "http-smuggler", "mission": "echo only", "allowed_tools": ["echo"]}
        status, body = http("POST", "/issue", {"mission": mission, "audience": endpoint}, token=token, server=base)
        passport = json.loads(body)["token"]
        for variant in ["json-bom", "sse-casing", "sse-bom", "sse-cr", "sse-multiline", "sse-unparsable-then-list", "json-array",
                        "text-plain", "sse-other-id"]:
            request = urllib.request.Request(endpoint, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(), method="POST")
            request.add_header("Authorization", "Bearer " + passport)
            request.add_header("Content-Type", "application/json")
            request.add_header("Accept", "application/json, text/event-stream")
            request.add_header("X-Hostile-Variant", variant)
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    text = response.read().decode("utf-8", "replace")
            except urllib.error.HTTPError as error:
                text = error.read().decode("utf-8", "replace")
            check(f"http: a hostile tools/list answer ({variant}) reaches the client without a forbidden tool",
                  not any(name in text for name in ["secret_tool"]), text[:200])
        # 2026-07-28's server/discover: an upstream that puts a tool list in its answer leaks nothing.
        discover = {"jsonrpc": "2.0", "id": 2, "method": "server/discover",
                    "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}
        status, body = http("POST", "/mcp/hostile", discover, token=passport, server=base,
                            headers={"MCP-Protocol-Version": "2026-07-28", "Mcp-Method": "server/discover", "Accept": "application/json, text/event-stream"})
        check("http: a server/discover answer carrying a tool list is filtered", "secret_tool" not in body.decode("utf-8", "replace"), body[:200])
        # The GET stream: server-initiated messages, filtered too.
        request = urllib.request.Request(endpoint, method="GET")
        request.add_header("Authorization", "Bearer " + passport)
        request.add_header("Accept", "text/event-stream")
        request.add_header("X-Hostile-Variant", "get-stream")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            text = error.read().decode("utf-8", "replace")
        check("http: a tool list on the GET stream is filtered", "secret_tool" not in text and "echo" in text, text[:200])
        # Header parameters are quoted: a hostile Host is neither trusted nor reflected.
        request = urllib.request.Request(endpoint, data=b"{}", method="POST")
        request.add_header("Host", 'evil.example"; error="x')
        try:
            urllib.request.urlopen(request, timeout=10)
            challenge = ""
        except urllib.error.HTTPError as error:
            challenge = error.headers.get("WWW-Authenticate", "")
        check("http: the 401 challenge names the configured origin, never the Host", "evil.example" not in challenge and base in challenge, challenge)
    finally:
        server.terminate()
        upstream.terminate()
        server.wait(timeout=30)
        upstream.wait(timeout=30)


if __name__ == "__main__":
    import urllib.error  # noqa: F401  (used above through urllib.error.HTTPError)
    stdio()
    http_gateway()
    summary()
