#!/usr/bin/env python3
"""OpenTelemetry from outside (started by scripts/otel-e2e): three `tessera serve` processes and
the OTLP/HTTP receivers of scripts/otel/receiver.py.

- SERVER_ON exports to RECEIVER_ON (OTEL_EXPORTER_OTLP_ENDPOINT, http/protobuf, service name
  tessera-e2e, resource deployment.environment=e2e, logs over OTLP, batch delay 200 ms).
- SERVER_OFF has no OTEL_* at all: nothing may be exported (RECEIVER_DEFAULT, when set, listens
  on the OTLP default port 4318, where an SDK without an endpoint would send).
- SERVER_DISABLED has an endpoint (RECEIVER_DISABLED) but OTEL_SDK_DISABLED=true: nothing either.

On each server, what a user does: `tessera iam bootstrap`, a user with a password who signs in
(and once with a wrong password), an agent registered with its public key, a passport with a tool
allow-list and an argument constraint, a session, and /evaluate once PERMIT and once DENY, each
with its own W3C `traceparent`. SERVER_ON also runs the MCP HTTP gateway (`--mcp-upstream
MCP_UPSTREAM_NAME=…`, scripts/otel/mcp_upstream.py): with a passport whose `aud` is the gateway
resource, initialize, then `tools/call echo` with an HTTP `traceparent`, `tools/call echo` with no
header but `params._meta.traceparent`, and a denied `tools/call delete_everything`. Then the spans
that reached RECEIVER_ON are checked against the contract (trace context honoured; `tessera.evaluate`
under the HTTP server span, with its attributes, `tessera.session.ref` never the session id;
`tessera.store.write` under it; HTTP attributes; resource; for MCP: `tools/call TOOL` under
`POST /mcp/{name}` with its attributes, `tessera.evaluate` and the upstream CLIENT span under it, the
upstream given a traceparent of the same trace; the `_meta` context used when no header carries one;
no exporter upload traced), every payload any receiver got is searched for the secrets, the raw
session ids and the argument values used, and the two other servers must have exported nothing.

Environment: TESSERA_BIN, OTEL_E2E_WORK (a scratch folder), SERVER_ON, SERVER_OFF,
SERVER_DISABLED, RECEIVER_ON, RECEIVER_DISABLED, RECEIVER_DEFAULT (may be empty),
MCP_UPSTREAM_NAME, UPSTREAM_REQUESTS (the upstream's NDJSON of requests and their traceparent),
UPSTREAM_CALLS (its `CALL tool …` lines); OTEL_E2E_DUMP (optional): a file to write everything the
receivers got to, as JSON.
Prints "PASS name" / "FAIL name (detail)" per check and "N passed, N failed"; exits 1 on any failure.
"""
import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import time

import requests

TESSERA = os.environ.get("TESSERA_BIN", "tessera")
WORK = os.environ.get("OTEL_E2E_WORK") or "/tmp"
SERVER_ON = os.environ["SERVER_ON"].rstrip("/")
SERVER_OFF = os.environ["SERVER_OFF"].rstrip("/")
SERVER_DISABLED = os.environ["SERVER_DISABLED"].rstrip("/")
RECEIVER_ON = os.environ["RECEIVER_ON"].rstrip("/")
RECEIVER_DISABLED = os.environ["RECEIVER_DISABLED"].rstrip("/")
RECEIVER_DEFAULT = os.environ.get("RECEIVER_DEFAULT", "").rstrip("/")
MCP_NAME = os.environ.get("MCP_UPSTREAM_NAME", "demo")
UPSTREAM_REQUESTS = os.environ.get("UPSTREAM_REQUESTS", "")
UPSTREAM_CALLS = os.environ.get("UPSTREAM_CALLS", "")
MCP_PROTOCOL = "2025-11-25"
SERVICE_NAME = "tessera-e2e"
ENVIRONMENT = "e2e"
TOOL = "query_db"
ARGUMENT = "table"
SPAN_WAIT_S = 15      # the longest the spans may take to arrive (batch delay is 200 ms)
QUIET_WAIT_S = 6      # how long the off servers are watched after their last call (> swift-otel's 5 s default batch delay)
RESULTS = []


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    if condition:
        print(f"PASS {name}", flush=True)
    else:
        text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
        if len(text) > 1500:
            text = text[:1500] + "…"
        print(f"FAIL {name}  ({text})", flush=True)
    return bool(condition)


def note(text):
    print(f"     {text}", flush=True)


def summary():
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def session_ref(session_id):
    """What events and spans carry instead of a session id (a bearer capability): "sesref_" +
    base64url, unpadded, of the first 16 bytes of SHA-256(session id)."""
    return "sesref_" + base64.urlsafe_b64encode(hashlib.sha256(session_id.encode()).digest()[:16]).decode().rstrip("=")


def rule_of(reason):
    """The rule of a decision's reason: the text before the first ':' or space (the detail may quote argument values)."""
    return re.split(r"[: ]", reason or "", maxsplit=1)[0]


def traceparent():
    """A fresh W3C trace context: (header, trace id, parent span id); never the invalid all-zero ids."""
    trace_id, span_id = "0" * 32, "0" * 16
    while trace_id == "0" * 32:
        trace_id = secrets.token_hex(16)
    while span_id == "0" * 16:
        span_id = secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


class Tessera:
    """One server, driven over HTTP (and its own CLI for bootstrap and key generation)."""

    def __init__(self, base, label):
        self.base, self.label = base, label
        self.secrets = {}          # kind → list of strings that must never be exported
        self.traces = {}           # "PERMIT"/"DENY" → {trace_id, span_id, response, status}
        self.session_id = self.jti = self.agent_id = self.admin = None
        self.mcp = {}              # what the MCP gateway part did (calls, their trace context, answers)
        self.problems = []

    def http(self, method, path, body=None, token=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = "Bearer " + token
        return requests.request(method, self.base + path, json=body, headers=headers, timeout=30, allow_redirects=False)

    def expect(self, what, response, *statuses):
        if response.status_code not in statuses:
            self.problems.append(f"{what}: {response.status_code} {response.text[:300]}")
            return None
        try:
            return response.json()
        except ValueError:
            return {}

    def cli(self, *args):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        return subprocess.run([TESSERA, *args], capture_output=True, text=True, env=env, timeout=60)

    def setup_and_evaluate(self):
        tag = secrets.token_hex(6)
        # The first admin: `tessera iam bootstrap` prints its API key once.
        done = self.cli("iam", "bootstrap", "--server", self.base)
        admin = done.stdout.strip().splitlines()[-1].strip() if done.returncode == 0 and done.stdout.strip() else ""
        if not admin:
            self.problems.append(f"tessera iam bootstrap: exit {done.returncode}: {done.stderr[-400:]}")
            return False
        self.admin = admin
        self.secrets["admin API key"] = [admin, admin[-16:]]
        # A person with a password signs in (and a wrong password is refused first).
        password = f"pw-{secrets.token_urlsafe(18)}"
        wrong = f"wrong-pw-{secrets.token_urlsafe(18)}"
        self.secrets["password"] = [password]
        self.secrets["wrong password"] = [wrong]
        username = f"otel{tag}"
        self.expect("create-user", self.http("POST", "/api/v1/iam", {"operation": "create-user", "workspace": "default", "user": {
            "username": username, "name": "OTel E2E", "password": password, "roles": ["writer"]}}, token=admin), 200)
        self.expect("login with a wrong password", self.http("POST", "/api/v1/auth/login", {"username": username, "password": wrong}), 401)
        login = self.expect("login", self.http("POST", "/api/v1/auth/login", {"username": username, "password": password}), 200)
        if login and login.get("jwt"):
            self.secrets["login JWT"] = [login["jwt"], login["jwt"].rsplit(".", 1)[-1]]
            self.expect("whoami", self.http("POST", "/api/v1/iam", {"operation": "whoami"}, token=login["jwt"]), 200)
        # An agent, registered with its public key (made by `tessera key gen`).
        key_dir = os.path.join(WORK, f"agent-key-{self.label}")
        done = self.cli("key", "gen", "--out-dir", key_dir, "--json")
        if done.returncode != 0:
            self.problems.append(f"tessera key gen: exit {done.returncode}: {done.stderr[-400:]}")
            return False
        with open(os.path.join(key_dir, "public.jwk")) as handle:
            public_jwk = json.load(handle)
        agent = self.expect("register agent", self.http("POST", "/v1/agents", {"name": f"otel-e2e-{tag}", "public_jwk": public_jwk}, token=admin), 201)
        if not agent:
            return False
        self.agent_id = agent.get("id")
        # A passport: a tool allow-list and one argument constraint (a regex: the values sent are not in the passport).
        mission = {"agent_id": self.agent_id, "mission": "OpenTelemetry end to end", "allowed_tools": ["read_file"],
                   "forbidden_tools": ["delete_file"], "resource_scope": ["/data/**"], "max_tool_calls": 10,
                   "tools": {TOOL: {"arguments": {ARGUMENT: {"regex": "s3cr3t-arg-value-[a-z0-9-]+"}}}}}
        issued = self.expect("issue passport", self.http("POST", "/issue", {"mission": mission, "ttl_s": 600}, token=admin), 200)
        if not issued:
            return False
        passport = issued["token"]
        self.jti = issued.get("claims", {}).get("jti")
        self.secrets["passport token"] = [passport, passport.rsplit(".", 1)[-1]]
        self.expect("verify passport", self.http("POST", "/verify", {"token": passport}), 200)
        started = self.expect("start session", self.http("POST", "/session/start", {"token": passport}), 200)
        if not started:
            return False
        self.session_id = started["session_id"]
        self.secrets["session id"] = [self.session_id, self.session_id[4:]]
        # /evaluate: PERMIT (the value matches the constraint) and DENY (it does not), each with a traceparent.
        permit_value = f"s3cr3t-arg-value-permit-{secrets.token_hex(8)}"
        deny_value = f"S3CR3T-ARG-VALUE-DENY-{secrets.token_hex(8).upper()}!"
        self.secrets["argument value"] = [permit_value, permit_value.rsplit("-", 1)[-1], deny_value, deny_value.rsplit("-", 1)[-1].rstrip("!")]
        for expected, value in (("PERMIT", permit_value), ("DENY", deny_value)):
            header, trace_id, span_id = traceparent()
            response = self.http("POST", "/evaluate", {"session_id": self.session_id, "tool_name": TOOL, "arguments": {ARGUMENT: value}},
                                 headers={"traceparent": header})
            try:
                body = response.json()
            except ValueError:
                body = {"_text": response.text[:300]}
            self.traces[expected] = {"trace_id": trace_id, "span_id": span_id, "status": response.status_code, "response": body,
                                     "header": header}
        return True


    def mcp_gateway(self):
        """Through /mcp/NAME as an MCP host does (raw streamable HTTP, revision 2025-11-25): initialize,
        then three tools/call, each with its own W3C trace context."""
        endpoint = self.base + "/mcp/" + MCP_NAME
        mission = {"agent_id": self.agent_id or "otel-mcp-agent", "mission": "OpenTelemetry through the MCP gateway", "allowed_tools": ["echo"]}
        issued = self.expect("issue a passport for the gateway (audience = its resource)",
                             self.http("POST", "/issue", {"mission": mission, "audience": endpoint, "ttl_s": 600}, token=self.admin), 200)
        if not issued:
            return False
        passport = issued["token"]
        self.mcp["jti"] = issued.get("claims", {}).get("jti")
        self.secrets["MCP passport token"] = [passport, passport.rsplit(".", 1)[-1]]
        headers = {"Authorization": "Bearer " + passport, "Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

        def post(body, extra=None):
            response = requests.post(endpoint, data=json.dumps(body), headers={**headers, **(extra or {})}, timeout=30)
            return response, mcp_message(response)

        response, message = post({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": MCP_PROTOCOL, "capabilities": {}, "clientInfo": {"name": "otel-e2e", "version": "1"}}})
        if response.status_code != 200 or not (message or {}).get("result"):
            self.problems.append(f"MCP initialize: {response.status_code} {response.text[:300]}")
            return False
        session = response.headers.get("Mcp-Session-Id")
        self.mcp["mcp_session_id"] = session
        common = {"MCP-Protocol-Version": MCP_PROTOCOL, **({"Mcp-Session-Id": session} if session else {})}
        response, _ = post({"jsonrpc": "2.0", "method": "notifications/initialized"}, common)
        if response.status_code not in (200, 202):
            self.problems.append(f"MCP notifications/initialized: {response.status_code} {response.text[:300]}")
        values = [f"mcp-s3cr3t-arg-{secrets.token_hex(8)}" for _ in range(3)]
        self.secrets["MCP argument value"] = values
        calls = []
        # 1: an HTTP traceparent header; 2: none, params._meta.traceparent instead; 3: a tool outside the passport (DENY).
        for label, request_id, tool, arguments, where in (("header", 7, "echo", {"text": values[0]}, "header"),
                                                           ("_meta", 8, "echo", {"text": values[1]}, "_meta"),
                                                           ("denied", 9, "delete_everything", {}, "header")):
            header, trace_id, span_id = traceparent()
            params = {"name": tool, "arguments": arguments}
            extra = dict(common)
            if where == "header":
                extra["traceparent"] = header
            else:
                params["_meta"] = {"traceparent": header}
            response, message = post({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}, extra)
            calls.append({"label": label, "id": request_id, "tool": tool, "where": where, "header": header, "trace_id": trace_id,
                          "span_id": span_id, "status": response.status_code, "message": message, "text": response.text[:500]})
        self.mcp["calls"] = calls
        return True


def mcp_message(response):
    """The JSON-RPC message of a streamable-HTTP answer: application/json, or the first message event of text/event-stream."""
    text = response.text
    if response.headers.get("Content-Type", "").lower().startswith("text/event-stream"):
        for event in re.split(r"\r?\n\r?\n", text):
            data = "\n".join(line[5:].lstrip(" ") if line.startswith("data:") else "" for line in event.splitlines() if line.startswith("data:"))
            if data.strip():
                try:
                    message = json.loads(data)
                except ValueError:
                    continue
                if isinstance(message, dict) and ("result" in message or "error" in message):
                    return message
        return None
    try:
        return response.json()
    except ValueError:
        return None


def upstream_requests():
    try:
        with open(UPSTREAM_REQUESTS) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError):
        return []


def parse_traceparent(value):
    m = re.fullmatch(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})", value or "")
    return {"version": m.group(1), "trace_id": m.group(2), "parent_id": m.group(3), "flags": m.group(4)} if m else None


def received(receiver):
    response = requests.get(receiver + "/_received", timeout=30)
    response.raise_for_status()
    return response.json()


def children(spans, trace_id, parent_id, name=None):
    return [s for s in spans if s["trace_id"] == trace_id and s["parent_span_id"] == parent_id and (name is None or s["name"] == name)]


def in_trace(spans, trace_id):
    return [s for s in spans if s["trace_id"] == trace_id]


def brief(span):
    return {k: span[k] for k in ("name", "kind", "span_id", "parent_span_id", "attributes")}


def complete(spans, trace):
    """True once the server span, tessera.evaluate and tessera.store.write of one call have arrived."""
    for server in children(spans, trace["trace_id"], trace["span_id"]):
        for evaluate in children(spans, trace["trace_id"], server["span_id"], "tessera.evaluate"):
            if children(spans, trace["trace_id"], evaluate["span_id"], "tessera.store.write"):
                return True
    return False


def tool_call_span(spans, call):
    """The `tools/call TOOL` span of one MCP call: under the server span (header), or parented by the _meta context."""
    name = "tools/call " + call["tool"]
    if call["where"] == "header":
        return [c for server in children(spans, call["trace_id"], call["span_id"]) for c in children(spans, call["trace_id"], server["span_id"], name)]
    return children(spans, call["trace_id"], call["span_id"], name)


def mcp_complete(spans, server):
    """True once every MCP call's tools/call span, its tessera.evaluate and (when forwarded) its CLIENT span arrived."""
    for call in server.mcp.get("calls", []):
        found = tool_call_span(spans, call)
        if len(found) != 1:
            return False
        under = children(spans, call["trace_id"], found[0]["span_id"])
        if not any(s["name"] == "tessera.evaluate" for s in under):
            return False
        if call["label"] != "denied" and not any(s["kind"] == "CLIENT" for s in under):
            return False
    return True


def check_mcp(spans, server):
    calls = {c["label"]: c for c in server.mcp.get("calls", [])}
    path = "/mcp/" + MCP_NAME
    answers = {label: (c["status"], (c["message"] or {}).get("error", {}).get("code") if c["message"] else None) for label, c in calls.items()}
    ok = check(f"MCP setup: passport for {SERVER_ON}{path}, initialize, two tools/call echo answered with a result, "
               "tools/call delete_everything refused with -32001",
               not server.problems and len(calls) == 3
               and all(calls[k]["status"] == 200 and (calls[k]["message"] or {}).get("result") and not calls[k]["message"]["result"].get("isError")
                       for k in ("header", "_meta"))
               and answers.get("denied") == (200, -32001),
               {"problems": server.problems, "answers": {k: {"status": c["status"], "text": c["text"]} for k, c in calls.items()}})
    if not ok:
        return
    requests_seen = upstream_requests()
    forwarded = [r for r in requests_seen if r.get("jsonrpc_method") == "tools/call"]
    note(f"upstream got {len(requests_seen)} HTTP requests, {len(forwarded)} tools/call: "
         f"{[(r.get('tool'), r.get('jsonrpc_id'), r.get('traceparent'), r.get('meta_traceparent')) for r in forwarded]}")
    try:
        with open(UPSTREAM_CALLS) as handle:
            upstream_calls = [line.split()[1] for line in handle if line.startswith("CALL ")]
    except OSError:
        upstream_calls = []
    check("MCP: the upstream ran echo twice and never delete_everything (the DENY is not forwarded)",
          upstream_calls == ["echo", "echo"] and [r.get("tool") for r in forwarded] == ["echo", "echo"], {"CALL lines": upstream_calls,
                                                                                                     "forwarded": forwarded})

    # 1: HTTP traceparent → POST /mcp/{name} → tools/call echo → tessera.evaluate + CLIENT → upstream's traceparent.
    for label in ("header", "_meta", "denied"):
        call = calls[label]
        tid = call["trace_id"]
        mine = in_trace(spans, tid)
        title = {"header": "MCP tools/call echo (HTTP traceparent)", "_meta": "MCP tools/call echo (params._meta.traceparent, no header)",
                 "denied": "MCP tools/call delete_everything (DENY, HTTP traceparent)"}[label]
        if call["where"] == "header":
            roots = children(spans, tid, call["span_id"])
            if not check(f"{title}: the HTTP SERVER span continues the caller's trace, named 'POST /mcp/{{name}}'",
                         len(roots) == 1 and roots[0]["kind"] == "SERVER" and roots[0]["name"] == "POST /mcp/{name}",
                         {"spans with this trace id": [brief(s) for s in mine], "spans received": len(spans)}):
                continue
            attrs = roots[0]["attributes"]
            check(f"{title}: server span http.request.method=POST, http.route=/mcp/{{name}}, url.path={path}, http.response.status_code=200",
                  attrs.get("http.request.method") == "POST" and attrs.get("http.route") == "/mcp/{name}" and attrs.get("url.path") == path
                  and attrs.get("http.response.status_code") == 200, attrs)
        found = tool_call_span(spans, call)
        where = "child of the server span" if call["where"] == "header" else \
            f"in the _meta trace ({tid[:8]}…), parent = the _meta span id"
        if not check(f"{title}: one INTERNAL span 'tools/call {call['tool']}', {where}",
                     len(found) == 1 and found[0]["kind"] == "INTERNAL",
                     {"matching": [brief(s) for s in found], "spans with this trace id": [brief(s) for s in mine],
                      "tools/call spans received": [brief(s) for s in spans if s["name"].startswith("tools/call")]}):
            continue
        tool_span = found[0]
        got = tool_span["attributes"]
        message = call["message"]
        decision = "DENY" if label == "denied" else "PERMIT"
        receipt = ((message.get("result") or {}).get("_meta") or {}).get("io.tessera/receipt") if decision == "PERMIT" else \
            ((message.get("error") or {}).get("data") or {}).get("receipt_id")
        wanted = {"mcp.method.name": "tools/call", "gen_ai.tool.name": call["tool"], "gen_ai.operation.name": "execute_tool",
                  "jsonrpc.request.id": str(call["id"]), "mcp.protocol.version": MCP_PROTOCOL, "network.transport": "tcp",
                  "tessera.decision": decision, "tessera.receipt.id": receipt}
        wrong = {k: {"wanted": v, "got": got.get(k)} for k, v in wanted.items()
                 if v is None or (str(got.get(k)) if k == "jsonrpc.request.id" and got.get(k) is not None else got.get(k)) != v}
        check(f"{title}: attributes mcp.method.name, gen_ai.tool.name, gen_ai.operation.name=execute_tool, jsonrpc.request.id, "
              f"mcp.protocol.version, network.transport=tcp, tessera.decision={decision}, tessera.receipt.id (= the answer's)",
              not wrong, {"mismatches": wrong, "attributes": got, "answer": message})
        if label == "header":
            note(f"tools/call span: mcp.session.id {'present' if 'mcp.session.id' in got else 'absent'}; attribute keys {sorted(got)}")
        if decision == "DENY":
            reason = (((message.get("error") or {}).get("data") or {}).get("reason")) or ""
            check(f"{title}: tessera.reason is the rule only ({rule_of(reason)!r}, of the answer's reason {reason[:60]!r})",
                  reason and got.get("tessera.reason") == rule_of(reason) and not re.search(r"[: ]", str(got.get("tessera.reason"))),
                  {"tessera.reason": got.get("tessera.reason"), "answer": message})
        under = children(spans, tid, tool_span["span_id"])
        evaluates = [s for s in under if s["name"] == "tessera.evaluate"]
        ok = check(f"{title}: tessera.evaluate is a child of the tools/call span", len(evaluates) == 1,
                   {"children of the tools/call span": [brief(s) for s in under], "all spans of the trace": [brief(s) for s in mine]})
        if ok:
            ev = evaluates[0]["attributes"]
            wanted = {"tessera.decision": decision, "tessera.tool": call["tool"], "tessera.passport.jti": server.mcp.get("jti"),
                      "tessera.receipt.id": receipt}
            wrong = {k: {"wanted": v, "got": ev.get(k)} for k, v in wanted.items() if v is None or ev.get(k) != v}
            ref = ev.get("tessera.session.ref")
            check(f"{title}: tessera.evaluate attributes decision, tool, passport.jti (the gateway passport's), receipt.id, "
                  "tessera.session.ref (sesref_…)", not wrong and isinstance(ref, str) and re.fullmatch(r"sesref_[A-Za-z0-9_-]{22}", ref),
                  {"mismatches": wrong, "attributes": ev})
        clients = [s for s in under if s["kind"] == "CLIENT"]
        if label == "denied":
            check(f"{title}: no CLIENT span under it (nothing forwarded upstream)", not clients, [brief(s) for s in clients])
            continue
        if not check(f"{title}: the upstream HTTP call is a CLIENT span, child of the tools/call span", len(clients) == 1,
                     {"children of the tools/call span": [brief(s) for s in under], "all spans of the trace": [brief(s) for s in mine]}):
            continue
        client = clients[0]
        note(f"{title}: CLIENT span {client['name']!r}, attributes {sorted(client['attributes'])}")
        index = 0 if label == "header" else 1
        seen = forwarded[index] if len(forwarded) > index else {}
        context = parse_traceparent(seen.get("traceparent"))
        check(f"{title}: the upstream received a traceparent header of the same trace ({tid[:8]}…)",
              context and context["trace_id"] == tid, {"upstream request": seen, "wanted trace id": tid})
        check(f"{title}: the upstream's traceparent names the CLIENT span as its parent (W3C propagation)",
              context and context["parent_id"] == client["span_id"], {"upstream traceparent": seen.get("traceparent"),
                                                                         "CLIENT span id": client["span_id"]})
    problems = {s["name"]: s["resource"] for c in calls.values() for s in in_trace(spans, c["trace_id"])
                if s["resource"].get("service.name") != SERVICE_NAME or s["resource"].get("deployment.environment") != ENVIRONMENT}
    check(f"MCP: resource service.name={SERVICE_NAME}, deployment.environment={ENVIRONMENT} on every span of the three traces",
          not problems, problems)


def check_trace(spans, server, decision):
    trace = server.traces[decision]
    tid, sid, body = trace["trace_id"], trace["span_id"], trace["response"]
    label = f"{decision} /evaluate"
    mine = in_trace(spans, tid)
    roots = children(spans, tid, sid)
    if not check(f"{label}: a span continues the caller's trace (trace id {tid[:8]}…, parent = the sent span id)", len(roots) == 1,
                 {"spans with this trace id": [brief(s) for s in mine],
                  "trace ids received (first 10)": sorted({s["trace_id"] for s in spans})[:10], "spans received": len(spans)}):
        return
    root = roots[0]
    attrs = root["attributes"]
    check(f"{label}: that span is the HTTP SERVER span named 'POST /evaluate'", root["kind"] == "SERVER" and root["name"] == "POST /evaluate",
          brief(root))
    check(f"{label}: server span http.request.method=POST, http.response.status_code={trace['status']}",
          attrs.get("http.request.method") == "POST" and attrs.get("http.response.status_code") == trace["status"]
          and isinstance(attrs.get("http.response.status_code"), int), attrs)
    check(f"{label}: server span http.route=/evaluate, url.path=/evaluate",
          attrs.get("http.route") == "/evaluate" and attrs.get("url.path") == "/evaluate", attrs)
    evaluates = children(spans, tid, root["span_id"], "tessera.evaluate")
    if not check(f"{label}: tessera.evaluate is a child of the server span", len(evaluates) == 1,
                 {"children of the server span": [brief(s) for s in children(spans, tid, root["span_id"])],
                  "all spans of the trace": [brief(s) for s in mine]}):
        evaluate = None
    else:
        evaluate = evaluates[0]
        got = evaluate["attributes"]
        wanted = {"tessera.decision": decision, "tessera.tool": TOOL, "tessera.passport.jti": server.jti, "tessera.workspace": "default",
                  "tessera.receipt.id": body.get("receipt_id"), "tessera.session.ref": session_ref(server.session_id) if server.session_id else None}
        wrong = {k: {"wanted": v, "got": got.get(k)} for k, v in wanted.items() if got.get(k) != v or v is None}
        if "tessera.session.id" in got:
            wrong["tessera.session.id"] = {"wanted": "(absent: the session id is a bearer capability)", "got": got["tessera.session.id"]}
        check(f"{label}: tessera.evaluate attributes decision, tool, passport.jti, workspace, receipt.id, "
              "session.ref (= sesref_ of the session id; no tessera.session.id)", not wrong, {"mismatches": wrong, "attributes": got})
        if decision == "DENY":
            rule = rule_of(body.get("reason"))
            check(f"{label}: tessera.evaluate tessera.reason is the rule of the answer's reason ({rule!r} of {str(body.get('reason'))[:60]!r})",
                  rule and got.get("tessera.reason") == rule and not re.search(r"[: ]", str(got.get("tessera.reason"))), got)
        writes = children(spans, tid, evaluate["span_id"], "tessera.store.write")
        check(f"{label}: tessera.store.write is a child of tessera.evaluate", len(writes) >= 1,
              {"children of tessera.evaluate": [brief(s) for s in children(spans, tid, evaluate["span_id"])],
               "all spans of the trace": [brief(s) for s in mine]})
    problems = {s["name"]: s["resource"] for s in mine
                if s["resource"].get("service.name") != SERVICE_NAME or s["resource"].get("deployment.environment") != ENVIRONMENT}
    check(f"{label}: resource service.name={SERVICE_NAME}, deployment.environment={ENVIRONMENT} on every span of the trace",
          mine and not problems, problems or "no spans")


def haystacks(snapshot):
    """Every form a payload was seen in: bytes as received, after Content-Encoding, protobuf text, flattened JSON."""
    for entry in snapshot["requests"]:
        where = f"request #{entry['index']} {entry.get('method')} {entry.get('path')}"
        yield where + " (raw bytes)", base64.b64decode(entry.get("raw_b64", ""))
        yield where + " (decoded bytes)", base64.b64decode(entry.get("body_b64", ""))
        yield where + " (protobuf text)", entry.get("text", "").encode()
        yield where + " (headers)", json.dumps(entry.get("headers", {})).encode()
    for kind in ("spans", "logs", "metrics"):
        yield f"flattened {kind}", json.dumps(snapshot[kind], ensure_ascii=False).encode()


def find_secret(snapshots, value):
    needle = value.encode()
    hits = []
    for receiver, snapshot in snapshots.items():
        for where, data in haystacks(snapshot):
            at = data.find(needle)
            if at >= 0:
                excerpt = data[max(0, at - 120): at + len(needle) + 60]
                hits.append(f"{receiver} {where}: …{excerpt!r}…")
    return hits


def main():
    on = Tessera(SERVER_ON, "on")
    off = Tessera(SERVER_OFF, "off")
    disabled = Tessera(SERVER_DISABLED, "disabled")

    print(f"otel-e2e: OpenTelemetry on ({SERVER_ON} → {RECEIVER_ON})", file=sys.stderr, flush=True)
    on.setup_and_evaluate()
    check("setup (tracing on): bootstrap, sign-in, agent, passport, session answered as documented", not on.problems, on.problems)
    if on.admin:
        print(f"otel-e2e: MCP HTTP gateway ({SERVER_ON}/mcp/{MCP_NAME})", file=sys.stderr, flush=True)
        on.mcp_gateway()
    for decision in ("PERMIT", "DENY"):
        trace = on.traces.get(decision)
        check(f"setup (tracing on): /evaluate answered 200 {decision}",
              trace and trace["status"] == 200 and trace["response"].get("decision") == decision and trace["response"].get("receipt_id"),
              trace)

    print(f"otel-e2e: OpenTelemetry off ({SERVER_OFF}) and OTEL_SDK_DISABLED=true ({SERVER_DISABLED})", file=sys.stderr, flush=True)
    off.setup_and_evaluate()
    disabled.setup_and_evaluate()
    quiet_since = time.monotonic()
    for server, what in ((off, "no OTEL_* set"), (disabled, "OTEL_SDK_DISABLED=true")):
        answers = {d: (t["status"], t["response"].get("decision")) for d, t in server.traces.items()}
        check(f"setup ({what}): every call answered as documented, PERMIT and DENY",
              not server.problems and answers == {"PERMIT": (200, "PERMIT"), "DENY": (200, "DENY")}, {"problems": server.problems, "answers": answers})

    # Spans of the traced server: poll (bounded) until both calls' server span → tessera.evaluate → tessera.store.write arrived.
    deadline = time.monotonic() + SPAN_WAIT_S
    snapshot = received(RECEIVER_ON)
    while time.monotonic() < deadline and not (all(complete(snapshot["spans"], t) for t in on.traces.values())
                                               and mcp_complete(snapshot["spans"], on)):
        time.sleep(0.25)
        snapshot = received(RECEIVER_ON)
    note(f"receiver (tracing on): {len(snapshot['requests'])} requests, {len(snapshot['spans'])} spans, "
         f"{len(snapshot['logs'])} log records, {len(snapshot['metrics'])} metrics; "
         f"span names: {sorted({s['name'] for s in snapshot['spans']})}")
    check(f"spans arrived within {SPAN_WAIT_S} s", snapshot["spans"], {"requests": [
        {k: e.get(k) for k in ("path", "content_type", "content_encoding", "raw_size", "error")} for e in snapshot["requests"]]})
    bad = [{k: e.get(k) for k in ("index", "method", "path", "content_type", "content_encoding", "raw_size", "error")}
           for e in snapshot["requests"] if not e.get("decoded")]
    check("every export is a POST of application/x-protobuf to /v1/traces, /v1/logs or /v1/metrics that opentelemetry-proto decodes",
          snapshot["requests"] and not bad, bad or "no requests")
    for decision in ("PERMIT", "DENY"):
        if decision in on.traces:
            check_trace(snapshot["spans"], on, decision)
    check_mcp(snapshot["spans"], on)

    receiver_port = RECEIVER_ON.rsplit(":", 1)[-1]
    self_spans = [s for s in snapshot["spans"] if str(s["attributes"].get("server.port")) == receiver_port
                  or str(s["attributes"].get("url.full", "")).startswith(RECEIVER_ON)]
    check("no span describes the exporter's own uploads to the receiver", not self_spans,
          [(s["kind"], s["name"], s["attributes"].get("url.full")) for s in self_spans][:5])
    with_id = [brief(s) for s in snapshot["spans"] if "tessera.session.id" in s["attributes"]]
    check("no span carries a tessera.session.id attribute (tessera.session.ref instead)", not with_id, with_id[:3])

    # Logs (OTEL_LOGS_EXPORTER=otlp) and metrics (not asked for: OTEL_METRICS_EXPORTER unset).
    check("log records exported to /v1/logs (OTEL_LOGS_EXPORTER=otlp)", snapshot["logs"],
          {"paths": sorted({e.get("path") for e in snapshot["requests"]})})
    if snapshot["logs"]:
        services = sorted({str(r["resource"].get("service.name")) for r in snapshot["logs"]})
        check(f"log records carry resource service.name={SERVICE_NAME}", services == [SERVICE_NAME], services)
        traced = [r for r in snapshot["logs"] if r["trace_id"] in {t["trace_id"] for t in on.traces.values()}]
        note(f"log records correlated with the two /evaluate traces: {len(traced)}")
    metric_requests = [e["index"] for e in snapshot["requests"] if e.get("path", "").startswith("/v1/metrics")]
    check("no metrics exported without OTEL_METRICS_EXPORTER=otlp", not metric_requests,
          {"metric requests": metric_requests, "metrics": sorted({m['name'] for m in snapshot['metrics']})[:40]})

    # Off and disabled: nothing at all, watched for QUIET_WAIT_S after their last call.
    remaining = QUIET_WAIT_S - (time.monotonic() - quiet_since)
    if remaining > 0:
        time.sleep(remaining)
    snapshots = {"receiver (tracing on)": received(RECEIVER_ON), "receiver (OTEL_SDK_DISABLED=true)": received(RECEIVER_DISABLED)}
    if RECEIVER_DEFAULT:
        snapshots["receiver on the OTLP default port 4318"] = received(RECEIVER_DEFAULT)
    for server, what in ((off, "OpenTelemetry off by default (no OTEL_*)"), (disabled, "OTEL_SDK_DISABLED=true with an endpoint set")):
        ids = {t["trace_id"] for t in server.traces.values()}
        leaked = {name: [brief(s) for s in snap["spans"] if s["trace_id"] in ids] + [r for r in snap["logs"] if r["trace_id"] in ids]
                  for name, snap in snapshots.items()}
        leaked = {k: v for k, v in leaked.items() if v}
        check(f"{what}: its traces reached no receiver ({QUIET_WAIT_S} s after its calls)", not leaked, leaked)
    disabled_requests = snapshots["receiver (OTEL_SDK_DISABLED=true)"]["requests"]
    check("OTEL_SDK_DISABLED=true: its endpoint got no request at all (traces, logs or metrics)", not disabled_requests,
          [{k: e.get(k) for k in ("path", "content_type", "raw_size", "service_names")} for e in disabled_requests])
    if RECEIVER_DEFAULT:
        default_requests = snapshots["receiver on the OTLP default port 4318"]["requests"]
        check("OpenTelemetry off: nothing sent to the OTLP default endpoint http://127.0.0.1:4318", not default_requests,
              [{k: e.get(k) for k in ("path", "content_type", "raw_size", "service_names")} for e in default_requests])
    else:
        note("port 4318 was taken: the OTLP default endpoint was not watched")

    # Secrets: no payload any receiver got holds one (argument names may appear). The search must
    # first find what is meant to be there (the tool name of tessera.tool), or it proves nothing.
    control = find_secret({"receiver (tracing on)": snapshots["receiver (tracing on)"]}, TOOL)
    for kind in ("admin API key", "password", "wrong password", "login JWT", "passport token", "session id", "argument value",
                 "MCP passport token", "MCP argument value"):
        hits = []
        for server in (on, off, disabled):
            for value in server.secrets.get(kind, []):
                hits += find_secret(snapshots, value)
        used = any(kind in s.secrets for s in (on, off, disabled))
        check(f"no exported payload (traces, logs, metrics; raw and decoded) holds the {kind}s used", used and control and not hits,
              hits or (f"no {kind} was used" if not used else f"nothing to search: the tool name {TOOL!r} is in no exported payload"))
    if os.environ.get("OTEL_E2E_DUMP"):
        with open(os.environ["OTEL_E2E_DUMP"], "w") as handle:
            json.dump({"servers": {s.label: {"traces": s.traces, "session_id": s.session_id, "jti": s.jti} for s in (on, off, disabled)},
                       "received": snapshots}, handle, indent=1)
        note(f"everything received: {os.environ['OTEL_E2E_DUMP']}")
    names = find_secret({"receiver (tracing on)": snapshots["receiver (tracing on)"]}, f'"{ARGUMENT}"')
    note(f"argument name {ARGUMENT!r} appears in exported payloads: {'yes' if names else 'no'} (allowed)")
    summary()


if __name__ == "__main__":
    main()
