#!/usr/bin/env python3
"""A minimal OTLP/HTTP receiver (binary protobuf), written from the OTLP specification, for
scripts/otel-e2e: what an OpenTelemetry Collector would see from Tessera.

POST /v1/traces, /v1/logs, /v1/metrics with `Content-Type: application/x-protobuf` (gzip-decoded
when `Content-Encoding: gzip`; chunked bodies too) are decoded with the official protobuf
definitions (opentelemetry-proto) and kept: the raw bytes as received, the decoded bytes, the
message in protobuf text format, and every span and log record flattened to JSON. Each is answered
200 with an empty Export*ServiceResponse (`application/x-protobuf`, no bytes), as a collector does.
Anything else is recorded too (so a wrong path or content type shows up) and answered 400/404.

Control routes for the test (never used by an exporter):
  GET  /_received         everything kept, as JSON
  GET  /_count            {"requests": N}

Run: receiver.py [--port N]   (default 0: any free loopback port). Prints
"receiver: listening on http://127.0.0.1:PORT" on stderr once it accepts connections.
"""
import argparse
import base64
import gzip
import json
import sys
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import text_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest, ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (ExportMetricsServiceRequest,
                                                                          ExportMetricsServiceResponse)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest, ExportTraceServiceResponse

SIGNALS = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/logs": (ExportLogsServiceRequest, ExportLogsServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}
SPAN_KINDS = {0: "UNSPECIFIED", 1: "INTERNAL", 2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}
MAX_BODY = 64 * 1024 * 1024


def any_value(value):
    """An OTLP AnyValue as plain JSON (bytes as {"bytes_b64": …})."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return {"bytes_b64": base64.b64encode(value.bytes_value).decode()}
    return getattr(value, kind)


def attributes(key_values):
    return {kv.key: any_value(kv.value) for kv in key_values}


def flatten_traces(message):
    spans = []
    for resource_spans in message.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                spans.append({
                    "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(), "parent_span_id": span.parent_span_id.hex(),
                    "trace_state": span.trace_state, "flags": span.flags,
                    "name": span.name, "kind": SPAN_KINDS.get(span.kind, str(span.kind)),
                    "start_time_unix_nano": span.start_time_unix_nano, "end_time_unix_nano": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "events": [{"name": e.name, "attributes": attributes(e.attributes)} for e in span.events],
                    "links": [{"trace_id": l.trace_id.hex(), "span_id": l.span_id.hex()} for l in span.links],
                    "status": {"code": span.status.code, "message": span.status.message},
                    "resource": resource, "scope": scope_spans.scope.name,
                })
    return spans


def flatten_logs(message):
    records = []
    for resource_logs in message.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                records.append({
                    "time_unix_nano": record.time_unix_nano, "severity_number": record.severity_number,
                    "severity_text": record.severity_text, "body": any_value(record.body),
                    "attributes": attributes(record.attributes),
                    "trace_id": record.trace_id.hex(), "span_id": record.span_id.hex(),
                    "resource": resource, "scope": scope_logs.scope.name,
                })
    return records


def flatten_metrics(message):
    names = []
    for resource_metrics in message.resource_metrics:
        resource = attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                names.append({"name": metric.name, "data": metric.WhichOneof("data"), "resource": resource})
    return names


class Store:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []   # one entry per HTTP request, exporter or not
        self.spans = []
        self.logs = []
        self.metrics = []

    def add(self, entry, spans=(), logs=(), metrics=()):
        with self.lock:
            entry["index"] = len(self.requests)
            self.requests.append(entry)
            self.spans.extend(spans)
            self.logs.extend(logs)
            self.metrics.extend(metrics)

    def snapshot(self):
        with self.lock:
            return {"requests": list(self.requests), "spans": list(self.spans), "logs": list(self.logs), "metrics": list(self.metrics)}


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # exporters keep connections alive
    server_version = "otlp-e2e-receiver"

    def log_message(self, format, *args):  # noqa: A002 — quiet: the test prints what matters
        pass

    def answer(self, status, body=b"", content_type="application/x-protobuf"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise ValueError("body too large")
        return self.rfile.read(length)

    def do_GET(self):  # noqa: N802
        if self.path == "/_received":
            return self.answer(200, json.dumps(STORE.snapshot()).encode(), "application/json")
        if self.path == "/_count":
            return self.answer(200, json.dumps({"requests": len(STORE.requests)}).encode(), "application/json")
        STORE.add({"method": "GET", "path": self.path, "time": time.time(), "headers": dict(self.headers.items()), "error": "GET"})
        return self.answer(404, b"", "text/plain")

    def do_POST(self):  # noqa: N802
        entry = {"method": "POST", "path": self.path, "time": time.time(), "headers": dict(self.headers.items()),
                 "content_type": self.headers.get("Content-Type", ""), "content_encoding": self.headers.get("Content-Encoding", "")}
        try:
            raw = self.read_body()
        except Exception as error:  # noqa: BLE001
            entry["error"] = f"unreadable body: {error}"
            STORE.add(entry)
            self.close_connection = True
            return self.answer(400, b"", "text/plain")
        entry["raw_b64"] = base64.b64encode(raw).decode()
        entry["raw_size"] = len(raw)
        signal = SIGNALS.get(self.path.split("?")[0])
        if signal is None:
            entry["error"] = "unknown path"
            STORE.add(entry)
            return self.answer(404, b"", "text/plain")
        body = raw
        encoding = entry["content_encoding"].strip().lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(raw)
            elif encoding == "deflate":
                body = zlib.decompress(raw)
            elif encoding not in ("", "identity"):
                raise ValueError(f"unsupported Content-Encoding {encoding!r}")
        except Exception as error:  # noqa: BLE001
            entry["error"] = f"cannot decode body: {error}"
            STORE.add(entry)
            return self.answer(400, b"", "text/plain")
        entry["body_b64"] = base64.b64encode(body).decode()
        media_type = entry["content_type"].split(";")[0].strip().lower()
        if media_type != "application/x-protobuf":
            entry["error"] = f"Content-Type {entry['content_type']!r} is not application/x-protobuf"
            STORE.add(entry)
            return self.answer(415, b"", "text/plain")
        request_type, response_type = signal
        message = request_type()
        try:
            message.ParseFromString(body)
        except Exception as error:  # noqa: BLE001
            entry["error"] = f"not a {request_type.__name__}: {error}"
            STORE.add(entry)
            return self.answer(400, b"", "text/plain")
        entry["decoded"] = True
        entry["text"] = text_format.MessageToString(message, as_utf8=True)
        spans = logs = metrics = ()
        if self.path.startswith("/v1/traces"):
            spans = flatten_traces(message)
        elif self.path.startswith("/v1/logs"):
            logs = flatten_logs(message)
        else:
            metrics = flatten_metrics(message)
        entry["items"] = len(spans) + len(logs) + len(metrics)
        entry["service_names"] = sorted({str(item["resource"].get("service.name")) for item in (*spans, *logs, *metrics)})
        STORE.add(entry, spans, logs, metrics)
        # Full success (OTLP/HTTP): 200 and an empty Export*ServiceResponse, binary-encoded.
        return self.answer(200, response_type().SerializeToString())


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        server = Server(("127.0.0.1", args.port), Handler)
    except OSError as error:
        print(f"receiver: cannot listen on 127.0.0.1:{args.port}: {error}", file=sys.stderr, flush=True)
        sys.exit(3)
    print(f"receiver: listening on http://127.0.0.1:{server.server_address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
