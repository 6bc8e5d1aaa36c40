"""Shared by scripts/audit/e2e.py: results, `tessera serve` processes (started, killed with -9,
restarted on the same state directory), plain HTTP to them, and the audit-event checks that hold
for every event whatever the sink (docs/audit.md, schema tessera.audit/1).

Environment (set by scripts/audit-e2e): TESSERA_BIN, AUDIT_WORK (a scratch folder, removed on exit).
"""
import base64
import ctypes
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone

import requests

TESSERA = os.environ.get("TESSERA_BIN", "tessera")
WORK = os.environ.get("AUDIT_WORK") or "/tmp"
RESULTS = []

SCHEMA = "tessera.audit/1"
TYPES = {"decision", "approval.requested", "approval.granted", "approval.denied", "passport.issued", "passport.delegated",
         "passport.revoked", "session.started", "session.ended", "session.revoked", "badge.issued", "badge.revoked",
         "login.succeeded", "login.failed", "api_key.created", "api_key.revoked", "user.created", "user.updated",
         "configuration.loaded", "signing_key.rotated",
         # CHANGES (14:20) of the contract: more event types.
         "workspace.created", "workspace.updated", "user.deleted", "agent.registered", "agent.updated"}
OUTCOMES = {"permit", "deny", "approval_required", "success", "failure"}
ACTOR_TYPES = {"user", "agent", "api_key", "system", "client", "anonymous"}   # anonymous: a failed login (CHANGES 14:20)
# workspace and agent: the targets of workspace.* and agent.* (the event types CHANGES 14:20 added).
TARGET_TYPES = {"passport", "session", "badge", "user", "api_key", "approval", "signing_key", "configuration", "workspace", "agent"}
SESSION_REF = re.compile(r"^sesref_[A-Za-z0-9_-]{22}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def session_ref(session_id):
    """What events and spans carry instead of a session id (a bearer capability): "sesref_" +
    base64url, unpadded, of the first 16 bytes of SHA-256(session id)."""
    return "sesref_" + base64.urlsafe_b64encode(hashlib.sha256(session_id.encode()).digest()[:16]).decode().rstrip("=")


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    text = str(detail)
    if len(text) > 1500:
        text = text[:1500] + "…"
    print(("PASS " if condition else "FAIL ") + name + ("" if condition else f"  ({text})"), file=sys.stderr, flush=True)
    return bool(condition)


def info(text):
    print(f"  ·  {text}", file=sys.stderr, flush=True)


def summary():
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def until(predicate, timeout, interval=0.1):
    """Polls predicate until it is truthy or timeout seconds pass; (value, seconds waited)."""
    start = time.monotonic()
    while True:
        value = predicate()
        if value or time.monotonic() - start >= timeout:
            return value, time.monotonic() - start
        time.sleep(interval)


def _die_with_parent():
    # PR_SET_PDEATHSIG: a server never outlives this script, however it ends.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    except OSError:
        pass


class Tessera:
    """One `tessera serve` on a loopback port picked by the server (--port 0), read from its log."""

    def __init__(self, name, state_dir, sinks, extra=()):
        self.name, self.state_dir, self.sinks, self.extra = name, state_dir, list(sinks), list(extra)
        self.process = None
        self.url = None
        self.starts = 0
        self.log = None

    def args(self):
        args = [TESSERA, "serve", "--state-dir", self.state_dir, "--port", "0", "--bootstrap-mode", "bootstrap"]
        for sink in self.sinks:
            args += ["--audit-sink", sink]
        return args + self.extra

    def start(self, timeout=60):
        """Starts it; the URL, or None (the log's tail is printed)."""
        self.starts += 1
        self.log = os.path.join(WORK, f"{self.name}-{self.starts}.log")
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                            preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log_text()
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text)
            if m:
                self.url = m.group(1)
                return self.url
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        info(f"{self.name} did not start (exit {self.process.poll()}); last lines of {self.log}:\n" + "\n".join(self.log_text().splitlines()[-15:]))
        self.kill9()
        return None

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill9(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()

    def call(self, method, path, body=None, token=None, timeout=30):
        """(status, JSON body or text, seconds)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        start = time.monotonic()
        response = requests.request(method, self.url + path, data=None if body is None else json.dumps(body), headers=headers,
                                    timeout=timeout, allow_redirects=False)
        elapsed = time.monotonic() - start
        try:
            document = response.json()
        except ValueError:
            document = response.text
        return response.status_code, document, elapsed

    def cli(self, *args, token=None):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
        env["TESSERA_SERVER"] = self.url
        if token:
            env["TESSERA_TOKEN"] = token
        return subprocess.run([TESSERA, *args], capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)


# --- events ----------------------------------------------------------------------------------------
def read_ndjson(path):
    """(events, problems, raw bytes) of an NDJSON file; each problem names the line."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as error:
        return [], [f"{path}: {error}"], b""
    problems, events = [], []
    if raw and not raw.endswith(b"\n"):
        problems.append(f"{os.path.basename(path)}: does not end with a newline (a line cut in two?)")
    for number, line in enumerate(raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"), 1):
        try:
            event = json.loads(line, object_pairs_hook=_sorted_keys_pairs)
        except ValueError as error:
            problems.append(f"{os.path.basename(path)}:{number}: not JSON ({error}): {line[:120]!r}")
            continue
        if not isinstance(event, dict):
            problems.append(f"{os.path.basename(path)}:{number}: not an object")
            continue
        events.append(event)
    return events, problems, raw


class _Unsorted(dict):
    pass


def _sorted_keys_pairs(pairs):
    keys = [k for k, _ in pairs]
    result = dict(pairs) if keys == sorted(keys) else _Unsorted(pairs)
    return result


def keys_sorted(value):
    if isinstance(value, _Unsorted):
        return False
    if isinstance(value, dict):
        return all(keys_sorted(v) for v in value.values())
    if isinstance(value, list):
        return all(keys_sorted(v) for v in value)
    return True


def event_time(event):
    try:
        return datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def event_problems(event):
    """What an event breaks of the common shape (docs/audit.md), as a list of words."""
    p = []
    label = f"{event.get('type')}/{event.get('id')}"
    if event.get("schema") != SCHEMA:
        p.append(f"{label}: schema {event.get('schema')!r}")
    if not (isinstance(event.get("id"), str) and event["id"].startswith("evt_") and len(event["id"]) > 8):
        p.append(f"{label}: id {event.get('id')!r}")
    if not (isinstance(event.get("time"), str) and TIME.match(event["time"])):
        p.append(f"{label}: time {event.get('time')!r} (want RFC 3339 UTC with milliseconds)")
    if event.get("type") not in TYPES:
        p.append(f"{label}: type {event.get('type')!r} not in the contract's list")
    if event.get("outcome") not in OUTCOMES:
        p.append(f"{label}: outcome {event.get('outcome')!r}")
    decision_outcome = event.get("outcome") in ("permit", "deny", "approval_required")
    if (event.get("type") == "decision") != decision_outcome:
        p.append(f"{label}: outcome {event.get('outcome')!r} for type {event.get('type')!r}")
    actor = event.get("actor")
    if not (isinstance(actor, dict) and actor.get("type") in ACTOR_TYPES and isinstance(actor.get("id"), str) and actor["id"]):
        p.append(f"{label}: actor {actor!r}")
    target = event.get("target")
    if target is not None and not (isinstance(target, dict) and target.get("type") in TARGET_TYPES and isinstance(target.get("id"), str) and target["id"]):
        p.append(f"{label}: target {target!r}")
    if "workspace" in event and not (isinstance(event["workspace"], str) and event["workspace"]):
        p.append(f"{label}: workspace {event['workspace']!r}")
    ocsf = event.get("ocsf")
    if not (isinstance(ocsf, dict) and isinstance(ocsf.get("class_uid"), int)):
        p.append(f"{label}: ocsf.class_uid missing ({ocsf!r})")
    else:
        for key in ("category_uid", "activity_id", "type_uid", "status_id", "severity_id"):
            if not isinstance(ocsf.get(key), int):
                p.append(f"{label}: ocsf.{key} {ocsf.get(key)!r}")
        if isinstance(ocsf.get("activity_id"), int) and ocsf.get("type_uid") != ocsf["class_uid"] * 100 + ocsf["activity_id"]:
            p.append(f"{label}: ocsf.type_uid {ocsf.get('type_uid')} ≠ class_uid*100+activity_id")
        if isinstance(ocsf.get("class_uid"), int) and ocsf.get("category_uid") != ocsf["class_uid"] // 1000:
            p.append(f"{label}: ocsf.category_uid {ocsf.get('category_uid')} does not match class {ocsf['class_uid']}")
    if not (isinstance(event.get("node"), str) and event["node"]):
        p.append(f"{label}: node {event.get('node')!r}")
    if "argument_names" in event:
        names = event["argument_names"]
        if not (isinstance(names, list) and all(isinstance(n, str) for n in names) and names == sorted(names)):
            p.append(f"{label}: argument_names {names!r} (want sorted names)")
    if "session_id" in event:
        p.append(f"{label}: carries session_id (a bearer capability; the contract's field is session_ref)")
    if "session_ref" in event and not (isinstance(event["session_ref"], str) and SESSION_REF.match(event["session_ref"])):
        p.append(f"{label}: session_ref {event['session_ref']!r} (want sesref_ + 22 base64url characters)")
    for key in ("trace_id", "span_id"):
        if key in event and not re.fullmatch(r"[0-9a-f]{%d}" % (32 if key == "trace_id" else 16), str(event[key])):
            p.append(f"{label}: {key} {event[key]!r}")
    return p


def secrets_found(raw, secrets):
    """Names of the secrets whose bytes occur in raw."""
    return sorted(name for name, value in secrets.items() if value and value.encode() in raw)


def metric_values(text, name):
    """{frozenset(labels): value} of one Prometheus metric."""
    values = {}
    for line in text.splitlines():
        m = re.match(r"^" + re.escape(name) + r"\{([^}]*)\}\s+([0-9.eE+-]+)", line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            values[labels] = float(m.group(2))
    return values


def mode(path):
    try:
        return oct(os.stat(path).st_mode & 0o777)
    except OSError as error:
        return str(error)
