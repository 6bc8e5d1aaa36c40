"""Helpers shared by the MCP end-to-end scripts: results, plain HTTP to Tessera, passports, ports."""
import json
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request

TESSERA = os.environ["TESSERA_BIN"]
SERVER = os.environ["TESSERA_SERVER"]
ADMIN = os.environ["TESSERA_TOKEN"]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
RESULTS = []


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f"  ({detail})"), file=sys.stderr, flush=True)


def http(method, path, body=None, token=ADMIN, server=SERVER, headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(server + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def issue(mission, server=SERVER, token=ADMIN, **extra):
    status, body = http("POST", "/issue", {"mission": mission, "ttl_s": 3600, **extra}, token=token, server=server)
    assert status == 200, body
    reply = json.loads(body)
    path = tempfile.mktemp(suffix=".passport")
    with open(path, "w") as f:
        f.write(reply["token"])
    os.chmod(path, 0o600)
    return path, reply["claims"]["jti"]


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(extra)
    return env


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url, attempts=300):
    for _ in range(attempts):
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except urllib.error.HTTPError:
            return True
        except OSError:
            time.sleep(0.1)
    return False


def summary():
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
