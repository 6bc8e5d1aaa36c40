#!/usr/bin/env python3
"""Checks the receivers of scripts/audit-e2e without a server: the RFC 5424 parser on the RFC's own
examples and on broken messages, RFC 6587 octet counting fed byte by byte, the TCP listener, and the
webhook receiver going up, 503, stopped (keep-alive connections cut) and back on the same port.
Usage: python3 scripts/audit/selftest.py   (exit 0 when every check passes)
"""
import http.client
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from receivers import OctetCounting, SyslogError, SyslogListener, WebhookReceiver, parse_rfc5424  # noqa: E402

results = []


def check(name, condition, detail=""):
    results.append(bool(condition))
    print(("PASS " if condition else "FAIL ") + name + ("" if condition else f"  ({detail})"), file=sys.stderr, flush=True)


def raises(function, *args):
    try:
        function(*args)
    except SyslogError as error:
        return str(error)
    return None


def until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# --- RFC 5424 §6.5's examples ----------------------------------------------------------------------
example1 = b"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xef\xbb\xbf'su root' failed for lonvick on /dev/pts/8"
m = parse_rfc5424(example1)
check("RFC 5424 example 1: PRI 34 = facility 4, severity 2", (m["facility"], m["severity"], m["version"]) == (4, 2, 1), m)
check("example 1: fields, NIL PROCID, no SD, BOM stripped", (m["hostname"], m["app"], m["procid"], m["msgid"], m["structured_data"], m["bom"])
      == ("mymachine.example.com", "su", "-", "ID47", [], True) and m["msg"].startswith(b"'su root'"), m)
example3 = (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" '
            b'eventSource="Application" eventID="1011"] \xef\xbb\xbfAn application event log entry...')
m = parse_rfc5424(example3)
check("example 3: one SD-ELEMENT with three params", m["structured_data"] == [("exampleSDID@32473", [("iut", "3"), ("eventSource", "Application"), ("eventID", "1011")])], m)
example4 = (b'<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" '
            b'eventID="1011"][examplePriority@32473 class="high"]')
m = parse_rfc5424(example4)
check("example 4: two SD-ELEMENTs, no MSG", len(m["structured_data"]) == 2 and m["msg"] == b"", m)
escaped = b'<110>1 2026-12-03T13:00:00.123+01:00 host tessera 42 decision [tessera@32473 reason="a \\"q\\" \\\\ \\] b"] {"x":1}'
m = parse_rfc5424(escaped)
check("PARAM-VALUE escapes \\\" \\\\ \\] decoded", m["structured_data"] == [("tessera@32473", [("reason", 'a "q" \\ ] b')])] and m["msg"] == b'{"x":1}', m)
check("PRI 110 = facility 13 (log audit), severity 6", (m["facility"], m["severity"]) == (13, 6), m)
for name, bad in [
    ("no PRI", b"1 2003-10-11T22:14:15.003Z h a p m - x"),
    ("version 0", b"<34>0 2003-10-11T22:14:15.003Z h a p m - x"),
    ("PRI 192", b"<192>1 2003-10-11T22:14:15.003Z h a p m - x"),
    ("leading zero PRI", b"<034>1 2003-10-11T22:14:15.003Z h a p m - x"),
    ("RFC 3164 message", b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed"),
    ("bad timestamp", b"<34>1 2003-10-11 22:14:15 h a p m - x"),
    ("MSGID over 32", b"<34>1 2003-10-11T22:14:15.003Z h a p " + b"m" * 33 + b" - x"),
    ("SD not closed", b'<34>1 2003-10-11T22:14:15.003Z h a p m [x@1 a="b" x'),
    ("unescaped ] in value", b'<34>1 2003-10-11T22:14:15.003Z h a p m [x@1 a="b]"] x'),
    ("no SP before MSG", b'<34>1 2003-10-11T22:14:15.003Z h a p m [x@1 a="b"]x'),
    ("missing STRUCTURED-DATA", b"<34>1 2003-10-11T22:14:15.003Z h a p m x"),
]:
    check(f"parser refuses: {name}", raises(parse_rfc5424, bad) is not None)

# --- RFC 6587 octet counting -------------------------------------------------------------------------
frames = [example1, example3, escaped]
stream = b"".join(str(len(f)).encode() + b" " + f for f in frames)
framing = OctetCounting()
got = []
for byte in stream:
    got += framing.feed(bytes([byte]))
check("octet counting, fed byte by byte, yields the three frames", got == frames, got)
framing = OctetCounting()
check("octet counting, one read, yields the three frames", framing.feed(stream) == frames and not framing.buffer)
check("octet counting refuses LF-terminated (non-transparent) framing", raises(OctetCounting().feed, example1 + b"\n") is not None)
check("octet counting refuses a leading-zero count", raises(OctetCounting().feed, b"012 <34>1 x") is not None)

# --- the TCP listener ---------------------------------------------------------------------------------
listener = SyslogListener()
event = {"id": "evt_x", "type": "decision", "outcome": "permit"}
msg = (b'<110>1 2026-12-03T13:00:00.123Z host tessera 7 decision [tessera@32473 id="evt_x" type="decision" outcome="permit"] '
       + json.dumps(event).encode())
with socket.create_connection(("127.0.0.1", listener.port)) as s:
    data = (str(len(msg)).encode() + b" " + msg) * 2
    s.sendall(data[:7])
    time.sleep(0.05)
    s.sendall(data[7:])
    until(lambda: len(listener.snapshot()[0]) == 2)
with socket.create_connection(("127.0.0.1", listener.port)) as s:
    s.sendall(str(len(msg)).encode() + b" " + msg)
    until(lambda: len(listener.snapshot()[0]) == 3)
messages, errors, raw = listener.snapshot()
check("listener: 3 messages over 2 connections, split reads", len(messages) == 3 and listener.connections == 2 and not errors, (len(messages), errors))
check("listener: MSG parsed as the event JSON", messages and messages[0]["event"] == event, messages[:1])
check("listener: raw bytes kept", raw.count(b"evt_x") == 6)
with socket.create_connection(("127.0.0.1", listener.port)) as s:
    s.sendall(msg + b"\n")
    until(lambda: listener.snapshot()[1])
check("listener: a frame without an octet count is an error", any("framing" in e for e in listener.snapshot()[1]), listener.snapshot()[1])
listener.close()

# --- the webhook receiver -----------------------------------------------------------------------------
hook = WebhookReceiver("/audit")


def post(events, path="/audit", connection=None):
    c = connection or http.client.HTTPConnection("127.0.0.1", hook.port, timeout=5)
    c.request("POST", path, body=json.dumps({"events": events}), headers={"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    return r.status


e1, e2, e3 = ({"id": f"evt_{i}", "type": "decision"} for i in range(1, 4))
keep = http.client.HTTPConnection("127.0.0.1", hook.port, timeout=5)
check("webhook up: 200", post([e1, e2], connection=keep) == 200)
check("webhook: a duplicate batch is acked again", post([e2, e3], connection=keep) == 200)
acked, duplicates, errors, raw = hook.snapshot()
check("webhook: deduplicated in order, one duplicate counted", [e["id"] for e in acked] == ["evt_1", "evt_2", "evt_3"] and duplicates == 1, (acked, duplicates))
check("webhook: wrong path 404, bad body 400", post([e1], path="/x") == 404 and post([]) == 400)
hook.mode = "503"
check("webhook 503 mode: 503, nothing acked", post([{"id": "evt_4"}]) == 503 and "evt_4" not in hook.ids() and hook.rejected == 1)
hook.mode = "up"
port = hook.port
hook.stop()
try:
    status = post([{"id": "evt_5"}], connection=keep)
except (OSError, http.client.HTTPException) as error:
    status = type(error).__name__
check("webhook stopped: the keep-alive connection is cut, no answer", status != 200 and "evt_5" not in hook.ids(), status)
try:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()
    refused = False
except OSError:
    refused = True
check("webhook stopped: the port refuses connections", refused)
hook.start()
check("webhook restarted on the same port", hook.port == port and post([{"id": "evt_5"}]) == 200 and "evt_5" in hook.ids())
chunked = http.client.HTTPConnection("127.0.0.1", hook.port, timeout=5)
chunked.request("POST", "/audit", body=iter([b'{"events":[{"id":', b'"evt_6"}]}']), headers={"Content-Type": "application/json"},
                encode_chunked=True)
r = chunked.getresponse()
r.read()
check("webhook: a chunked body is read", r.status == 200 and "evt_6" in hook.ids(), r.status)
hook.stop()

passed = sum(results)
print(f"{passed} passed, {len(results) - passed} failed", flush=True)
sys.exit(0 if all(results) else 1)
