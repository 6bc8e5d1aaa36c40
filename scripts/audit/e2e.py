#!/usr/bin/env python3
"""The audit stream (issue 29, docs/audit.md) checked from outside, as a SIEM operator sees it.

Receivers of our own (scripts/audit/receivers.py): an NDJSON file, an RFC 6587/5424 syslog listener
on TCP loopback, a webhook receiver that deduplicates by event id. Then:

1. main: one `tessera serve` with a file sink, the syslog sink, the webhook sink and a second file
   sink filtered to workspace OTHER. A scripted session — bootstrap, a user created, a failed login
   (wrong password; unknown username) and a successful one, an API key created and revoked, an agent
   registered and renamed, a user created and deleted, a passport issued, its session started,
   PERMIT, DENY, APPROVAL_REQUIRED granted then PERMIT, APPROVAL_REQUIRED denied, the passport
   revoked; a second workspace created and renamed, its user, passport, session, PERMIT and end.
   Every sink must hold exactly the expected events, in order per session, with the common shape
   (sessions named by session_ref = sesref_ + base64url(SHA-256(session id)[:16]), never session_id;
   reasons the rule only; failed logins by an anonymous actor), and no secret in any byte (admin API
   key, passwords, login JWTs, API keys, passports, raw session ids, argument values).
2. outage: the webhook answers 503, then is stopped; decisions go on; `kill -9`; the server
   restarts on the same state directory; the receiver comes back: every event of the outage
   arrives within 30 s (duplicates allowed, none lost); syslog reconnects.
3. fail_closed: with an unreachable `on_failure=fail_closed` webhook, /evaluate answers 503
   audit_unavailable within 10 s and spends nothing; once the receiver is back, PERMIT again.
4. drop + rotation: an unreachable default (drop) webhook never slows /evaluate (each answer
   within 2 s); a file sink with max_bytes=2048&keep=2 rotates without splitting a line.

Environment (set by scripts/audit-e2e): TESSERA_BIN, AUDIT_WORK.
"""
import glob
import json
import os
import secrets as random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (WORK, Tessera, check, event_problems, event_time, info, keys_sorted, metric_values, mode, read_ndjson,  # noqa: E402
                    secrets_found, session_ref, summary, until)
from receivers import SyslogListener, WebhookReceiver  # noqa: E402

OTHER = "siem-other"
AUDIT_DIR = os.path.join(WORK, "audit")
AUDIT_FILE = os.path.join(AUDIT_DIR, "audit.ndjson")
WS_FILE = os.path.join(AUDIT_DIR, "ws.ndjson")
SECRETS = {}          # name → value that must never appear in any sink's bytes
ABSENT = "(absent)"   # an expected event's workspace: the event must have none
SERVERS = []


def secret(name, value):
    SECRETS[name] = value
    return value


def jwt_secrets(name, token):
    """A JWT: the whole token and its signature (either alone would be a leak)."""
    secret(name, token)
    secret(name + " (signature)", token.rsplit(".", 1)[-1])


def api_key_secrets(name, key):
    """An API key: all but its public prefix (tsk_ + 4 characters may be shown)."""
    secret(name, key[8:])


def expect_ok(name, result, want=200):
    status, body, _ = result
    if not check(name, status == want, (status, body)):
        raise Abort(name)
    return body


class Abort(Exception):
    pass


# --- the sinks' contents -----------------------------------------------------------------------------
def file_events(path=AUDIT_FILE):
    events, problems, _ = read_ndjson(path)
    return events, problems


def wait_delivered(syslog, hook, minimum_ids, timeout=20):
    """Waits until the file holds every id in minimum_ids (a set, or a count of scripted events
    via a predicate) and syslog and webhook hold every id of the file; then 1 s more so that
    anything extra would show. Returns seconds waited."""

    def ready():
        events, _ = file_events()
        ids = {e.get("id") for e in events}
        if not minimum_ids(events):
            return False
        messages, _, _ = syslog.snapshot()
        syslog_ids = {m["event"].get("id") for m in messages if isinstance(m.get("event"), dict)}
        return ids <= syslog_ids and ids <= hook.ids()

    ok, waited = until(ready, timeout, 0.2)
    time.sleep(1.0)
    return ok, waited


def group_of(event, sessions):
    """Which scripted session an event belongs to: by session_ref, passport_jti or approval_id."""
    for label, s in sessions.items():
        if event.get("session_ref") == session_ref(s["session_id"]) or event.get("passport_jti") == s["jti"] or \
                (event.get("approval_id") and event.get("approval_id") in s["approvals"]):
            return label
    return None


def sequence_problems(actual, slots):
    """actual: [(type, outcome)…]; slots: [set of (type, outcome)] each met consecutively, in any
    order within the slot. Returns a description of the first mismatch, or None."""
    i = 0
    for n, slot in enumerate(slots):
        got = actual[i:i + len(slot)]
        if sorted(got) != sorted(slot):
            return f"at position {i} (slot {n}) expected {sorted(slot)}, got {got}; whole sequence {actual}"
        i += len(slot)
    if i != len(actual):
        return f"unexpected trailing events {actual[i:]}; whole sequence {actual}"
    return None


def common_checks(prefix, events, problems):
    check(f"{prefix}: every line is one JSON object, the file ends with a newline", not problems, problems[:5])
    shape = [p for e in events for p in event_problems(e)]
    check(f"{prefix}: every event has the common shape (schema tessera.audit/1, evt_ id, RFC 3339 ms time, contract type/outcome, "
          "actor, ocsf.class_uid/type_uid, node)", events and not shape, shape[:8] or "no events")
    ids = [e.get("id") for e in events]
    check(f"{prefix}: event ids unique ({len(ids)} events)", ids and len(ids) == len(set(ids)), [i for i in set(ids) if ids.count(i) > 1][:5])


# --- phase 1 ------------------------------------------------------------------------------------------
def main_phase(syslog, hook):
    print("audit-e2e: main — one server, four sinks, a scripted session", file=sys.stderr, flush=True)
    state = os.path.join(WORK, "state-main")
    sinks = [f"file://{AUDIT_FILE}?max_bytes=16777216", f"syslog+tcp://127.0.0.1:{syslog.port}",
             f"webhook+http://127.0.0.1:{hook.port}/audit", f"file://{WS_FILE}?workspace={OTHER}"]
    server = Tessera("main", state, sinks)
    SERVERS.append(server)
    started = time.time()
    if not check("main: tessera serve starts with --audit-sink file, syslog+tcp, webhook+http, file?workspace=", server.start()):
        raise Abort("main server")
    info(f"main server {server.url}; syslog 127.0.0.1:{syslog.port}; webhook http://127.0.0.1:{hook.port}/audit")

    booted = server.cli("iam", "bootstrap", "--server", server.url)
    admin = booted.stdout.strip()
    if not check("main: tessera iam bootstrap prints the admin API key", booted.returncode == 0 and admin.startswith("tsk_"), (booted.returncode, booted.stderr[-300:])):
        raise Abort("bootstrap")
    api_key_secrets("admin API key", admin)
    t0 = time.time()
    time.sleep(0.05)

    run = {"server": server, "admin": admin, "state": state, "started": started, "t0": t0}
    mark = random.token_hex(6)
    pw_alice = secret("alice's password", "pw-" + random.token_urlsafe(18))
    pw_wrong = secret("the wrong password", "wrong-" + random.token_urlsafe(18))
    pw_bob = secret("bob's password", "pw-" + random.token_urlsafe(18))
    permit_path = "/data/report-" + secret("argument value (PERMIT path)", "q3report" + mark) + ".csv"
    deny_path = "/etc/shadow-" + secret("argument value (DENY path)", "shadow" + mark)
    payee_a = secret("argument value (payee, granted)", "payee" + mark + "a")
    payee_b = secret("argument value (payee, denied)", "payee" + mark + "b")
    amount_a, amount_b = 7391.25, 9182.75
    secret("argument value (amount 7391.25)", "7391.25")
    secret("argument value (amount 9182.75)", "9182.75")

    expected = []   # (type, outcome, group, workspace or None = any)

    body = expect_ok("main: admin creates user alice (writer)", server.call("POST", "/api/v1/iam", {
        "operation": "create-user", "workspace": "default",
        "user": {"username": "alice", "name": "Alice", "password": pw_alice, "roles": ["writer"]}}, admin))
    alice_id = body["user"]["id"]
    expected.append(("user.created", "success", None, None))

    status, body, _ = server.call("POST", "/api/v1/auth/login", {"username": "alice", "password": pw_wrong})
    check("main: login with a wrong password → 401", status == 401, (status, body))
    expected.append(("login.failed", "failure", None, "default"))
    ghost = "ghost" + mark
    pw_ghost = secret("the unknown user's password", "ghostpw-" + random.token_urlsafe(18))
    status, body, _ = server.call("POST", "/api/v1/auth/login", {"username": ghost, "password": pw_ghost})
    check("main: login as an unknown user → 401", status == 401, (status, body))
    expected.append(("login.failed", "failure", None, ABSENT))
    body = expect_ok("main: login with the right password → JWT", server.call("POST", "/api/v1/auth/login", {"username": "alice", "password": pw_alice}))
    alice = body["jwt"]
    jwt_secrets("alice's login JWT", alice)
    expected.append(("login.succeeded", "success", None, "default"))

    body = expect_ok("main: alice creates an API key", server.call("POST", "/api/v1/iam", {"operation": "create-api-key", "key": {"name": "siem-test"}}, alice))
    api_key_secrets("alice's API key", body["api_key_plaintext"])
    expected.append(("api_key.created", "success", None, "default"))
    expect_ok("main: alice revokes it", server.call("POST", "/api/v1/iam", {"operation": "revoke-api-key", "key_id": body["api_key"]["id"]}, alice))
    expected.append(("api_key.revoked", "success", None, "default"))

    # An agent registered (its public key from `tessera key gen`) and renamed; a user created and deleted.
    key_dir = os.path.join(WORK, "agent-key")
    made = server.cli("key", "gen", "--out-dir", key_dir, "--json")
    if not check("main: tessera key gen", made.returncode == 0, (made.returncode, made.stderr[-300:])):
        raise Abort("key gen")
    with open(os.path.join(key_dir, "public.jwk")) as handle:
        public_jwk = json.load(handle)
    agent = expect_ok("main: alice registers an agent (POST /v1/agents)", server.call("POST", "/v1/agents", {"name": "audit-agent-" + mark, "public_jwk": public_jwk}, alice), 201)
    agent_id = agent.get("id")
    expected.append(("agent.registered", "success", None, "default"))
    expect_ok("main: alice renames it (PATCH /v1/agents/{id})", server.call("PATCH", f"/v1/agents/{agent_id}", {"name": "audit-agent-renamed-" + mark}, alice))
    expected.append(("agent.updated", "success", None, "default"))
    pw_carol = secret("carol's password", "pw-" + random.token_urlsafe(18))
    body = expect_ok("main: admin creates user carol", server.call("POST", "/api/v1/iam", {
        "operation": "create-user", "workspace": "default",
        "user": {"username": "carol" + mark, "name": "Carol", "password": pw_carol, "roles": ["reader"]}}, admin))
    carol_id = body["user"]["id"]
    expected.append(("user.created", "success", None, "default"))
    expect_ok("main: admin deletes carol", server.call("POST", "/api/v1/iam", {"operation": "delete-user", "user_id": carol_id}, admin))
    expected.append(("user.deleted", "success", None, "default"))
    run.update(ghost=ghost, agent_id=agent_id, carol_id=carol_id)

    mission = {"agent_id": "audit-bot", "mission": "audit e2e", "allowed_tools": ["read_file"], "resource_scope": ["/data/**"],
               "max_tool_calls": 50,
               "tools": {"transfer": {"arguments": {"amount": {"range": {"min": 0, "max": 10000}}, "to": {"not_one_of": ["nobody"]}},
                                      "requires_approval": {"approvers": ["role:admin"], "min_approvals": 1, "ttl_s": 600}}}}
    body = expect_ok("main: alice issues a passport (transfer needs an admin's approval)", server.call("POST", "/issue", {"mission": mission, "ttl_s": 3600}, alice))
    passport, jti = body["token"], body["claims"]["jti"]
    jwt_secrets("passport 1", passport)
    expected.append(("passport.issued", "success", "S1", "default"))
    body = expect_ok("main: session started", server.call("POST", "/session/start", {"token": passport}))
    s1 = body["session_id"]
    secret("session 1 id", s1)
    expected.append(("session.started", "success", "S1", "default"))
    sessions = {"S1": {"session_id": s1, "jti": jti, "approvals": set()}}
    run.update(alice=alice, alice_id=alice_id, mission=mission, sessions=sessions)

    decisions = []  # (tool, decision, response)

    def evaluate(tool, arguments, want):
        status, body, _ = server.call("POST", "/evaluate", {"session_id": s1, "tool_name": tool, "arguments": arguments})
        ok = check(f"main: /evaluate {tool} → {want}", status == 200 and isinstance(body, dict) and body.get("decision") == want, (status, body))
        decisions.append((tool, want, body if isinstance(body, dict) else {}))
        if not ok:
            raise Abort("evaluate")
        return body

    evaluate("read_file", {"path": permit_path}, "PERMIT")
    expected.append(("decision", "permit", "S1", "default"))
    evaluate("read_file", {"path": deny_path}, "DENY")
    expected.append(("decision", "deny", "S1", "default"))
    asked = evaluate("transfer", {"amount": amount_a, "to": payee_a}, "APPROVAL_REQUIRED")
    approval_a = asked.get("approval_id")
    sessions["S1"]["approvals"].add(approval_a)
    expected += [("decision", "approval_required", "S1", "default"), ("approval.requested", "success", "S1", "default")]
    expect_ok("main: the admin grants the approval", server.call("POST", f"/approvals/{approval_a}/grant", {}, admin))
    expected.append(("approval.granted", "success", "S1", "default"))
    evaluate("transfer", {"amount": amount_a, "to": payee_a}, "PERMIT")
    expected.append(("decision", "permit", "S1", "default"))
    asked = evaluate("transfer", {"amount": amount_b, "to": payee_b}, "APPROVAL_REQUIRED")
    approval_b = asked.get("approval_id")
    sessions["S1"]["approvals"].add(approval_b)
    expected += [("decision", "approval_required", "S1", "default"), ("approval.requested", "success", "S1", "default")]
    expect_ok("main: the admin denies the second approval", server.call("POST", f"/approvals/{approval_b}/deny", {}, admin))
    expected.append(("approval.denied", "success", "S1", "default"))
    expect_ok("main: the admin revokes the passport", server.call("POST", "/revoke", {"jti": jti}, admin))
    expected.append(("passport.revoked", "success", "S1", "default"))

    # A second workspace: a user of its own, a passport, a session, a PERMIT, the end.
    status, body, _ = server.call("POST", "/api/v1/iam", {"operation": "create-workspace", "workspace_record": {"id": OTHER, "name": "SIEM other"}}, admin)
    other = check(f"main: admin creates workspace {OTHER} (docs/iam.md create-workspace)", status == 200, (status, body))
    if other:
        expected.append(("workspace.created", "success", None, None))
        expect_ok(f"main: admin renames workspace {OTHER} (update-workspace)", server.call("POST", "/api/v1/iam", {
            "operation": "update-workspace", "workspace_record": {"id": OTHER, "name": "SIEM other, renamed"}}, admin))
        expected.append(("workspace.updated", "success", None, None))
        expect_ok(f"main: admin creates user bob (writer in {OTHER})", server.call("POST", "/api/v1/iam", {
            "operation": "create-user", "workspace": OTHER,
            "user": {"username": "bob", "name": "Bob", "password": pw_bob, "roles": ["writer"]}}, admin))
        expected.append(("user.created", "success", None, None))
        bob = expect_ok("main: bob logs in", server.call("POST", "/api/v1/auth/login", {"username": "bob", "password": pw_bob}))["jwt"]
        jwt_secrets("bob's login JWT", bob)
        expected.append(("login.succeeded", "success", None, OTHER))
        body = expect_ok(f"main: bob issues a passport in {OTHER}", server.call("POST", "/issue", {"mission": {
            "agent_id": "other-bot", "mission": "other workspace", "allowed_tools": ["read_file"], "resource_scope": ["/data/**"]}, "ttl_s": 3600}, bob))
        jwt_secrets("passport 2", body["token"])
        expected.append(("passport.issued", "success", "S2", OTHER))
        s2 = expect_ok("main: bob's session started", server.call("POST", "/session/start", {"token": body["token"]}))["session_id"]
        secret("session 2 id", s2)
        sessions["S2"] = {"session_id": s2, "jti": body["claims"]["jti"], "approvals": set()}
        expected.append(("session.started", "success", "S2", OTHER))
        status, b2, _ = server.call("POST", "/evaluate", {"session_id": s2, "tool_name": "read_file", "arguments": {"path": permit_path}})
        check("main: bob's /evaluate → PERMIT", status == 200 and b2.get("decision") == "PERMIT", (status, b2))
        expected.append(("decision", "permit", "S2", OTHER))
        expect_ok("main: bob's session ended", server.call("POST", "/session/end", {"session_id": s2}))
        expected.append(("session.ended", "success", "S2", OTHER))
    else:
        print(f"SKIP workspace filtering: the API refused to create workspace {OTHER}", file=sys.stderr, flush=True)
    run.update(expected=expected, decisions=decisions, other=other, admin_id=None)

    # --- what each sink holds ---
    scripted_count = len(expected)

    def enough(events):
        return sum(1 for e in events if (event_time(e) or 0) >= t0) >= scripted_count

    ok, waited = wait_delivered(syslog, hook, enough)
    check("main: file, syslog and webhook each hold every scripted event within 20 s", ok, f"waited {waited:.1f} s")
    check_main(run, syslog, hook)
    return run


def check_main(run, syslog, hook):
    server, t0, expected, sessions = run["server"], run["t0"], run["expected"], run["sessions"]
    events, problems = file_events()
    _, _, raw_file = read_ndjson(AUDIT_FILE)
    run["file_ids_before_outage"] = [e.get("id") for e in events]

    # File: modes, lines, shape.
    check("file: directory created 0700", mode(AUDIT_DIR) == "0o700", mode(AUDIT_DIR))
    check("file: audit.ndjson is 0600", mode(AUDIT_FILE) == "0o600", mode(AUDIT_FILE))
    common_checks("file", events, problems)
    check("file: keys sorted in every object", events and all(keys_sorted(e) for e in events),
          [e.get("id") for e in events if not keys_sorted(e)][:5])
    times = [event_time(e) for e in events]
    check("file: event times lie between the server's start and now", events and all(t is not None and run["started"] - 1 <= t <= time.time() + 1 for t in times),
          [e.get("time") for e, t in zip(events, times) if t is None or not (run["started"] - 1 <= t <= time.time() + 1)][:5])
    loaded = [e for e in events if e.get("type") == "configuration.loaded"]
    check("file: configuration.loaded once at start-up (outcome success, no workspace)",
          len(loaded) == 1 and loaded[0].get("outcome") == "success" and "workspace" not in loaded[0], loaded)
    before = [e for e in events if (event_time(e) or 0) < t0]
    info("events before the scripted session (start-up, bootstrap): " + ", ".join(f"{e.get('type')}/{e.get('outcome')}" for e in before))
    scripted = [e for e in events if (event_time(e) or 0) >= t0]

    # Exactly the expected events (type, outcome, session), each with its workspace.
    def key(e):
        return (e.get("type"), e.get("outcome"), group_of(e, sessions))

    want = sorted((t, o, g) for t, o, g, _ in expected)
    got = sorted(key(e) for e in scripted)
    missing = [k for k in set(want) if want.count(k) > got.count(k)]
    extra = [k for k in set(got) if got.count(k) > want.count(k)]
    check(f"file: exactly the {len(expected)} expected events of the scripted session (type, outcome, session)", not missing and not extra,
          f"missing {missing}; unexpected {extra}")
    wrong_ws = []
    pool = list(scripted)
    for t, o, g, w in expected:
        match = next((e for e in pool if key(e) == (t, o, g)), None)
        if match is None:
            continue
        pool.remove(match)
        if w == ABSENT:
            if "workspace" in match:
                wrong_ws.append(f"{t}/{o}: workspace {match.get('workspace')!r}, want none")
        elif "workspace" not in match or (w is not None and match.get("workspace") != w):
            wrong_ws.append(f"{t}/{o}: workspace {match.get('workspace', '(absent)')!r}, want {w or 'any'}")
    check("file: every scripted event names its workspace (default, or the second workspace's; none for a failed login "
          "of an unknown user)", scripted and not wrong_ws, wrong_ws or "no events")
    created = [e for e in scripted if e.get("type") == "user.created"]
    info("user.created workspaces: " + ", ".join(f"{(e.get('target') or {}).get('id')} → {e.get('workspace')}" for e in created))
    info("workspace.* events' workspaces: " + ", ".join(f"{e.get('type')} → {e.get('workspace', '(absent)')}"
                                                       for e in scripted if e.get("type", "").startswith("workspace.")))

    # Failed logins (CHANGES 14:20): actor anonymous; target the username tried; the user's home workspace when it exists.
    failed = [e for e in scripted if e.get("type") == "login.failed"]
    wrong = []
    for username, workspace in (("alice", "default"), (run["ghost"], None)):
        event = next((e for e in failed if (e.get("target") or {}).get("id") == username), None)
        if event is None:
            wrong.append(f"no login.failed with target id {username!r}")
            continue
        if (event.get("actor") or {}).get("type") != "anonymous":
            wrong.append(f"{username}: actor {event.get('actor')!r}, want type anonymous")
        if (event.get("target") or {}).get("type") != "user":
            wrong.append(f"{username}: target {event.get('target')!r}, want type user")
        if event.get("workspace") != workspace:
            wrong.append(f"{username}: workspace {event.get('workspace', '(absent)')!r}, want {workspace or '(absent)'}")
    check("file: login.failed: actor anonymous, target {type:user, id:<username tried>}, workspace the user's home one "
          "(alice: default) or absent (an unknown username)", len(failed) == 2 and not wrong, wrong or failed)
    anonymous = [f"{e.get('type')}/{e.get('id')}" for e in events if (e.get("actor") or {}).get("type") == "anonymous" and e.get("type") != "login.failed"]
    check("file: actor type anonymous only on login.failed", not anonymous, anonymous)

    # The event types CHANGES (14:20) added, each naming its target.
    def target_of(type_):
        return next(((e.get("target") or {}) for e in scripted if e.get("type") == type_), None)
    wanted_targets = {"agent.registered": {"type": "agent", "id": run["agent_id"]}, "agent.updated": {"type": "agent", "id": run["agent_id"]},
                      "user.deleted": {"type": "user", "id": run["carol_id"]}}
    if run["other"]:
        wanted_targets.update({"workspace.created": {"type": "workspace", "id": OTHER}, "workspace.updated": {"type": "workspace", "id": OTHER}})
    wrong = {t: {"want": want, "got": target_of(t)} for t, want in wanted_targets.items() if target_of(t) != want}
    check("file: " + ", ".join(sorted(wanted_targets)) + " name their target (the agent, user or workspace)", not wrong, wrong)

    # Reasons are rules only (CHANGES 14:20): no detail, which may quote argument values.
    reasons = sorted({str(e.get("reason")) for e in events if "reason" in e})
    info(f"reasons seen: {reasons}")
    check("file: every reason is a rule only (no ':' or space)", all(r and ":" not in r and " " not in r for r in reasons), reasons)

    # Per session, in order.
    s1 = [(e.get("type"), e.get("outcome")) for e in scripted if group_of(e, sessions) == "S1"]
    slots = [[("passport.issued", "success")], [("session.started", "success")], [("decision", "permit")], [("decision", "deny")],
             [("decision", "approval_required"), ("approval.requested", "success")], [("approval.granted", "success")],
             [("decision", "permit")], [("decision", "approval_required"), ("approval.requested", "success")],
             [("approval.denied", "success")], [("passport.revoked", "success")]]
    problem = sequence_problems(s1, slots)
    check("file: session 1 in order: passport.issued, session.started, decision permit, decision deny, decision approval_required + "
          "approval.requested, approval.granted, decision permit, decision approval_required + approval.requested, approval.denied, passport.revoked",
          problem is None, problem)
    pairs = [s1[i:i + 2] for i in range(len(s1) - 1) if {s1[i][0], s1[i + 1][0]} == {"decision", "approval.requested"}]
    info("approval_required and approval.requested come as: " + "; ".join(" then ".join(t for t, _ in p) for p in pairs))
    if "S2" in sessions:
        s2 = [(e.get("type"), e.get("outcome")) for e in scripted if group_of(e, sessions) == "S2"]
        problem = sequence_problems(s2, [[("passport.issued", "success")], [("session.started", "success")], [("decision", "permit")], [("session.ended", "success")]])
        check("file: session 2 in order: passport.issued, session.started, decision permit, session.ended", problem is None, problem)

    # Decisions carry what a SIEM correlates on.
    s1_decisions = [e for e in scripted if e.get("type") == "decision" and group_of(e, sessions) == "S1"]
    wrong = []
    for event, (tool, want, response) in zip(s1_decisions, run["decisions"]):
        label = f"{tool} {want}"
        if event.get("receipt_id") != response.get("receipt_id") or not event.get("receipt_id"):
            wrong.append(f"{label}: receipt_id {event.get('receipt_id')!r} ≠ /evaluate's {response.get('receipt_id')!r}")
        if event.get("session_ref") != session_ref(sessions["S1"]["session_id"]):
            wrong.append(f"{label}: session_ref {event.get('session_ref')!r}, want {session_ref(sessions['S1']['session_id'])}")
        if "session_id" in event:
            wrong.append(f"{label}: carries session_id {event.get('session_id')!r}")
        if event.get("passport_jti") != sessions["S1"]["jti"]:
            wrong.append(f"{label}: passport_jti {event.get('passport_jti')!r}")
        if event.get("tool") != tool:
            wrong.append(f"{label}: tool {event.get('tool')!r}")
        if want == "APPROVAL_REQUIRED" and event.get("approval_id") != response.get("approval_id"):
            wrong.append(f"{label}: approval_id {event.get('approval_id')!r} ≠ {response.get('approval_id')!r}")
        if want == "DENY" and event.get("reason") != "resource_out_of_scope":
            wrong.append(f"{label}: reason {event.get('reason')!r} (want the rule only, resource_out_of_scope)")
        if "argument_names" in event and event["argument_names"] != (["path"] if tool == "read_file" else ["amount", "to"]):
            wrong.append(f"{label}: argument_names {event['argument_names']!r}")
    if s1_decisions:
        info("keys of a decision event: " + ", ".join(sorted(s1_decisions[0])))
    check("file: decisions carry receipt_id (= /evaluate's), session_ref (= sesref_ of the session id; no session_id), passport_jti, tool, "
          "approval_id, the DENY's rule",
          len(s1_decisions) == len(run["decisions"]) and not wrong, wrong or f"{len(s1_decisions)} decision events for {len(run['decisions'])} calls")
    approvals = [e for e in scripted if e.get("type", "").startswith("approval.")]
    check("file: approval events name their approval_id and session (session_ref)", approvals and all(
        e.get("approval_id") in sessions["S1"]["approvals"] and e.get("session_ref") == session_ref(sessions["S1"]["session_id"]) for e in approvals),
        [(e.get("type"), e.get("approval_id"), e.get("session_ref")) for e in approvals])
    session_events = [e for e in scripted if e.get("type") in ("session.started", "session.ended") and group_of(e, sessions)]
    check("file: session.started/ended carry the session's session_ref", session_events and all(
        e.get("session_ref") == session_ref(sessions[group_of(e, sessions)]["session_id"]) for e in session_events),
        [(e.get("type"), e.get("session_ref"), e.get("passport_jti")) for e in session_events])
    issued = next((e for e in scripted if e.get("type") == "passport.issued" and group_of(e, sessions) == "S1"), {})
    check("file: passport.issued names alice as its actor and the passport as target",
          (issued.get("actor") or {}).get("type") == "user" and (issued.get("actor") or {}).get("id") in (run["alice_id"], "alice")
          and issued.get("passport_jti") == sessions["S1"]["jti"], issued)
    revoked = next((e for e in scripted if e.get("type") == "passport.revoked"), {})
    check("file: passport.revoked names the admin as actor and the passport's jti",
          (revoked.get("actor") or {}).get("type") in ("api_key", "user") and (revoked.get("passport_jti") == sessions["S1"]["jti"]
                                                                             or (revoked.get("target") or {}).get("id") == sessions["S1"]["jti"]), revoked)

    # Syslog: RFC 5424 over octet counting, the same events.
    messages, errors, raw_syslog = syslog.snapshot()
    check("syslog: every frame octet-counted (RFC 6587) and a valid RFC 5424 message", not errors and messages, errors[:5] or "no messages")
    by_id = {e.get("id"): e for e in events}
    bad = []
    for m in messages:
        event = m.get("event")
        if not isinstance(event, dict):
            bad.append(f"MSG is not JSON: {m.get('json_error')} {m['msg'][:80]!r}")
            continue
        label = f"{event.get('type')}/{event.get('id')}"
        outcome = event.get("outcome")
        if m["facility"] != 13:
            bad.append(f"{label}: facility {m['facility']} (PRI {m['pri']})")
        want_sev = 6 if outcome in ("success", "permit") else 4 if outcome in ("deny", "failure") else None
        if want_sev is not None and m["severity"] != want_sev:
            bad.append(f"{label}: severity {m['severity']} for outcome {outcome}, want {want_sev}")
        if m["version"] != 1:
            bad.append(f"{label}: version {m['version']}")
        if m["app"] != "tessera":
            bad.append(f"{label}: APP-NAME {m['app']!r}")
        if m["msgid"] != event.get("type"):
            bad.append(f"{label}: MSGID {m['msgid']!r}")
        if m["timestamp"] == "-" or m["hostname"] == "-":
            bad.append(f"{label}: TIMESTAMP {m['timestamp']!r} HOSTNAME {m['hostname']!r}")
        sd = dict(m["structured_data"])
        params = dict(sd.get("tessera@32473", []))
        if "tessera@32473" not in sd:
            bad.append(f"{label}: no [tessera@32473 …] structured data ({m['structured_data']})")
        else:
            for name in ("id", "type", "outcome") + (("workspace",) if "workspace" in event else ()):
                if params.get(name) != event.get(name):
                    bad.append(f"{label}: SD {name}={params.get(name)!r}")
        if event.get("id") in by_id and by_id[event["id"]] != event:
            bad.append(f"{label}: MSG differs from the file's event")
    check("syslog: PRI facility 13, severity 6/4, version 1, APP-NAME tessera, MSGID = type, [tessera@32473 id type outcome workspace], "
          "MSG = the file's event JSON", messages and not bad, bad[:8])
    sev = sorted({m["severity"] for m in messages if isinstance(m.get("event"), dict) and m["event"].get("outcome") == "approval_required"})
    info(f"syslog severity of approval_required (the contract leaves it open): {sev}")
    syslog_ids = [m["event"].get("id") for m in messages if isinstance(m.get("event"), dict)]
    check("syslog: exactly the file's events, none twice", by_id and sorted(syslog_ids) == sorted(by_id) and len(syslog_ids) == len(set(syslog_ids)),
          f"{len(syslog_ids)} messages, {len(by_id)} file events; missing {sorted(set(by_id) - set(syslog_ids))[:5]}; extra {sorted(set(syslog_ids) - set(by_id))[:5]}")
    check("syslog: in the file's order", syslog_ids and syslog_ids == [e.get("id") for e in events], "order differs")

    # Webhook.
    acked, duplicates, hook_errors, raw_hook = hook.snapshot()
    check("webhook: every POST a well-formed {\"events\":[…]} to the configured path", not hook_errors, hook_errors[:5])
    types = {ct for ct, _ in hook.headers}
    check("webhook: Content-Type application/json", types and all(t.split(";")[0].strip() == "application/json" for t in types), types)
    sizes = [len(ids) for _, _, ids in hook.batches]
    check("webhook: batches of 1..100 events", sizes and all(1 <= n <= 100 for n in sizes), sizes[:20])
    hook_ids = [e.get("id") for e in acked]
    check("webhook: exactly the file's events (deduplicated by id)", by_id and sorted(hook_ids) == sorted(by_id),
          f"missing {sorted(set(by_id) - set(hook_ids))[:5]}; extra {sorted(set(hook_ids) - set(by_id))[:5]}")
    check("webhook: each event equal to the file's", acked and all(by_id.get(e.get("id")) == e for e in acked),
          [e.get("id") for e in acked if by_id.get(e.get("id")) != e][:5])
    check("webhook: in the file's order", hook_ids and hook_ids == [e.get("id") for e in events], "order differs")
    info(f"webhook: {len(hook.batches)} POSTs, {duplicates} duplicate deliveries so far")

    # Workspace filter.
    if run["other"]:
        ws_events, ws_problems = file_events(WS_FILE)
        check(f"ws: ws.ndjson (workspace={OTHER}) is 0600", mode(WS_FILE) == "0o600", mode(WS_FILE))
        check(f"ws: every line JSON; only workspace {OTHER}", not ws_problems and ws_events and all(e.get("workspace") == OTHER for e in ws_events),
              ws_problems[:3] or [(e.get("type"), e.get("workspace")) for e in ws_events if e.get("workspace") != OTHER][:5] or "empty")
        want_ids = [e.get("id") for e in events if e.get("workspace") == OTHER]
        check(f"ws: exactly the main file's events of workspace {OTHER}, in order", want_ids and [e.get("id") for e in ws_events] == want_ids,
              f"{len(ws_events)} vs {len(want_ids)}")
        s2 = [(e.get("type"), e.get("outcome")) for e in ws_events if group_of(e, run["sessions"]) == "S2"]
        check(f"ws: holds session 2 (passport.issued, session.started, decision permit, session.ended) and bob's login",
              s2 == [("passport.issued", "success"), ("session.started", "success"), ("decision", "permit"), ("session.ended", "success")]
              and any(e.get("type") == "login.succeeded" for e in ws_events), s2)
        _, _, raw_ws = read_ndjson(WS_FILE)
    else:
        raw_ws = b""

    # No secret anywhere.
    info(f"secrets looked for: {', '.join(sorted(SECRETS))}")
    for name, raw in (("file", raw_file), ("ws file", raw_ws), ("syslog", raw_syslog), ("webhook", raw_hook)):
        found = secrets_found(raw, SECRETS)
        check(f"secrets: no API key, password, JWT, passport, raw session id or argument value in the {name}'s bytes ({len(raw)} bytes)", raw and not found or (name == "ws file" and not run["other"]), found)

    # Metrics.
    status, text, _ = server.call("GET", "/metrics", token=run["admin"])
    values = metric_values(text if isinstance(text, str) else "", "tessera_audit_events_total")
    written = {dict(k).get("sink"): v for k, v in values.items() if dict(k).get("result") == "written"}
    check("metrics: tessera_audit_events_total{sink=file|syslog|webhook,result=written} counted",
          status == 200 and all(written.get(s, 0) > 0 for s in ("file", "syslog", "webhook")), (status, values))
    series = {(dict(k).get("sink"), dict(k).get("result")) for k in values}
    missing = sorted({(s, r) for s in ("file", "syslog", "webhook") for r in ("written", "dropped")} - series)
    check("metrics: tessera_audit_events_total registered for every configured sink kind, result=written and result=dropped (0 counted too)",
          status == 200 and not missing, f"missing {missing}")


# --- phase 2 ------------------------------------------------------------------------------------------
def outage_phase(run, syslog, hook):
    print("audit-e2e: outage — webhook 503 then stopped, kill -9, restart, receiver back", file=sys.stderr, flush=True)
    server, alice = run["server"], run["alice"]
    body = expect_ok("outage: alice issues a third passport", server.call("POST", "/issue", {"mission": run["mission"], "ttl_s": 3600}, alice))
    jwt_secrets("passport 3", body["token"])
    s3 = expect_ok("outage: its session started", server.call("POST", "/session/start", {"token": body["token"]}))["session_id"]
    secret("session 3 id", s3)
    ok, _ = until(lambda: (lambda ids: len(ids) > len(run["file_ids_before_outage"]) and ids <= hook.ids())(
        {e.get("id") for e in file_events()[0]}), 15, 0.2)
    check("outage: (before) the webhook acknowledged every event so far, the new passport's included", ok)
    receipts = []

    def decide(path):
        status, b, _ = server.call("POST", "/evaluate", {"session_id": s3, "tool_name": "read_file", "arguments": {"path": path}})
        check(f"outage: /evaluate while the webhook is {'503' if hook.running else 'stopped'} → PERMIT", status == 200 and b.get("decision") == "PERMIT", (status, b))
        if isinstance(b, dict) and b.get("receipt_id"):
            receipts.append(b["receipt_id"])

    hook.mode = "503"
    for i in range(3):
        decide(f"/data/outage-{i}.csv")
    ok, _ = until(lambda: hook.rejected > 0, 10, 0.1)
    check("outage: the server POSTed while the receiver answered 503", ok, f"rejected {hook.rejected}")
    time.sleep(1.0)
    hook.stop()
    for i in range(3, 6):
        decide(f"/data/outage-{i}.csv")
    acked_now = hook.ids()

    def outage_events():
        events, _ = file_events()
        found = [e for e in events if e.get("receipt_id") in receipts]
        return found if len(found) == len(receipts) else None

    found, waited = until(outage_events, 10, 0.2)
    check("outage: the file holds the outage's decisions (by receipt id)", found, f"{len(receipts)} receipts")
    outage_ids = {e.get("id") for e in (found or [])}
    check("outage: none of them acknowledged by the webhook yet", outage_ids and not (outage_ids & acked_now))
    spools = glob.glob(os.path.join(run["state"], "audit", "webhook-*"))
    spooled, _ = until(lambda: [f for d in spools for f in glob.glob(os.path.join(d, "**"), recursive=True) if os.path.isfile(f) and os.path.getsize(f) > 0], 5, 0.2)
    check("outage: events spooled under STATE_DIR/audit/webhook-<16 hex>/ (one folder per sink)", len(spools) == 1
          and all(c in "0123456789abcdef" for c in os.path.basename(spools[0])[8:])
          and len(os.path.basename(spools[0])) == len("webhook-") + 16 and spooled, (spools, spooled))
    spool_raw = b"".join(open(f, "rb").read() for f in (spooled or []))
    check("secrets: none in the webhook spool's bytes", spool_raw and not secrets_found(spool_raw, SECRETS), secrets_found(spool_raw, SECRETS) or "spool empty")
    time.sleep(1.0)
    server.kill9()
    info(f"kill -9 the server ({len(receipts)} decisions made while the webhook was down)")
    all_file_ids = {e.get("id") for e in file_events()[0]}

    if not check("outage: the server restarts on the same state directory and sinks", server.start()):
        raise Abort("restart")
    time.sleep(0.5)
    hook.mode = "up"
    hook.start()
    arrived, waited = until(lambda: outage_ids <= hook.ids(), 30, 0.2)
    check(f"outage: every event of the outage reached the webhook within 30 s ({len(outage_ids)} events)", arrived and outage_ids,
          f"after {waited:.1f} s missing {sorted(outage_ids - hook.ids())[:5]}")
    info(f"outage events arrived after {waited:.1f} s; duplicates so far {hook.snapshot()[1]} ({len(hook.duplicate_ids)} distinct ids)")
    hook_receipts = {e.get("receipt_id") for e in hook.snapshot()[0]}
    check("outage: the webhook holds every noted receipt id", set(receipts) <= hook_receipts, sorted(set(receipts) - hook_receipts))
    arrived, waited = until(lambda: all_file_ids <= hook.ids(), 30, 0.2)
    check("outage: everything the file held before the kill reached the webhook (none lost)", all_file_ids and arrived,
          f"missing {sorted(all_file_ids - hook.ids())[:5]}")

    # The restarted server goes on auditing, on every sink (syslog reconnects).
    status, b, _ = server.call("POST", "/evaluate", {"session_id": s3, "tool_name": "read_file", "arguments": {"path": "/data/after.csv"}})
    check("outage: after the restart the session goes on (PERMIT)", status == 200 and b.get("decision") == "PERMIT", (status, b))
    rid = b.get("receipt_id") if isinstance(b, dict) else None

    def everywhere():
        in_file = any(e.get("receipt_id") == rid for e in file_events()[0])
        in_syslog = any(isinstance(m.get("event"), dict) and m["event"].get("receipt_id") == rid for m in syslog.snapshot()[0])
        in_hook = rid in {e.get("receipt_id") for e in hook.snapshot()[0]}
        return in_file and in_syslog and in_hook

    ok, waited = until(everywhere, 15, 0.2)
    check("outage: a decision after the restart reaches the file, syslog (reconnected) and the webhook", rid and ok, f"waited {waited:.1f} s")
    events, problems = file_events()
    common_checks("outage: file after the restart", events, problems)
    check("outage: configuration.loaded once per start (2)", sum(e.get("type") == "configuration.loaded" for e in events) == 2,
          [e.get("time") for e in events if e.get("type") == "configuration.loaded"])
    _, _, raw = read_ndjson(AUDIT_FILE)
    check("secrets: none in the file, syslog or webhook after the outage", not secrets_found(raw + syslog.snapshot()[2] + hook.snapshot()[3], SECRETS),
          secrets_found(raw + syslog.snapshot()[2] + hook.snapshot()[3], SECRETS))
    check("outage: no malformed webhook POST", not hook.snapshot()[2], hook.snapshot()[2][:3])
    server.stop()


# --- phase 3 ------------------------------------------------------------------------------------------
def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bootstrap_with_passport(server, label, max_calls=None):
    booted = server.cli("iam", "bootstrap", "--server", server.url)
    admin = booted.stdout.strip()
    if not check(f"{label}: bootstrap", booted.returncode == 0 and admin.startswith("tsk_"), (booted.returncode, booted.stderr[-300:])):
        raise Abort(label)
    mission = {"agent_id": f"{label}-bot", "mission": label, "allowed_tools": ["read_file"], "resource_scope": ["/data/**"]}
    if max_calls:
        mission["max_tool_calls"] = max_calls
    body = expect_ok(f"{label}: passport issued", server.call("POST", "/issue", {"mission": mission, "ttl_s": 3600}, admin))
    session = expect_ok(f"{label}: session started", server.call("POST", "/session/start", {"token": body["token"]}))["session_id"]
    api_key_secrets(f"{label} admin API key", admin)
    jwt_secrets(f"{label} passport", body["token"])
    secret(f"{label} session id", session)
    return admin, session


def receipts_count(server, admin, session):
    status, text, _ = server.call("GET", f"/receipts?session_id={session}", token=admin)
    return len([line for line in (text if isinstance(text, str) else json.dumps(text)).splitlines() if line.strip()]) if status == 200 else None


def fail_closed_phase():
    print("audit-e2e: fail_closed — an unreachable webhook that fails closed", file=sys.stderr, flush=True)
    port = free_port()
    server = Tessera("failclosed", os.path.join(WORK, "state-failclosed"), [f"webhook+http://127.0.0.1:{port}/x?on_failure=fail_closed"])
    SERVERS.append(server)
    if not check("fail_closed: serve starts with webhook+http://127.0.0.1:<closed>/x?on_failure=fail_closed", server.start()):
        return
    try:
        admin, session = bootstrap_with_passport(server, "fail_closed", max_calls=10)
    except Abort:
        return
    used = 0
    first_503 = None
    start = time.monotonic()
    while time.monotonic() - start < 10:
        status, body, _ = server.call("POST", "/evaluate", {"session_id": session, "tool_name": "read_file", "arguments": {"path": "/data/a.csv"}})
        if status == 503:
            first_503 = (status, body, time.monotonic() - start)
            break
        if status == 200 and isinstance(body, dict):
            used = body.get("calls_used", used)
        time.sleep(0.5)
    check("fail_closed: /evaluate answers 503 {\"error\":\"audit_unavailable\"} within 10 s", first_503 and first_503[1] == {"error": "audit_unavailable"},
          first_503 or "still deciding after 10 s")
    if not first_503:
        server.stop()
        return
    info(f"first 503 after {first_503[2]:.1f} s; calls_used before it: {used}")
    count = receipts_count(server, admin, session)
    answers = [server.call("POST", "/evaluate", {"session_id": session, "tool_name": "read_file", "arguments": {"path": "/data/b.csv"}})[:2] for _ in range(3)]
    check("fail_closed: it stays 503 audit_unavailable while the receiver is down", all(a == (503, {"error": "audit_unavailable"}) for a in answers), answers)
    check("fail_closed: the 503s append no receipt", count is not None and receipts_count(server, admin, session) == count,
          (count, receipts_count(server, admin, session)))
    hook = WebhookReceiver("/x", port=port)
    back = None
    start = time.monotonic()
    while time.monotonic() - start < 60:
        status, body, _ = server.call("POST", "/evaluate", {"session_id": session, "tool_name": "read_file", "arguments": {"path": "/data/c.csv"}})
        if status != 503:
            back = (status, body, time.monotonic() - start)
            break
        time.sleep(0.5)
    check("fail_closed: once the receiver is back, /evaluate decides again (within 60 s)", back and back[0] == 200 and back[1].get("decision") == "PERMIT", back)
    if back and back[0] == 200:
        info(f"deciding again {back[2]:.1f} s after the receiver came back")
        check("fail_closed: nothing was spent while refusing (calls_used = before + 1)", back[1].get("calls_used") == used + 1,
              f"calls_used {back[1].get('calls_used')}, before the 503s {used}")
    check("fail_closed: the receiver got the held events", len(hook.ids()) > 0, len(hook.ids()))
    raw = hook.snapshot()[3]
    check("secrets: none (raw session id, passport, API key…) in what the fail_closed webhook received", raw and not secrets_found(raw, SECRETS),
          secrets_found(raw, SECRETS) or "nothing received")
    server.stop()
    hook.stop()


# --- phase 4 ------------------------------------------------------------------------------------------
def drop_rotation_phase():
    print("audit-e2e: drop + rotation — an unreachable default webhook, a 2 KiB file sink keeping 2", file=sys.stderr, flush=True)
    folder = os.path.join(WORK, "rot")
    path = os.path.join(folder, "audit.ndjson")
    server = Tessera("drop", os.path.join(WORK, "state-drop"),
                     [f"webhook+http://127.0.0.1:{free_port()}/x", f"file://{path}?max_bytes=2048&keep=2"])
    SERVERS.append(server)
    if not check("drop: serve starts with an unreachable webhook (on_failure=drop) and file?max_bytes=2048&keep=2", server.start()):
        return
    try:
        admin, session = bootstrap_with_passport(server, "drop")
    except Abort:
        return
    slow, receipts = [], []
    for i in range(40):
        status, body, elapsed = server.call("POST", "/evaluate", {"session_id": session, "tool_name": "read_file", "arguments": {"path": f"/data/r{i}.csv"}},
                                            timeout=10)
        if status != 200 or elapsed > 2.0:
            slow.append((i, status, round(elapsed, 2)))
        if isinstance(body, dict):
            receipts.append(body.get("receipt_id"))
    check("drop: 40 /evaluate calls each answered 200 within 2 s while the webhook is unreachable", not slow, slow[:5])

    def settled():
        events, _, _ = read_ndjson(path)
        return any(e.get("receipt_id") == receipts[-1] for e in events)

    ok, _ = until(settled, 10, 0.2)
    check("rotation: the last decision is in audit.ndjson", ok)
    files = [path + ".2", path + ".1", path]
    present = sorted(glob.glob(path + "*"))
    check("rotation: audit.ndjson.1 exists", os.path.exists(path + ".1"), present)
    check("rotation: at most keep=2 rotated files (no .3)", not [p for p in present if p not in files], present)
    check("rotation: every file 0600", present and all(mode(p) == "0o600" for p in present), {os.path.basename(p): mode(p) for p in present})
    all_events, problems, sizes = [], [], {}
    for p in files:
        if os.path.exists(p):
            events, probs, raw = read_ndjson(p)
            problems += probs
            sizes[os.path.basename(p)] = (len(raw), len(events))
            if len(raw) > 2048 and len(events) > 1:
                problems.append(f"{os.path.basename(p)} is {len(raw)} bytes with {len(events)} events (max_bytes 2048)")
            all_events += events
    check("rotation: no line split across files, every file ≤ max_bytes (or one event)", sizes and not problems, problems[:5] or sizes)
    info(f"rotation: files (bytes, events): {sizes}")
    ids = [e.get("id") for e in all_events]
    check("rotation: no event in two files", ids and len(ids) == len(set(ids)))
    raw = b"".join(read_ndjson(p)[2] for p in files if os.path.exists(p))
    check("secrets: none (raw session id, passport, API key…) in the rotated files", raw and not secrets_found(raw, SECRETS), secrets_found(raw, SECRETS) or "empty")
    kept = [e.get("receipt_id") for e in all_events if e.get("type") == "decision"]
    check("rotation: .2, .1, current hold the latest decisions, in order, none missing between",
          kept and kept == receipts[len(receipts) - len(kept):], (kept[:3], receipts[-3:]))
    status, text, _ = server.call("GET", "/metrics", token=admin)
    values = metric_values(text if isinstance(text, str) else "", "tessera_audit_events_total")
    info("metrics: " + ", ".join(f"{dict(k)}={v:g}" for k, v in sorted(values.items(), key=str)))
    server.stop()


def main():
    syslog = SyslogListener()
    hook = WebhookReceiver("/audit")
    try:
        try:
            run = main_phase(syslog, hook)
        except Abort as error:
            info(f"main phase stopped at: {error}")
            run = None
        if run:
            try:
                outage_phase(run, syslog, hook)
            except Abort as error:
                info(f"outage phase stopped at: {error}")
        for server in SERVERS:
            server.stop()
        try:
            fail_closed_phase()
        except Abort as error:
            info(f"fail_closed phase stopped at: {error}")
        drop_rotation_phase()
    finally:
        for server in SERVERS:
            server.kill9()
        syslog.close()
        hook.stop()
    summary()


if __name__ == "__main__":
    main()
