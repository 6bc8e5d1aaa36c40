"""Differential test of URL resource scopes (round three, finding 2). For each hostile URL and each
scope, Tessera's decision is compared with what two independent parsers say the URL addresses:
the WHATWG URL standard (ada-url) and Python's urllib.parse. Tessera may PERMIT only when both
agree the host is the permitted one (and, for a path scope, that the path is under it).
Needs TESSERA_SERVER and TESSERA_TOKEN. Closes with 'N passed, N failed'."""
import itertools
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

import ada_url

SERVER = os.environ["TESSERA_SERVER"]
TOKEN = os.environ["TESSERA_TOKEN"]
HOST = "api.example.com"
RESULTS = []


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f"  ({detail})"), file=sys.stderr, flush=True)


def post(path, body, token=TOKEN):
    request = urllib.request.Request(SERVER + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def session(scope):
    mission = {"agent_id": "fetcher", "mission": "fetch", "allowed_tools": ["fetch"], "resource_scope": [scope]}
    status, issued = post("/issue", {"mission": mission, "ttl_s": 3600})
    assert status == 200, issued
    status, started = post("/session/start", {"token": issued["token"]}, token=None)
    assert status == 200, started
    return started["session_id"]


def hostile_urls():
    befores = ["", "%2F", "%2f", "%252F", "%5C", "%5c", "\\", "%2f%2e%2e", "%2F%2E%2E%2F", "%2Fv1%2F", ".", ":443", "%3A443", "%40", "%00", "%09",
               "%2F..%2F", "%E2%81%84", "\uff0f", "\u2044"]
    ats = ["@evil.com", "@evil.com:443", "\\@evil.com", "%40evil.com", "#@evil.com", "?@evil.com", ":x@evil.com", "@@evil.com", ""]
    paths = ["/v1/x", "/steal", "", "/v1/../../x", "/%2e%2e/x"]
    for before, at, path in itertools.product(befores, ats, paths):
        yield f"https://{HOST}{before}{at}{path}"
    for extra in ["https://evil.com/https://api.example.com/v1/x", "https://evil.com\\@api.example.com/v1/x", "https://evil.com#@api.example.com/v1/x",
                  "https://evil.com?@api.example.com/v1/x", "https://API.EXAMPLE.COM/v1/x", "https://api.example.com./v1/x",
                  "https:/api.example.com/v1/x", "https:\\\\api.example.com/v1/x", "HTTPS://api.example.com/v1/x", "https://api.example.com/v1/x?y=@evil.com"]:
        yield extra


def addressed(url):
    """(host, path) by ada (WHATWG) and by urllib, or None where a parser refuses it."""
    try:
        parsed = ada_url.URL(url)
        ada = (parsed.hostname.lower().rstrip("."), urllib.parse.unquote(parsed.pathname))
    except (ValueError, TypeError):
        ada = None
    try:
        split = urllib.parse.urlsplit(url)
        py = ((split.hostname or "").lower().rstrip("."), urllib.parse.unquote(split.path))
    except ValueError:
        py = None
    return ada, py


def under(path, prefix):
    normalized = os.path.normpath(path) if path else "/"
    return prefix == "/" or normalized == prefix.rstrip("/") or normalized.startswith(prefix)


def main():
    scopes = {"https://api.example.com/**": "/", "https://api.example.com/v1/**": "/v1/"}
    urls = list(dict.fromkeys(hostile_urls()))
    wrong = []
    permitted = 0
    for scope, prefix in scopes.items():
        for index, url in enumerate(urls):
            # Keep sessions short (a fresh one every 100 URLs): each is one agent's run.
            if index % 100 == 0:
                current = session(scope)
            status, result = post("/evaluate", {"session_id": current, "tool_name": "fetch", "arguments": {"url": url}}, token=None)
            if status != 200:
                wrong.append((url, scope, f"status {status}"))
                continue
            if result.get("decision") != "PERMIT":
                continue
            permitted += 1
            ada, py = addressed(url)
            agree = ada is not None and py is not None and ada[0] == HOST and py[0] == HOST and under(ada[1], prefix) and under(py[1], prefix)
            if not agree:
                wrong.append((url, scope, f"ada={ada} urllib={py}"))
    check(f"{len(urls)} URLs × {len(scopes)} scopes: every PERMIT is addressed to {HOST} (under the scope) by both ada-url and urllib",
          not wrong, wrong[:5])
    check("the plain URLs inside the scopes are still permitted", permitted >= 2, permitted)
    for url in ["https://api.example.com%2F@evil.com/v1/x", "https://api.example.com%2Fv1%2F@evil.com/steal", "https://api.example.com%5C@evil.com/v1/x",
                "https://api.example.com\\@evil.com/v1/x", "https://api.example.com%252F@evil.com/v1/x", "https://api.example.com%2f%2e%2e@evil.com/v1/x"]:
        status, result = post("/evaluate", {"session_id": session("https://api.example.com/v1/**"), "tool_name": "fetch", "arguments": {"url": url}}, token=None)
        check(f"the reported escape {url} is denied", status == 200 and result.get("decision") == "DENY", result)
    passed = sum(RESULTS)
    print(f"{passed} passed, {len(RESULTS) - passed} failed")
    sys.exit(0 if passed == len(RESULTS) else 1)


main()
