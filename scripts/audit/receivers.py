"""What a SIEM puts in front of Tessera's audit stream (docs/audit.md), written from the RFCs and
the contract, not from Tessera's code: an RFC 6587 octet-counting TCP syslog listener that parses
RFC 5424 messages, and a webhook receiver for `POST {"events":[…]}` that deduplicates by event id
(delivery is at least once) and can be switched down (503) or stopped entirely.

Standard library only. `scripts/audit/selftest.py` checks both without a server.
"""
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# --- RFC 5424 -------------------------------------------------------------------------------------
# HEADER = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
# PRI = "<" PRIVAL ">", PRIVAL = 1*3DIGIT (0..191); VERSION = NONZERO-DIGIT 0*2DIGIT
# TIMESTAMP = NILVALUE / FULL-DATE "T" FULL-TIME (RFC 3339, TIME-SECFRAC ≤ 6 digits, Z or ±hh:mm)
# HOSTNAME 1*255, APP-NAME 1*48, PROCID 1*128, MSGID 1*32 PRINTUSASCII (or "-")
HEADER = re.compile(
    rb"<(?P<pri>[0-9]{1,3})>(?P<version>[1-9][0-9]{0,2}) (?P<timestamp>\S+) (?P<hostname>[!-~]{1,255}) "
    rb"(?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) ")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
SD_NAME = rb"[!#-<>-\\^-~]{1,32}"  # PRINTUSASCII except '=', SP, ']', '"'
BOM = b"\xef\xbb\xbf"


class SyslogError(ValueError):
    pass


def parse_structured_data(data, i):
    """Parses STRUCTURED-DATA at data[i:]: (list of (sd_id, [(name, value)…]), index after it).
    NILVALUE gives []."""
    if data[i:i + 1] == b"-":
        return [], i + 1
    elements = []
    if data[i:i + 1] != b"[":
        raise SyslogError(f"structured data must be '-' or start with '[' at {i}: {data[i:i + 20]!r}")
    while data[i:i + 1] == b"[":
        m = re.compile(SD_NAME).match(data, i + 1)
        if not m:
            raise SyslogError(f"bad SD-ID at {i + 1}")
        sd_id = m.group().decode("ascii")
        i = m.end()
        params = []
        while data[i:i + 1] == b" ":
            m = re.compile(SD_NAME + rb'="').match(data, i + 1)
            if not m:
                raise SyslogError(f"bad SD-PARAM at {i + 1}: {data[i + 1:i + 30]!r}")
            name = data[m.start():m.end() - 2].decode("ascii")
            i = m.end()
            value = bytearray()
            while True:
                if i >= len(data):
                    raise SyslogError("unterminated PARAM-VALUE")
                c = data[i:i + 1]
                if c == b"\\" and data[i + 1:i + 2] in (b'"', b"\\", b"]"):
                    value += data[i + 1:i + 2]
                    i += 2
                elif c == b'"':
                    i += 1
                    break
                elif c == b"]":
                    raise SyslogError("unescaped ']' inside PARAM-VALUE")
                else:
                    value += c
                    i += 1
            params.append((name, value.decode("utf-8")))
        if data[i:i + 1] != b"]":
            raise SyslogError(f"SD-ELEMENT not closed at {i}: {data[i:i + 20]!r}")
        i += 1
        elements.append((sd_id, params))
    return elements, i


def parse_rfc5424(data):
    """One RFC 5424 SYSLOG-MSG (bytes) → dict; raises SyslogError naming what is wrong."""
    m = HEADER.match(data)
    if not m:
        raise SyslogError(f"not an RFC 5424 header: {data[:80]!r}")
    pri = int(m.group("pri"))
    if pri > 191 or (len(m.group("pri")) > 1 and m.group("pri").startswith(b"0")):
        raise SyslogError(f"bad PRI {m.group('pri')!r}")
    fields = {k: m.group(k).decode("ascii") for k in ("timestamp", "hostname", "app", "procid", "msgid")}
    if fields["timestamp"] != "-" and not TIMESTAMP.match(fields["timestamp"]):
        raise SyslogError(f"bad TIMESTAMP {fields['timestamp']!r}")
    sd, i = parse_structured_data(data, m.end())
    if i == len(data):
        msg = b""
    elif data[i:i + 1] == b" ":
        msg = data[i + 1:]
    else:
        raise SyslogError(f"no SP after STRUCTURED-DATA at {i}: {data[i:i + 20]!r}")
    bom = msg.startswith(BOM)
    return {"pri": pri, "facility": pri // 8, "severity": pri % 8, "version": int(m.group("version")), **fields,
            "structured_data": sd, "msg": msg[3:] if bom else msg, "bom": bom}


class OctetCounting:
    """RFC 6587 §3.4.1 framing: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN = NONZERO-DIGIT *DIGIT (octets).
    feed() bytes as they come; frames() yields complete messages; a framing error is raised."""

    MAX_LEN = 1 << 20

    def __init__(self):
        self.buffer = bytearray()

    def feed(self, data):
        self.buffer += data
        out = []
        while self.buffer:
            space = self.buffer.find(b" ", 0, 9)
            if space < 0:
                if len(self.buffer) >= 9 or not self.buffer.isdigit():
                    raise SyslogError(f"no octet count: {bytes(self.buffer[:40])!r}")
                break
            count = bytes(self.buffer[:space])
            if not count.isdigit() or count.startswith(b"0"):
                raise SyslogError(f"bad MSG-LEN {count!r} (non-transparent framing?)")
            n = int(count)
            if n > self.MAX_LEN:
                raise SyslogError(f"MSG-LEN {n} too large")
            if len(self.buffer) < space + 1 + n:
                break
            out.append(bytes(self.buffer[space + 1:space + 1 + n]))
            del self.buffer[:space + 1 + n]
        return out


class SyslogListener:
    """TCP syslog on 127.0.0.1: every connection framed by octet counting, every frame parsed as
    RFC 5424. Keeps raw bytes (for the secret grep), parsed messages, and every error."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.raw = bytearray()
        self.messages = []   # parsed dicts, in arrival order, with "event" (the MSG as JSON) and "raw"
        self.errors = []
        self.connections = 0
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        framing = OctetCounting()
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    if framing.buffer:
                        with self.lock:
                            self.errors.append(f"connection closed inside a frame: {bytes(framing.buffer[:60])!r}")
                    return
                with self.lock:
                    self.raw += data
                try:
                    frames = framing.feed(data)
                except SyslogError as error:
                    with self.lock:
                        self.errors.append(f"framing: {error}")
                    return
                for frame in frames:
                    self._message(frame)

    def _message(self, frame):
        try:
            parsed = parse_rfc5424(frame)
            parsed["raw"] = frame
            try:
                parsed["event"] = json.loads(parsed["msg"].decode("utf-8"))
            except ValueError as error:
                parsed["event"] = None
                parsed["json_error"] = str(error)
            with self.lock:
                self.messages.append(parsed)
        except SyslogError as error:
            with self.lock:
                self.errors.append(f"rfc5424: {error}")

    def snapshot(self):
        with self.lock:
            return list(self.messages), list(self.errors), bytes(self.raw)

    def close(self):
        self.stopped = True
        try:
            self.sock.close()
        except OSError:
            pass


# --- webhook ---------------------------------------------------------------------------------------
class WebhookReceiver:
    """POST PATH with {"events":[…]}: answers 200 (acknowledged) while "up", 503 while "503", and
    nothing at all once stop()ped (the port closed); start() again on the same port. Acked events
    are deduplicated by id (order of first acknowledgement kept) and duplicates counted."""

    def __init__(self, path="/audit", port=0):
        self.path = path
        self.port = port
        self.mode = "up"
        self.lock = threading.Lock()
        self.acked = {}          # id → event (first acknowledged copy)
        self.order = []          # ids in order of first acknowledgement
        self.duplicates = 0      # acknowledged copies of ids already acknowledged
        self.duplicate_ids = set()
        self.rejected = 0        # events received while answering 503
        self.batches = []        # (time, mode, [ids]) per request
        self.raw = bytearray()   # every body received
        self.errors = []         # malformed requests
        self.headers = []        # (content-type, authorization present) per request
        self.server = None
        self.open_connections = set()
        self.start()

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                super().setup()
                with receiver.lock:
                    receiver.open_connections.add(self.connection)

            def finish(self):
                with receiver.lock:
                    receiver.open_connections.discard(self.connection)
                try:
                    super().finish()
                except OSError:
                    pass

            def read_body(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = bytearray()
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return bytes(body)
                        body += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def do_POST(self):
                body = self.read_body()
                code = receiver._receive(self.path, self.headers, body)
                if code is None:  # stopped meanwhile: no answer at all
                    self.close_connection = True
                    return
                self.send_response(code)
                payload = b"{}" if code == 200 else b'{"error":"down"}'
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                # A connection cut by stop() (or by the sender) is no error of the receiver's.
                if not isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self):
        """Closes the port and every open (keep-alive) connection: the receiver is gone."""
        if self.server is not None:
            with self.lock:
                server, self.server = self.server, None
            server.shutdown()
            server.server_close()
            with self.lock:
                connections = list(self.open_connections)
            for connection in connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    @property
    def running(self):
        return self.server is not None

    def _receive(self, path, headers, body):
        with self.lock:
            if self.server is None:
                return None
            self.raw += body
            self.headers.append((headers.get("Content-Type", ""), "Authorization" in headers))
            if path != self.path:
                self.errors.append(f"POST to {path}, not {self.path}")
                return 404
            try:
                document = json.loads(body)
                events = document["events"]
                if not isinstance(events, list) or not events or not all(isinstance(e, dict) and isinstance(e.get("id"), str) for e in events):
                    raise ValueError("events must be a non-empty array of objects with an id")
            except (ValueError, KeyError, TypeError) as error:
                self.errors.append(f"bad body: {error}: {body[:200]!r}")
                return 400
            ids = [e["id"] for e in events]
            self.batches.append((time.monotonic(), self.mode, ids))
            if self.mode != "up":
                self.rejected += len(events)
                return 503
            for event in events:
                if event["id"] in self.acked:
                    self.duplicates += 1
                    self.duplicate_ids.add(event["id"])
                else:
                    self.acked[event["id"]] = event
                    self.order.append(event["id"])
            return 200

    def snapshot(self):
        with self.lock:
            return [self.acked[i] for i in self.order], self.duplicates, list(self.errors), bytes(self.raw)

    def ids(self):
        with self.lock:
            return set(self.acked)
