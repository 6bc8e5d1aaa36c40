#!/usr/bin/env python3
"""An AuthZEN client written from the OpenID AuthZEN Authorization API 1.0 text (plain urllib, no
Tessera code), run against two `tessera serve` processes that share one SQLite state directory.

It checks the PDP metadata document, single Access Evaluations (PERMIT, DENY, APPROVAL_REQUIRED,
a passport subject, errors, X-Request-ID, idempotency), a boxcar of 100 with each of the three
evaluations semantics (the number of decisions and of receipts written), and that budgets stay
exact when /evaluate and AuthZEN interleave on one session across both processes.
Environment: AUTHZEN_NODES (two base URLs, space-separated), TESSERA_TOKEN (an admin API key).
Prints one line per check and "N passed, N failed"; exits 1 on any failure.
"""
import json
import os
import sys
import threading
import urllib.error
import urllib.request

NODES = os.environ["AUTHZEN_NODES"].split()
TOKEN = os.environ["TESSERA_TOKEN"]
PASSED, FAILED = 0, 0


def check(name, condition, detail=""):
    global PASSED, FAILED
    if condition:
        PASSED += 1
        print(f"ok   {name}")
    else:
        FAILED += 1
        print(f"FAIL {name} {detail}")


def call(method, url, body=None, token=TOKEN, headers=None):
    """(status, parsed JSON or text, headers) for one HTTP exchange; errors are answers too."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    text = raw.decode()
    try:
        return status, json.loads(text), got
    except ValueError:
        return status, text, got


# -- The PEP's side: discovery, then the two endpoints it found there ---------------------------

def discover(base):
    """Spec: metadata at {pdp}/.well-known/authzen-configuration; policy_decision_point MUST be
    identical to the identifier the URL was built from, or the document MUST NOT be used."""
    status, meta, headers = call("GET", base + "/.well-known/authzen-configuration", token=None)
    return status, meta, headers


def evaluation(base, body, headers=None, token=TOKEN):
    return call("POST", base + "/access/v1/evaluation", body, token=token, headers=headers)


def evaluations(base, body):
    return call("POST", base + "/access/v1/evaluations", body)


def subject(kind, ident):
    return {"type": kind, "id": ident}


def tool_call(tool, arguments):
    return {"action": {"name": tool}, "resource": {"type": "tool_call", "id": tool, "properties": {"arguments": arguments}}}


READ = ("read_file", {"path": "/data/q3/report.csv"})
DELETE = ("delete_file", {"path": "/data/q3/report.csv"})


# -- Tessera's own API, only to set up sessions and count receipts ------------------------------

def passport(base, mission, ttl=600):
    status, body, _ = call("POST", base + "/issue", {"mission": mission, "ttl_s": ttl})
    assert status == 200, body
    return body["token"], body["claims"]["jti"]


def session(base, mission, ttl=600):
    token, jti = passport(base, mission, ttl)
    status, body, _ = call("POST", base + "/session/start", {"token": token}, token=None)
    assert status == 200, body
    return body["session_id"], jti


def receipts(base, session_id):
    request = urllib.request.Request(f"{base}/receipts?session_id={session_id}")
    request.add_header("Authorization", f"Bearer {TOKEN}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return len([line for line in response.read().decode().splitlines() if line.strip()])


def mission(calls=1000, tools=None):
    out = {"agent_id": "authzen-e2e", "mission": "AuthZEN interop", "allowed_tools": ["read_file", "list_dir"],
           "forbidden_tools": ["delete_file"], "resource_scope": ["/data/**"], "max_tool_calls": calls}
    if tools:
        out["tools"] = tools
    return out


def main():
    a, b = NODES
    # Metadata
    status, meta, headers = discover(a)
    check("metadata: 200 application/json", status == 200 and headers.get("Content-Type", "").startswith("application/json"), status)
    check("metadata: policy_decision_point is the PDP identifier", isinstance(meta, dict) and meta.get("policy_decision_point") == a, meta)
    check("metadata: access_evaluation_endpoint", meta.get("access_evaluation_endpoint") == a + "/access/v1/evaluation", meta)
    check("metadata: access_evaluations_endpoint", meta.get("access_evaluations_endpoint") == a + "/access/v1/evaluations", meta)
    check("metadata: no search endpoints (not offered)", not any(k.startswith("search_") for k in meta), meta)
    single_url = meta["access_evaluation_endpoint"]

    # Single evaluations
    sid, jti = session(a, mission())
    status, body, headers = call("POST", single_url, {"subject": subject("session", sid), **tool_call(*READ)},
                                 headers={"X-Request-ID": "bfe9eb29-ab87-4ca3-be83-a1d5d8305716"})
    check("single: PERMIT is decision true", status == 200 and body.get("decision") is True, (status, body))
    check("single: context carries PERMIT, receipt_id, calls_remaining",
          body.get("context", {}).get("decision") == "PERMIT" and body["context"].get("receipt_id")
          and body["context"].get("calls_remaining") == 999, body)
    check("single: X-Request-ID echoed", headers.get("X-Request-ID") == "bfe9eb29-ab87-4ca3-be83-a1d5d8305716", dict(headers))
    status, body, _ = evaluation(b, {"subject": subject("session", sid), **tool_call(*DELETE)})
    check("single: DENY is decision false (other node)", status == 200 and body.get("decision") is False
          and body["context"].get("decision") == "DENY" and body["context"].get("reason"), (status, body))
    status, body, _ = evaluation(b, {"subject": subject("passport", jti), **tool_call(*READ)})
    check("single: passport subject evaluates on its session", status == 200 and body.get("decision") is True
          and body["context"].get("calls_remaining") == 998, (status, body))
    approval_tools = {"transfer": {"arguments": {"amount": {"range": {"min": 0, "max": 1000}}},
                                   "requires_approval": {"when": {"amount": {"range": {"min": 100}}}, "approvers": ["role:approver"]}}}
    pay, _ = session(a, {"agent_id": "pay", "mission": "pay", "max_tool_calls": 5, "tools": approval_tools})
    status, body, _ = evaluation(a, {"subject": subject("session", pay), **tool_call("transfer", {"amount": 500})})
    check("single: APPROVAL_REQUIRED is decision false with approval_id", status == 200 and body.get("decision") is False
          and body["context"].get("decision") == "APPROVAL_REQUIRED" and body["context"].get("approval_id"), (status, body))

    # Idempotency across nodes
    request = {"subject": subject("session", sid), **tool_call(*READ), "context": {"request_id": "e2e-1"}}
    _, first, _ = evaluation(a, request)
    _, again, _ = evaluation(b, request)
    check("idempotency: same request_id on the other node returns the same receipt",
          first["context"]["receipt_id"] == again["context"]["receipt_id"]
          and again["context"]["calls_remaining"] == first["context"]["calls_remaining"], (first, again))
    other = dict(request, **tool_call("list_dir", {"path": "/data"}))
    status, body, _ = evaluation(a, other)
    check("idempotency: request_id reused for another call is 409", status == 409 and isinstance(body.get("error"), str), (status, body))

    # Errors (transport level)
    status, body, headers = evaluation(a, {"subject": subject("session", sid), **tool_call(*READ)}, token=None)
    check("errors: no credential is 401 with WWW-Authenticate", status == 401 and "WWW-Authenticate" in headers, (status, body))
    status, body, _ = evaluation(a, tool_call(*READ))
    check("errors: missing subject is 400 naming it", status == 400 and "subject" in body.get("message", ""), (status, body))
    status, body, _ = evaluation(a, {"subject": subject("session", sid), "action": {"name": "read_file"},
                                     "resource": {"type": "tool_call", "id": "delete_file"}})
    check("errors: action.name / resource.id mismatch is 400 naming both",
          status == 400 and "action.name" in body.get("message", "") and "resource.id" in body.get("message", ""), (status, body))
    status, body, _ = evaluation(a, {"subject": subject("session", "no-such-session"), **tool_call(*READ)})
    check("errors: unknown subject is 404", status == 404 and body.get("error") == "unknown_subject", (status, body))
    status, body, _ = evaluation(a, b'{"subject":{"type":"session","id":"x","id":"y"},"action":{"name":"t"},"resource":{"type":"tool_call","id":"t"}}')
    check("errors: duplicate member names are 400", status == 400, (status, body))
    status, body, _ = evaluations(a, {"subject": subject("session", sid), "evaluations": [tool_call(*READ)] * 1001})
    check("errors: 1,001 evaluations is 400", status == 400, (status, body))

    # Boxcars of 100, one per semantic, each on a fresh session: count decisions and receipts.
    for semantic, deny_at, expected in (("execute_all", 49, 100), ("deny_on_first_deny", 49, 50), ("permit_on_first_permit", None, 11)):
        sid, _ = session(a, mission())
        if semantic == "permit_on_first_permit":
            items = [tool_call(*DELETE)] * 10 + [tool_call(*READ)] * 90
        else:
            items = [tool_call(*(DELETE if i == deny_at else READ)) for i in range(100)]
        status, body, _ = evaluations(b, {"subject": subject("session", sid), "options": {"evaluations_semantic": semantic},
                                          "evaluations": items})
        results = body.get("evaluations", []) if isinstance(body, dict) else []
        check(f"boxcar {semantic}: 200 with {expected} decisions", status == 200 and len(results) == expected, (status, len(results)))
        wanted = [not (semantic == "permit_on_first_permit" and i < 10) and i != deny_at for i in range(expected)]
        check(f"boxcar {semantic}: decisions in request order", [r.get("decision") for r in results] == wanted)
        check(f"boxcar {semantic}: {expected} receipts written", receipts(a, sid) == expected, receipts(a, sid))
    # Defaults and an item overriding them.
    sid, _ = session(a, mission())
    status, body, _ = evaluations(a, {"subject": subject("session", sid), **tool_call(*READ),
                                      "evaluations": [{}, tool_call(*DELETE), {"context": {"request_id": "x1"}}]})
    check("boxcar: top-level defaults fill items, items override them",
          status == 200 and [r.get("decision") for r in body.get("evaluations", [])] == [True, False, True], (status, body))

    # Budgets exact with /evaluate and AuthZEN interleaved across both processes.
    budget = 40  # fewer than the 50 calls the workers ask for
    sid, _ = session(a, mission(calls=budget))
    permits, lock, errors = [0], threading.Lock(), []

    def worker(kind, node):
        try:
            for _ in range(5):
                if kind == "evaluate":
                    status, body, _ = call("POST", node + "/evaluate", {"session_id": sid, "tool_name": READ[0], "arguments": READ[1]}, token=None)
                    won = int(status == 200 and body.get("decision") == "PERMIT")
                elif kind == "single":
                    status, body, _ = evaluation(node, {"subject": subject("session", sid), **tool_call(*READ)})
                    won = int(status == 200 and body.get("decision") is True)
                else:
                    status, body, _ = evaluations(node, {"subject": subject("session", sid), "evaluations": [tool_call(*READ)] * 3})
                    won = sum(1 for r in body.get("evaluations", []) if r.get("decision") is True) if status == 200 else 0
                if status != 200:
                    errors.append((kind, status, body))
                with lock:
                    permits[0] += won
        except Exception as error:  # noqa: BLE001 - reported as a failed check
            errors.append((kind, repr(error)))

    threads = [threading.Thread(target=worker, args=(kind, node)) for kind in ("evaluate", "single", "boxcar") for node in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    asked = 2 * 5 * (1 + 1 + 3)
    check("budget: every request answered 200", not errors, errors[:3])
    check(f"budget: exactly {budget} PERMITs of {asked} calls across two processes", permits[0] == budget, permits[0])
    check(f"budget: {asked} receipts (every decision receipted once)", receipts(b, sid) == asked, receipts(b, sid))
    status, body, _ = evaluation(b, {"subject": subject("session", sid), **tool_call(*READ)})
    check("budget: the next call is DENY with calls_remaining 0", body.get("decision") is False
          and body.get("context", {}).get("calls_remaining") == 0, body)

    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
