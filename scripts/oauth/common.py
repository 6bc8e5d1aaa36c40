"""Shared by the OAuth end-to-end scripts (e2e.py, conformance.py, consent_browser.py): results, plain
HTTP to Tessera, a "browser" that walks the sign-in and consent pages the way a person's browser
submits them, PKCE, and a raw MCP call.

Environment (set by scripts/oauth-e2e): TESSERA_BIN, TESSERA_SERVER (the issuer), TESSERA_TOKEN (the
bootstrap admin's API key), OAUTH_USERNAME, OAUTH_PASSWORD, UPSTREAM_LOG.
"""
import base64
import hashlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import urllib.parse
from html.parser import HTMLParser

import jwt
import requests

TESSERA = os.environ.get("TESSERA_BIN", "tessera")
SERVER = os.environ["TESSERA_SERVER"].rstrip("/")
ISSUER = SERVER
ADMIN = os.environ["TESSERA_TOKEN"]
USERNAME = os.environ.get("OAUTH_USERNAME", "alice")
PASSWORD = os.environ.get("OAUTH_PASSWORD", "correct horse battery staple")
UPSTREAM = "time"
ENDPOINT = f"{SERVER}/mcp/{UPSTREAM}"
PRM_URL = f"{SERVER}/.well-known/oauth-protected-resource/mcp/{UPSTREAM}"
AS_METADATA_URL = f"{SERVER}/.well-known/oauth-authorization-server"
UPSTREAM_LOG = os.environ.get("UPSTREAM_LOG", "/dev/null")
HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = []
# RFC 6749 §5.2 + RFC 8707 §2 + RFC 9449 §5 + RFC 6750 §3.1 (the token endpoint's possible errors)
TOKEN_ERRORS = {"invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
                "invalid_scope", "invalid_target", "invalid_dpop_proof", "use_dpop_nonce", "temporarily_unavailable", "server_error"}
# RFC 6749 §4.1.2.1 + RFC 8707 §2
AUTHORIZE_ERRORS = {"invalid_request", "unauthorized_client", "access_denied", "unsupported_response_type", "invalid_scope",
                    "server_error", "temporarily_unavailable", "invalid_target"}
# RFC 7591 §3.2.2
REGISTRATION_ERRORS = {"invalid_redirect_uri", "invalid_client_metadata", "invalid_software_statement", "unapproved_software_statement"}


def check(name, condition, detail=""):
    RESULTS.append(bool(condition))
    text = str(detail)
    if len(text) > 600:
        text = text[:600] + "…"
    print(("ok   " if condition else "FAIL ") + name + ("" if condition else f"  ({text})"), file=sys.stderr, flush=True)
    return bool(condition)


def summary():
    passed = sum(RESULTS)
    failed = len(RESULTS) - passed
    print(f"{passed} passed, {failed} failed", flush=True)
    sys.exit(1 if failed else 0)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce():
    """(verifier, S256 challenge) as RFC 7636 §4.1–4.2 define them."""
    verifier = b64url(secrets.token_bytes(48))
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(method, path, body=None, token=ADMIN, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = "Bearer " + token
    return requests.request(method, SERVER + path, json=body, headers=headers, timeout=30, allow_redirects=False, **kwargs)


def cli(*args, token=ADMIN, stdin=None):
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    env.update(TESSERA_SERVER=SERVER, TESSERA_TOKEN=token)
    return subprocess.run([TESSERA, *args], capture_output=True, text=True, env=env, input=stdin, timeout=60)


def json_of(response):
    try:
        return response.json()
    except ValueError:
        return None


def claims(token):
    """A passport's claims (unverified: the gateway verifies; here we only read what was granted)."""
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except Exception as error:  # noqa: BLE001
        return {"_error": str(error)}


def ensure_user():
    """Creates the person who signs in (IAM create-user); their user id. Idempotent."""
    status = api("POST", "/api/v1/iam", {"operation": "create-user", "workspace": "default",
                                          "user": {"username": USERNAME, "name": "Alice", "password": PASSWORD, "roles": ["writer"]}})
    if status.status_code == 200:
        return status.json()["user"]["id"]
    users = api("POST", "/api/v1/iam", {"operation": "list-users", "workspace": "default"}).json().get("users", [])
    return next((u["id"] for u in users if u["username"] == USERNAME), None)


def ensure_template(name, mission, description=None, ttl_s=None, resources=(UPSTREAM,)):
    body = {"name": name, "mission": mission, "resources": list(resources)}
    if description:
        body["description"] = description
    if ttl_s:
        body["ttl_s"] = ttl_s
    response = api("POST", "/mission-templates", body)
    return response.status_code in (201, 409), response


def metadata():
    return requests.get(AS_METADATA_URL, timeout=30).json()


def register(**fields):
    """POST /oauth/register (RFC 7591); (response, body)."""
    body = {"client_name": "oauth-e2e client", "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
            "token_endpoint_auth_method": "none"}
    body.update(fields)
    response = requests.post(SERVER + "/oauth/register", json=body, timeout=30)
    return response, json_of(response)


def token_request(data, auth=None, headers=None):
    """POST /oauth/token, form-encoded (RFC 6749 §3.2)."""
    return requests.post(SERVER + "/oauth/token", data=data, auth=auth, headers=headers or {}, timeout=30, allow_redirects=False)


def introspect(token):
    response = requests.post(SERVER + "/oauth/introspect", data={"token": token}, headers={"Authorization": "Bearer " + ADMIN}, timeout=30)
    return json_of(response) or {"_status": response.status_code}


def authorize_url(client_id, redirect_uri, challenge, state=None, scope="time.read", resource=ENDPOINT, **extra):
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri, "state": state or secrets.token_urlsafe(16),
              "code_challenge": challenge, "code_challenge_method": "S256", "scope": scope, "resource": resource}
    params.update(extra)
    params = {k: v for k, v in params.items() if v is not None}
    return SERVER + "/oauth/authorize?" + urllib.parse.urlencode(params)


def location_params(response):
    """The query of a redirect's Location, and its fragment (which must stay empty)."""
    location = response.headers.get("Location", "")
    parts = urllib.parse.urlsplit(location)
    return dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)), parts.fragment, location


# --- pages ---------------------------------------------------------------------------------------
class Forms(HTMLParser):
    """Every <form> of a page: method, action, inputs (in document order) and submit buttons."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"method": (a.get("method") or "get").lower(), "action": a.get("action") or "", "inputs": [], "buttons": []})
        elif tag == "input" and self.forms:
            self.forms[-1]["inputs"].append({"type": (a.get("type") or "text").lower(), "name": a.get("name"), "value": a.get("value") or ""})
        elif tag == "button" and self.forms:
            self.forms[-1]["buttons"].append({"type": (a.get("type") or "submit").lower(), "name": a.get("name"), "value": a.get("value") or ""})

    def handle_data(self, data):
        self.text.append(data)


def forms_of(html):
    parser = Forms()
    parser.feed(html or "")
    return parser.forms, " ".join(" ".join(parser.text).split())


def page_header_problems(response):
    """What the contract asks of every sign-in/consent/error page, as a list of what is missing."""
    h = response.headers
    csp = h.get("Content-Security-Policy", "")
    problems = []
    if not re.search(r"frame-ancestors\s+'none'", csp):
        problems.append(f"CSP frame-ancestors 'none' missing ({csp!r})")
    if not re.search(r"default-src\s+'none'", csp):
        problems.append(f"CSP default-src 'none' missing ({csp!r})")
    if h.get("X-Frame-Options", "").upper() != "DENY":
        problems.append(f"X-Frame-Options {h.get('X-Frame-Options')!r}")
    if "no-store" not in h.get("Cache-Control", ""):
        problems.append(f"Cache-Control {h.get('Cache-Control')!r}")
    if h.get("Referrer-Policy", "") != "no-referrer":
        problems.append(f"Referrer-Policy {h.get('Referrer-Policy')!r}")
    if not h.get("Content-Type", "").startswith("text/html"):
        problems.append(f"Content-Type {h.get('Content-Type')!r}")
    return problems


class Walk:
    """One authorization as a person's browser performs it: GET the authorization URL, fill in the
    sign-in form, press Approve (or Deny) on the consent page. Nothing is followed past the
    authorization server: the final 303's Location is captured, not visited."""

    def __init__(self, url, username=USERNAME, password=PASSWORD, decision="approve", session=None):
        self.session = session or requests.Session()
        self.url = url
        self.username, self.password, self.decision = username, password, decision
        self.first = self.signin = self.consent = self.final = None
        self.error = None

    @staticmethod
    def submission(form, fill, button=None):
        """The form data a browser sends: its inputs in document order (hidden ones as they are,
        the text/password ones as typed), then the pressed button's name=value."""
        data = []
        for field in form["inputs"]:
            if not field["name"] or field["type"] in ("submit", "button", "image", "reset"):
                continue
            data.append((field["name"], fill.get(field["name"], field["value"])))
        if button is not None and button.get("name"):
            data.append((button["name"], button["value"]))
        return data

    def post_form(self, response, form, fill, button=None):
        action = urllib.parse.urljoin(response.url, form["action"] or response.url)
        return self.session.post(action, data=self.submission(form, fill, button), allow_redirects=False, timeout=60)

    def run(self):
        self.first = self.session.get(self.url, allow_redirects=False, timeout=60)
        if self.first.status_code != 200:
            self.final = self.first
            return self
        forms, _ = forms_of(self.first.text)
        form = next((f for f in forms if f["method"] == "post"), None)
        if form is None:
            self.error = "no sign-in form"
            return self
        self.signin = self.post_form(self.first, form, {"username": self.username, "password": self.password})
        if self.signin.status_code != 200:
            self.final = self.signin
            return self
        forms, _ = forms_of(self.signin.text)
        form = next((f for f in forms if f["method"] == "post" and any(b.get("name") == "decision" for b in f["buttons"])), None)
        if form is None:
            self.error = "no consent form (sign-in failed?)"
            return self
        button = next((b for b in form["buttons"] if b.get("name") == "decision" and b.get("value") == self.decision), None)
        if button is None:
            self.error = f"no {self.decision} button"
            return self
        self.consent = self.signin
        self.final = self.post_form(self.consent, form, {}, button)
        return self

    @property
    def params(self):
        return location_params(self.final)[0] if self.final is not None else {}

    @property
    def location(self):
        return self.final.headers.get("Location", "") if self.final is not None else ""


def code_for(client_id, redirect_uri, scope="time.read", resource=ENDPOINT, state=None, **extra):
    """A fresh authorization code: (code, verifier, walk)."""
    verifier, challenge = pkce()
    walk = Walk(authorize_url(client_id, redirect_uri, challenge, state=state, scope=scope, resource=resource, **extra)).run()
    return walk.params.get("code"), verifier, walk


def redeem(client_id, code, verifier, redirect_uri, resource=ENDPOINT, auth=None, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier, "client_id": client_id}
    if resource is not None:
        data["resource"] = resource
    data.update(extra)
    data = {k: v for k, v in data.items() if v is not None}
    return token_request(data, auth=auth)


# --- MCP over plain HTTP (revision 2026-07-28: no initialize, routing headers mirrored) -----------
def mcp_raw(access_token, method, params=None, id=1, scheme="Bearer"):
    params = dict(params or {})
    params["_meta"] = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
               "Mcp-Method": method}
    if method == "tools/call":
        headers["Mcp-Name"] = params["name"]
    if access_token:
        headers["Authorization"] = f"{scheme} {access_token}"
    return requests.post(ENDPOINT, data=json.dumps({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
                         headers=headers, timeout=30, allow_redirects=False)


def rpc_message(response):
    """The JSON-RPC message of an HTTP answer (JSON or a one-event SSE stream)."""
    text = response.text or ""
    for line in text.splitlines():
        if line.startswith("data:") and line[5:].strip():
            try:
                return json.loads(line[5:].strip())
            except ValueError:
                return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def www_authenticate(response):
    """The auth-params of a Bearer challenge (RFC 6750 §3), as a dict."""
    header = response.headers.get("WWW-Authenticate", "")
    return {k: (q if q else t) for k, q, t in re.findall(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))', header)}


def upstream_calls(tool=None):
    try:
        lines = open(UPSTREAM_LOG).read().splitlines()
    except OSError:
        return []
    calls = [l[5:] for l in lines if l.startswith("CALL ")]
    return [c for c in calls if tool is None or c.split(" ", 1)[0] == tool]


def upstream_auth_headers():
    try:
        return [l[5:] for l in open(UPSTREAM_LOG).read().splitlines() if l.startswith("AUTH ")]
    except OSError:
        return []
