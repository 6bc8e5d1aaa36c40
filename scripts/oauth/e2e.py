"""End to end: Tessera's OAuth 2.1 authorization server in front of its MCP gateway (/mcp/time), driven
by the official MCP Python SDK's clients and by plain HTTP. The wire contract is docs/oauth.md.

(a) OAuthClientProvider: discovery from the 401, dynamic registration, authorization code + PKCE
    with a "person" who signs in and consents by submitting the server's own HTML forms (the final
    303 is captured, not followed), token exchange, tools/list filtered to the grant, step-up on a
    403 insufficient_scope, refresh (expiry forced in the SDK), refresh-token reuse ending the family.
(b) PrivateKeyJWTOAuthProvider as a registered Tessera agent (Ed25519, EdDSA assertions).
(c) Hostile and malformed requests, each answered with the RFC's error and nothing issued or lost.
(d) Grants, clients and the registration rate limit; (e) an authorization code past its 60 s.

Needs TESSERA_BIN, TESSERA_SERVER, TESSERA_TOKEN, OAUTH_USERNAME, OAUTH_PASSWORD, UPSTREAM_LOG (see
scripts/oauth-e2e). One line per check; closes with 'N passed, N failed'; exits 1 on any failure.
"""
import asyncio
import copy
import json
import logging
import re
import secrets
import sys
import tempfile
import time
import traceback
import urllib.parse

import httpx2
import jwt
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.extensions.client_credentials import PrivateKeyJWTOAuthProvider, SignedJWTParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from mcp.shared.exceptions import MCPError

from common import (AS_METADATA_URL, ENDPOINT, ISSUER, PASSWORD, PRM_URL, SERVER, USERNAME, Walk, api, authorize_url, b64url,
                    check, claims, cli, code_for, ensure_template, forms_of, free_port, introspect, json_of, location_params, mcp_raw,
                    page_header_problems, pkce, redeem, register, summary, token_request, upstream_auth_headers,
                    upstream_calls, www_authenticate)

CALLBACK = f"http://127.0.0.1:{free_port()}/callback"   # nothing listens: the 303 is captured, never followed
AUTHORIZATION_RESPONSES = []                             # every 30x the authorization endpoint answered (for the iss check)
STATE = {}


def keep(walk):
    if walk.final is not None and walk.final.status_code in (302, 303, 307):
        AUTHORIZATION_RESPONSES.append(walk.final)
    return walk


def get_authorize(url, session=None):
    response = (session or requests).get(url, allow_redirects=False, timeout=30)
    if response.status_code in (302, 303, 307):
        AUTHORIZATION_RESPONSES.append(response)
    return response


def oauth_error(response):
    body = json_of(response) or {}
    return body.get("error") if isinstance(body, dict) else None


def section(name, timeout=300):
    """Runs a test section; an exception (or running past `timeout` s) is one failed check naming
    it, and the run goes on."""
    def wrap(function):
        async def run(*args, **kwargs):
            try:
                result = function(*args, **kwargs)
                if asyncio.iscoroutine(result):
                    result = await asyncio.wait_for(result, timeout)
                return result
            except BaseException as error:  # noqa: BLE001 (ExceptionGroup from the SDK's task groups included)
                check(f"{name}: the section ran to its end", False, "".join(traceback.format_exception(error))[-2500:])
                return None
        return run
    return wrap


def error_text(error):
    """Every message in an exception (and the exceptions grouped or chained inside it)."""
    out, stack = [], [error]
    while stack:
        e = stack.pop()
        out.append(f"{type(e).__name__}: {e}")
        stack.extend(getattr(e, "exceptions", []) or [])
        if e.__cause__:
            stack.append(e.__cause__)
        if e.__context__:
            stack.append(e.__context__)
    return " | ".join(out)


# --- the SDK's side: storage, the person at the browser, the wire ---------------------------------
class Memory(TokenStorage):
    def __init__(self, client_info=None):
        self.tokens, self.client_info = None, client_info

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class Person:
    """The SDK's redirect_handler and callback_handler: a person signs in and approves in a browser
    (requests.Session submitting the pages' forms); the redirect back to the client is captured."""

    def __init__(self, tamper_state=False):
        self.urls, self.walks, self.tamper_state = [], [], tamper_state

    async def redirect(self, url):
        self.urls.append(url)
        self.walks.append(keep(await asyncio.to_thread(lambda: Walk(url).run())))

    async def callback(self):
        walk = self.walks[-1]
        params = walk.params
        if "code" not in params:
            raise RuntimeError(f"no code: {walk.error} {walk.final.status_code if walk.final is not None else ''} {walk.location}")
        state = params.get("state")
        if self.tamper_state:
            state = "forged-" + (state or "")
        return AuthorizationCodeResult(code=params["code"], state=state, iss=params.get("iss"))


class Wire:
    """httpx2 response hook: every exchange the SDK made (auth flow included)."""

    def __init__(self):
        self.log = []

    async def hook(self, response):
        request = response.request
        try:
            body = request.content.decode(errors="replace")
        except Exception:  # noqa: BLE001 (streamed bodies)
            body = ""
        self.log.append({"method": request.method, "url": str(request.url), "status": response.status_code,
                         "challenge": response.headers.get("www-authenticate", ""), "body": body,
                         "authorization": request.headers.get("authorization", "")})

    def find(self, method, url_part, status=None, since=0):
        return [e for e in self.log[since:] if e["method"] == method and url_part in e["url"] and (status is None or e["status"] == status)]

    def token_grants(self, since=0):
        return [dict(urllib.parse.parse_qsl(e["body"])).get("grant_type") for e in self.find("POST", "/oauth/token", since=since)]


def connect(provider, wire):
    client = httpx2.AsyncClient(auth=provider, event_hooks={"response": [wire.hook]}, timeout=httpx2.Timeout(60, read=300))
    return client


async def refused(call):
    try:
        await call
    except MCPError as error:
        return error
    return None


def tool_names(listed):
    return sorted(t.name for t in listed.tools)


def text_of(result):
    return " ".join(getattr(c, "text", "") for c in result.content)


# --- set-up ----------------------------------------------------------------------------------------
@section("set-up")
def setup():
    created = cli("iam", "user", "create", "--username", USERNAME, "--password", PASSWORD, "--name", "Alice", "--roles", "writer")
    user_id = created.stdout.strip().splitlines()[-1] if created.stdout.strip() else ""
    check("set-up: `tessera iam user create` makes the person who signs in", created.returncode == 0 and re.fullmatch(r"[0-9a-f-]{36}", user_id),
          f"{created.returncode} {created.stdout} {created.stderr}")
    STATE["user_id"] = user_id
    made = cli("mission", "template", "create", "time.read", "--mission", json.dumps({"allowed_tools": ["get_time"]}), "--resource", "time",
               "--description", "Read the clock")
    check("set-up: `tessera mission template create time.read --resource time`", made.returncode == 0, f"{made.returncode} {made.stderr}")
    if made.returncode != 0:   # keep the run going; the failure above stays counted
        ensure_template("time.read", {"allowed_tools": ["get_time"]}, description="Read the clock")
    listed = cli("mission", "template", "list", "--json")
    check("set-up: `tessera mission template list --json` names it", listed.returncode == 0 and "time.read" in listed.stdout, listed.stdout + listed.stderr)
    shown = api("GET", "/mission-templates/time.read")
    body = json_of(shown) or {}
    check("set-up: GET /mission-templates/time.read (resources [time], ttl_s 900 by default)",
          shown.status_code == 200 and body.get("name") == "time.read" and body.get("resources") == ["time"] and body.get("ttl_s") == 900, shown.text)
    for bad in ["offline_access", "has space", "x" * 65, ""]:
        response = api("POST", "/mission-templates", {"name": bad, "mission": {"allowed_tools": ["get_time"]}})
        check(f"set-up: template name {bad[:20]!r} refused with 400", response.status_code == 400, f"{response.status_code} {response.text[:200]}")
    response = api("POST", "/mission-templates", {"name": "time.read", "mission": {"allowed_tools": ["get_time"]}})
    check("set-up: a second template of the same name is refused (409)", response.status_code == 409, f"{response.status_code} {response.text[:200]}")
    response = api("POST", "/mission-templates", {"name": "no-auth", "mission": {"allowed_tools": ["get_time"]}}, token=None)
    check("set-up: creating a template needs a credential (401)", response.status_code == 401, response.status_code)
    meta = requests.get(AS_METADATA_URL, timeout=30).json()
    check("set-up: AS metadata scopes_supported = the templates + offline_access", {"time.read", "offline_access"} <= set(meta.get("scopes_supported", [])),
          meta.get("scopes_supported"))
    prm = requests.get(PRM_URL, timeout=30).json()
    check("set-up: RFC 9728 metadata of /mcp/time offers scope time.read", prm.get("scopes_supported") == ["time.read"], prm)
    STATE["metadata"] = meta


@section("early code")
def early_code():
    """A code obtained now and redeemed at the end, after its 60 s (section e)."""
    _, client = register(client_name="expiry client", redirect_uris=[CALLBACK])
    code, verifier, walk = code_for(client["client_id"], CALLBACK)
    keep(walk)
    STATE["expiry"] = (client["client_id"], code, verifier, time.monotonic())
    check("early: a code to redeem after 60 s", code, walk.location or walk.error)


# --- (a) the SDK's authorization-code client --------------------------------------------------------
@section("SDK authorization code")
async def sdk_flow():
    storage, person, wire = Memory(), Person(), Wire()
    provider = OAuthClientProvider(
        server_url=ENDPOINT,
        client_metadata=OAuthClientMetadata(client_name="oauth-e2e SDK client", redirect_uris=[CALLBACK],
                                            grant_types=["authorization_code", "refresh_token"], response_types=["code"],
                                            token_endpoint_auth_method="none"),
        storage=storage, redirect_handler=person.redirect, callback_handler=person.callback)
    async with connect(provider, wire) as client:
        async with streamable_http_client(ENDPOINT, http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                log = wire.log
                first = log[0] if log else {}
                check("a: the first MCP request gets 401 with resource_metadata (RFC 9728 §5.1)",
                      first.get("status") == 401 and f'resource_metadata="{PRM_URL}"' in first.get("challenge", ""), first)
                check("a: the SDK read the resource metadata and the AS metadata", wire.find("GET", PRM_URL, 200) and wire.find("GET", AS_METADATA_URL, 200),
                      [(e["method"], e["url"], e["status"]) for e in log])
                check("a: dynamic registration (201)", wire.find("POST", "/oauth/register", 201), [(e["url"], e["status"]) for e in log])
                info = storage.client_info
                STATE["sdk_client"] = info
                check("a: a public client: client_id, no secret, method none", info and info.client_id and info.client_secret is None
                      and info.token_endpoint_auth_method == "none", info)
                url = person.urls[0] if person.urls else ""
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
                check("a: the authorization request: the metadata's endpoint, S256, resource = the MCP endpoint, scope time.read",
                      url.startswith(ISSUER + "/oauth/authorize?") and query.get("code_challenge_method") == "S256"
                      and query.get("resource") == ENDPOINT and "time.read" in query.get("scope", "").split(), url)
                walk = person.walks[0] if person.walks else None
                check_pages("a: ", walk, expect_scopes=["time.read"], expect_tools=["get_time"])
                params, fragment, location = location_params(walk.final) if walk and walk.final is not None else ({}, "", "")
                check("a: approve → 303 to the redirect_uri with code, state and iss (RFC 9207), no fragment",
                      walk and walk.final is not None and walk.final.status_code == 303 and location.startswith(CALLBACK + "?") and params.get("code")
                      and params.get("state") == query.get("state") and params.get("iss") == ISSUER and not fragment and "#" not in location, location)
                check("a: the token exchange (authorization_code) answered 200", wire.token_grants() == ["authorization_code"]
                      and wire.find("POST", "/oauth/token", 200), wire.token_grants())
                tokens = storage.tokens
                granted = set((tokens.scope or "").split()) - {"offline_access"} if tokens else set()
                check("a: the token: Bearer, scope time.read, expires_in 900 (the template's ttl_s), a refresh token",
                      tokens and tokens.token_type == "Bearer" and granted == {"time.read"} and tokens.expires_in == 900 and tokens.refresh_token, tokens)
                c = claims(tokens.access_token) if tokens else {}
                aud = c.get("aud") if isinstance(c.get("aud"), list) else [c.get("aud")]
                check("a: the passport: sub = the person, agent_id = client_id = the client, aud = [resource], scope",
                      c.get("sub") == STATE.get("user_id") and c.get("agent_id") == info.client_id and c.get("client_id") == info.client_id
                      and aud == [ENDPOINT] and c.get("scope") == "time.read", c)
                retried = [e for e in log if e["method"] == "POST" and e["url"] == ENDPOINT]
                check("a: the first request is retried with the token and succeeds", len(retried) >= 2 and retried[1]["status"] == 200
                      and retried[1]["authorization"] == "Bearer " + tokens.access_token, [(e["status"], e["authorization"][:20]) for e in retried])

                names = tool_names(await session.list_tools())
                check("a: tools/list shows only the granted template's tools", names == ["get_time"], names)
                now = await session.call_tool("get_time", {})
                check("a: get_time (granted) reaches the upstream", not now.is_error and re.search(r"\d{4}-\d\d-\d\dT", text_of(now)), now)

                # The operator offers a second template; the client has not been granted it.
                ok, response = ensure_template("echo.write", {"tools": {"echo": {"arguments": {"text": {"regex": "^[a-z ]{1,32}$"}}}}},
                                               description="Echo lowercase text")
                check("a: POST /mission-templates echo.write (echo, text ~ ^[a-z ]{1,32}$) → 201", response.status_code == 201, response.text[:300])
                echoes = len(upstream_calls("echo"))
                raw = mcp_raw(tokens.access_token, "tools/call", {"name": "echo", "arguments": {"text": "hello"}})
                challenge = www_authenticate(raw)
                body = json_of(raw) or {}
                check("a: HTTP: echo without its scope → 403, WWW-Authenticate Bearer error=insufficient_scope",
                      raw.status_code == 403 and raw.headers.get("WWW-Authenticate", "").startswith("Bearer ")
                      and challenge.get("error") == "insufficient_scope", f"{raw.status_code} {raw.headers.get('WWW-Authenticate')} {raw.text[:200]}")
                check("a: HTTP: the challenge's scope names every scope needed (granted ∪ echo.write), and resource_metadata",
                      set(challenge.get("scope", "").split()) == {"time.read", "echo.write"} and challenge.get("resource_metadata") == PRM_URL, challenge)
                check("a: HTTP: the 403 body is JSON with error insufficient_scope", body.get("error") == "insufficient_scope", raw.text[:300])
                check("a: the refused call never reached the upstream", len(upstream_calls("echo")) == echoes, upstream_calls("echo"))

                mark, urls = len(wire.log), len(person.urls)
                echoed = await session.call_tool("echo", {"text": "hello"})
                stepped = [e for e in wire.log[mark:] if e["status"] == 403 and 'error="insufficient_scope"' in e["challenge"]]
                needed = set((re.search(r'scope="([^"]*)"', stepped[0]["challenge"]) or [None, ""])[1].split()) if stepped else set()
                check("a: the SDK met the 403 insufficient_scope naming every needed scope (time.read echo.write)",
                      stepped and needed == {"time.read", "echo.write"}, [(e["url"], e["status"], e["challenge"]) for e in wire.log[mark:]])
                url2 = person.urls[-1] if len(person.urls) > urls else ""
                scope2 = set(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url2).query)).get("scope", "").split())
                check("a: step-up: the SDK asked the person again for time.read + echo.write", len(person.urls) == urls + 1
                      and {"time.read", "echo.write"} <= scope2, person.urls[urls:])
                if len(person.walks) > urls:
                    check_pages("a: step-up ", person.walks[-1], expect_scopes=["time.read", "echo.write"], expect_tools=["get_time", "echo"],
                                expect_text=["^[a-z ]{1,32}$"])
                check("a: after the step-up the same echo call succeeds", not echoed.is_error and "hello" in text_of(echoed), echoed)
                check("a: the new token carries both scopes", set((storage.tokens.scope or "").split()) - {"offline_access"} == {"time.read", "echo.write"},
                      storage.tokens)

                urls = len(person.urls)
                bad = await refused(session.call_tool("echo", {"text": "HELLO; rm -rf /"}))
                check("a: echo outside its argument constraint → -32001, no step-up offered (no template allows it)",
                      bad is not None and bad.code == -32001 and len(person.urls) == urls, bad)
                gone = await refused(session.call_tool("delete_everything", {}))
                check("a: delete_everything (no template grants it) → -32001", gone is not None and gone.code == -32001 and len(person.urls) == urls, gone)
                check("a: the upstream never ran delete_everything", not upstream_calls("delete_everything"), upstream_calls())
                names = tool_names(await session.list_tools())
                check("a: tools/list now shows both templates' tools", names == ["echo", "get_time"], names)

                # Refresh: the access token's expiry is forced in the SDK; the next request refreshes.
                old = storage.tokens
                STATE["family_access"] = old.access_token
                mark, urls = len(wire.log), len(person.urls)
                provider.context.token_expiry_time = time.time() - 1
                again = await session.call_tool("get_time", {})
                new = storage.tokens
                check("a: refresh: an expired token makes the SDK refresh (grant_type refresh_token → 200), no person asked",
                      wire.token_grants(mark) == ["refresh_token"] and wire.find("POST", "/oauth/token", 200, mark) and len(person.urls) == urls,
                      [(e["url"], e["status"], e["body"][:80]) for e in wire.log[mark:]])
                check("a: refresh: new access and refresh tokens (rotation), the call works",
                      new.access_token != old.access_token and new.refresh_token and new.refresh_token != old.refresh_token and not again.is_error,
                      new)
                check("a: refresh: scope unchanged (time.read echo.write)", set((new.scope or "").split()) - {"offline_access"} == {"time.read", "echo.write"},
                      new.scope)
                reuse = token_request({"grant_type": "refresh_token", "refresh_token": old.refresh_token, "client_id": info.client_id, "resource": ENDPOINT})
                check("a: reuse of the rotated-out refresh token → 400 invalid_grant", reuse.status_code == 400 and oauth_error(reuse) == "invalid_grant"
                      and "access_token" not in reuse.text, f"{reuse.status_code} {reuse.text[:300]}")
                after = token_request({"grant_type": "refresh_token", "refresh_token": new.refresh_token, "client_id": info.client_id, "resource": ENDPOINT})
                check("a: …and the family is dead: the newest refresh token is refused too (invalid_grant)",
                      after.status_code == 400 and oauth_error(after) == "invalid_grant", f"{after.status_code} {after.text[:300]}")
                state = introspect(new.access_token)
                check("a: …and the family's live access token is revoked (introspection active=false)", state.get("active") is False, state)
                raw = mcp_raw(new.access_token, "tools/call", {"name": "get_time", "arguments": {}})
                check("a: …and the gateway refuses it (401)", raw.status_code == 401, f"{raw.status_code} {raw.text[:200]}")

                mark, urls = len(wire.log), len(person.urls)
                healed = await session.call_tool("get_time", {})
                check("a: the SDK recovers by authorizing anew (the person approves again), and the call works",
                      len(person.urls) == urls + 1 and not healed.is_error, [(e["url"], e["status"]) for e in wire.log[mark:]])
                STATE["sdk_tokens"] = storage.tokens
    headers = upstream_auth_headers()
    check("a: the upstream never saw an Authorization header (no token passthrough)", headers and all(h == "-" for h in headers),
          sorted(set(headers))[:3])

    # The state check is the client's (RFC 6749 §10.12): the server echoes state unchanged, the SDK
    # refuses a response whose state differs. A forged state from the "browser" side:
    storage2, person2, wire2 = Memory(client_info=copy.deepcopy(STATE["sdk_client"])), Person(tamper_state=True), Wire()
    provider2 = OAuthClientProvider(
        server_url=ENDPOINT, client_metadata=OAuthClientMetadata(client_name="oauth-e2e SDK client", redirect_uris=[CALLBACK],
                                                                 token_endpoint_auth_method="none"),
        storage=storage2, redirect_handler=person2.redirect, callback_handler=person2.callback)
    failure = ""
    quiet = logging.getLogger("mcp.client.auth.oauth2")
    level, quiet.level = quiet.level, logging.CRITICAL
    try:
        async with connect(provider2, wire2) as client:
            await client.post(ENDPOINT, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "oauth-e2e", "version": "1"}}},
                headers={"Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2025-11-25"})
    except BaseException as error:  # noqa: BLE001
        failure = error_text(error)
    finally:
        quiet.setLevel(level)
    check("a: a response with another state is refused by the SDK (client-side check), no token requested",
          "State parameter mismatch" in failure and not wire2.find("POST", "/oauth/token"), failure[:300])


def check_pages(prefix, walk, expect_scopes, expect_tools, expect_text=()):
    if walk is None or walk.first is None:
        check(prefix + "the sign-in and consent pages were shown", False, getattr(walk, "error", "no walk"))
        return
    check(prefix + "sign-in page: 200 HTML with a POST form to /oauth/authorize (username, password, request, csrf_token)",
          walk.first.status_code == 200 and signin_form_ok(walk.first.text), f"{walk.first.status_code} {walk.first.text[:300]}")
    check(prefix + "sign-in page headers (CSP frame-ancestors 'none', X-Frame-Options DENY, no-store, no-referrer)",
          not page_header_problems(walk.first), page_header_problems(walk.first))
    cookie = walk.first.headers.get("Set-Cookie", "")
    check(prefix + "the tessera_oauth_<request> cookie is HttpOnly, SameSite=Lax, Path=/oauth",
          re.match(r"tessera_oauth_[A-Za-z0-9_-]{12}=", cookie) and re.search(r";\s*HttpOnly", cookie, re.I) and re.search(r";\s*SameSite=Lax", cookie, re.I)
          and re.search(r";\s*Path=/oauth(;|$)", cookie), cookie)
    consent = walk.consent
    check(prefix + "consent page: 200 with approve/deny buttons", consent is not None and consent.status_code == 200, walk.error)
    if consent is None:
        return
    check(prefix + "consent page headers (CSP frame-ancestors 'none', X-Frame-Options DENY, no-store, no-referrer)",
          not page_header_problems(consent), page_header_problems(consent))
    _, text = forms_of(consent.text)
    redirect_host = urllib.parse.urlsplit(CALLBACK).netloc
    missing = [t for t in [*expect_scopes, *expect_tools, ENDPOINT, redirect_host, *expect_text] if t not in text]
    check(prefix + "consent page names the client's redirect host, the resource, each scope with its tools and constraints", not missing,
          f"missing {missing} in: {text[:500]}")


def signin_form_ok(html):
    forms, _ = forms_of(html)
    for form in forms:
        names = {i["name"] for i in form["inputs"]}
        hidden = {i["name"] for i in form["inputs"] if i["type"] == "hidden"}
        types = {i["name"]: i["type"] for i in form["inputs"]}
        if form["method"] == "post" and form["action"] == "/oauth/authorize" and {"username", "password"} <= names \
                and {"request", "csrf_token"} <= hidden and types.get("password") == "password":
            return True
    return False


# --- (b) the SDK's private_key_jwt client as a registered Tessera agent ------------------------------
def new_agent(name):
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    path = tempfile.mktemp(suffix=".jwk")
    with open(path, "w") as f:
        json.dump({"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}, f)
    made = cli("agent", "register", "--name", name, "--public-key", path)
    agent_id = made.stdout.strip().splitlines()[-1] if made.stdout.strip() else ""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    return agent_id, pem, made


def assertion(agent_id, pem, audience=ISSUER, lifetime=120, jti=None, **extra):
    now = int(time.time())
    body = {"iss": agent_id, "sub": agent_id, "aud": audience, "iat": now, "exp": now + lifetime, "jti": jti or secrets.token_urlsafe(16)}
    body.update(extra)
    return jwt.encode(body, pem, algorithm="EdDSA")


def client_credentials(agent_assertion, resource=ENDPOINT, scope=None, **extra):
    data = {"grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": agent_assertion, "resource": resource, "scope": scope}
    data.update(extra)
    return token_request({k: v for k, v in data.items() if v is not None})


@section("SDK private_key_jwt")
async def agent_flow():
    agent_id, pem, made = new_agent("oauth-e2e-agent")
    check("b: `tessera agent register --public-key` registers the agent (Ed25519)", made.returncode == 0 and agent_id, made.stderr or made.stdout)
    storage, wire = Memory(), Wire()
    provider = PrivateKeyJWTOAuthProvider(
        server_url=ENDPOINT, storage=storage, client_id=agent_id, issuer=ISSUER,
        assertion_provider=SignedJWTParameters(issuer=agent_id, subject=agent_id, signing_key=pem, signing_algorithm="EdDSA").create_assertion_provider())
    async with connect(provider, wire) as client:
        async with streamable_http_client(ENDPOINT, http_client=client) as streams:
            async with ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                grants = wire.find("POST", "/oauth/token")
                form = dict(urllib.parse.parse_qsl(grants[0]["body"])) if grants else {}
                check("b: client_credentials with a private_key_jwt assertion (RFC 7523) → 200",
                      form.get("grant_type") == "client_credentials" and form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                      and grants[0]["status"] == 200, [(g["status"], g["body"][:120]) for g in grants])
                tokens = storage.tokens
                check("b: Bearer token with the templates offered on time, and no refresh token (RFC 6749 §4.4.3)",
                      tokens and tokens.token_type == "Bearer" and set((tokens.scope or "").split()) == {"time.read", "echo.write"}
                      and not tokens.refresh_token, tokens)
                c = claims(tokens.access_token) if tokens else {}
                aud = c.get("aud") if isinstance(c.get("aud"), list) else [c.get("aud")]
                check("b: the passport: sub = agent_id = client_id = the agent, aud = [resource]",
                      c.get("sub") == agent_id and c.get("agent_id") == agent_id and c.get("client_id") == agent_id and aud == [ENDPOINT], c)
                names = tool_names(await session.list_tools())
                check("b: tools/list: the granted templates' tools", names == ["echo", "get_time"], names)
                now = await session.call_tool("get_time", {})
                check("b: the agent reaches get_time", not now.is_error, now)
                gone = await refused(session.call_tool("delete_everything", {}))
                check("b: …and not delete_everything (-32001)", gone is not None and gone.code == -32001, gone)

    # Hostile assertions, each refused with invalid_client and nothing issued.
    once = assertion(agent_id, pem)
    first, second = client_credentials(once), client_credentials(once)
    check("b: an assertion works once…", first.status_code == 200, first.text[:200])
    check("b: …and its replay (same jti) → 401 invalid_client", second.status_code == 401 and oauth_error(second) == "invalid_client", second.text[:300])
    other_pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    for label, signed in [
        ("signed by another key", assertion(agent_id, other_pem)),
        ("for another audience", assertion(agent_id, pem, audience="https://elsewhere.example")),
        ("expiring more than 5 min ahead", assertion(agent_id, pem, lifetime=3600)),
        ("already expired", assertion(agent_id, pem, lifetime=-120)),
        ("of an unregistered agent", assertion("agt_unregistered", pem)),
        ("with alg none", jwt.encode({"iss": agent_id, "sub": agent_id, "aud": ISSUER, "exp": int(time.time()) + 60, "jti": "n1"}, None, algorithm="none")),
    ]:
        response = client_credentials(signed)
        check(f"b: an assertion {label} → 401 invalid_client", response.status_code == 401 and oauth_error(response) == "invalid_client"
              and "access_token" not in response.text, f"{response.status_code} {response.text[:300]}")
    response = client_credentials(assertion(agent_id, pem), resource=None)
    check("b: client_credentials without resource → 400 (invalid_target or invalid_request)",
          response.status_code == 400 and oauth_error(response) in ("invalid_target", "invalid_request"), response.text[:300])
    response = client_credentials(assertion(agent_id, pem), resource=SERVER + "/mcp/nosuch")
    check("b: client_credentials for an unknown resource → 400 invalid_target", response.status_code == 400 and oauth_error(response) == "invalid_target",
          response.text[:300])
    response = client_credentials(assertion(agent_id, pem), scope="no.such.template")
    check("b: client_credentials for an unknown scope → 400 invalid_scope", response.status_code == 400 and oauth_error(response) == "invalid_scope",
          response.text[:300])
    response = client_credentials(assertion(agent_id, pem), client_id="agt_someone_else")
    check("b: client_id differing from the assertion's iss → 401 invalid_client", response.status_code == 401 and oauth_error(response) == "invalid_client",
          response.text[:300])

    # A template naming one agent is for that agent only (without a person).
    other_id, other_key, made = new_agent("oauth-e2e-agent-2")
    ok, created = ensure_template("time.agent2", {"agent_id": other_id, "allowed_tools": ["get_time"]}, description="only agent 2")
    check("b: a template bound to agent 2 (mission.agent_id)", created.status_code == 201 and made.returncode == 0, created.text[:200])
    response = client_credentials(assertion(agent_id, pem), scope="time.agent2")
    check("b: agent 1 asking for agent 2's template → 400 invalid_scope", response.status_code == 400 and oauth_error(response) == "invalid_scope",
          response.text[:300])
    response = client_credentials(assertion(other_id, other_key), scope="time.agent2")
    c = claims((json_of(response) or {}).get("access_token", ""))
    check("b: agent 2 gets it", response.status_code == 200 and c.get("sub") == other_id and c.get("scope") == "time.agent2", response.text[:300])
    STATE["agent"] = (agent_id, pem)


# --- (c) hostile and malformed requests ---------------------------------------------------------------
@section("hostile")
def hostile():
    meta = STATE.get("metadata") or requests.get(AS_METADATA_URL, timeout=30).json()
    callback2 = CALLBACK.replace("/callback", "/callback2")
    r, public = register(client_name="hostile public", redirect_uris=[CALLBACK, callback2])
    check("c: register a public client (two redirect URIs) → 201", r.status_code == 201 and public.get("client_id") and "client_secret" not in public, r.text[:300])
    r, confidential = register(client_name="hostile confidential", redirect_uris=[CALLBACK], token_endpoint_auth_method="client_secret_basic")
    check("c: register a confidential client (client_secret_basic) → 201 with a secret, expires_at 0",
          r.status_code == 201 and confidential.get("client_secret") and confidential.get("client_secret_expires_at") == 0, r.text[:300])
    pub, conf = public["client_id"], confidential["client_id"]
    conf_auth = (conf, confidential["client_secret"])
    STATE["confidential"] = confidential

    # Code replay: the second redemption fails and the tokens of the first are revoked.
    code, verifier, walk = code_for(pub, CALLBACK)
    keep(walk)
    first = redeem(pub, code, verifier, CALLBACK)
    access = (json_of(first) or {}).get("access_token", "")
    check("c: a code redeemed once → 200 with a Bearer token (Cache-Control no-store)", first.status_code == 200 and access
          and "no-store" in first.headers.get("Cache-Control", ""), first.text[:300])
    second = redeem(pub, code, verifier, CALLBACK)
    check("c: the same code again → 400 invalid_grant", second.status_code == 400 and oauth_error(second) == "invalid_grant"
          and "access_token" not in second.text, second.text[:300])
    check("c: …and the token issued from it is revoked (introspection active=false)", introspect(access).get("active") is False, introspect(access))
    raw = mcp_raw(access, "tools/call", {"name": "get_time", "arguments": {}})
    check("c: …and refused at the gateway (401)", raw.status_code == 401, f"{raw.status_code} {raw.text[:200]}")
    refresh = (json_of(first) or {}).get("refresh_token")
    if refresh:
        r = token_request({"grant_type": "refresh_token", "refresh_token": refresh, "client_id": pub})
        check("c: …and so is its refresh token (invalid_grant)", r.status_code == 400 and oauth_error(r) == "invalid_grant", r.text[:300])

    # PKCE.
    code, verifier, walk = code_for(pub, CALLBACK)
    keep(walk)
    wrong = redeem(pub, code, pkce()[0], CALLBACK)
    check("c: PKCE: a wrong code_verifier → 400 invalid_grant, no token", wrong.status_code == 400 and oauth_error(wrong) == "invalid_grant"
          and "access_token" not in wrong.text, wrong.text[:300])
    missing = redeem(pub, code_for(pub, CALLBACK)[0], None, CALLBACK)
    check("c: PKCE: no code_verifier → 400 invalid_request (or invalid_grant)", missing.status_code == 400
          and oauth_error(missing) in ("invalid_request", "invalid_grant") and "access_token" not in missing.text, missing.text[:300])
    verifier, challenge = pkce()
    for label, extra, error in [
        ("no code_challenge", {"code_challenge": None}, "invalid_request"),
        ("code_challenge_method=plain", {"code_challenge": verifier, "code_challenge_method": "plain"}, "invalid_request"),
        ("no code_challenge_method (would mean plain)", {"code_challenge_method": None}, "invalid_request"),
        ("response_type=token (implicit)", {"response_type": "token"}, "unsupported_response_type"),
        ("a resource of another server", {"resource": "https://evil.example/mcp/time"}, "invalid_target"),
        ("a resource naming no upstream", {"resource": SERVER + "/mcp/nosuch"}, "invalid_target"),
        ("an unknown scope", {"scope": "time.read admin:everything"}, "invalid_scope"),
    ]:
        state = "s-" + secrets.token_urlsafe(8)
        args = {"code_challenge": challenge, "state": state}
        args.update(extra)
        url = authorize_url(pub, CALLBACK, args.pop("code_challenge"), state=args.pop("state"), **args)
        response = get_authorize(url)
        params, fragment, location = location_params(response)
        check(f"c: authorize with {label} → 303 to the client with error={error}, state, iss; no code",
              response.status_code == 303 and location.startswith(CALLBACK) and params.get("error") == error and params.get("state") == state
              and params.get("iss") == ISSUER and "code" not in params and not fragment, f"{response.status_code} {location[:300]}")
    state = "s-" + secrets.token_urlsafe(8)
    response = get_authorize(authorize_url(pub, CALLBACK, challenge, state=state, resource=None))
    params, _, location = location_params(response)
    check("c: authorize without resource (required) → 303 error invalid_target (or invalid_request), state, iss",
          response.status_code == 303 and params.get("error") in ("invalid_target", "invalid_request") and params.get("state") == state
          and params.get("iss") == ISSUER, f"{response.status_code} {location[:300]}")
    odd = "a b&c=d/é?#x"
    code, verifier, walk = code_for(pub, CALLBACK, state=odd)
    keep(walk)
    check("c: state is echoed exactly (the client compares it; RFC 6749 §10.12)", walk.params.get("state") == odd, walk.location)

    # Wrong resource at the token endpoint, redirect_uri mix-up, client mix-up.
    r = redeem(pub, code, verifier, CALLBACK, resource=SERVER + "/mcp/other")
    check("c: token request with another resource than authorized → 400 invalid_target", r.status_code == 400 and oauth_error(r) == "invalid_target"
          and "access_token" not in r.text, r.text[:300])
    code, verifier, walk = code_for(pub, CALLBACK)
    keep(walk)
    r = redeem(pub, code, verifier, callback2)
    check("c: token request with another (registered) redirect_uri → 400 invalid_grant", r.status_code == 400 and oauth_error(r) == "invalid_grant",
          r.text[:300])
    code, verifier, walk = code_for(pub, CALLBACK)
    keep(walk)
    r = redeem(conf, code, verifier, CALLBACK, auth=conf_auth)
    check("c: client mix-up: A's code redeemed by client B (authenticated) → 400 invalid_grant", r.status_code == 400 and oauth_error(r) == "invalid_grant"
          and "access_token" not in r.text, r.text[:300])
    r = redeem(conf, code_for(conf, CALLBACK)[0], verifier, CALLBACK)
    check("c: a confidential client without its secret → 401 invalid_client", r.status_code == 401 and oauth_error(r) == "invalid_client", r.text[:300])
    r = redeem(conf, code_for(conf, CALLBACK)[0], verifier, CALLBACK, auth=(conf, "wrong-secret"))
    check("c: …with a wrong secret (Basic) → 401 invalid_client and WWW-Authenticate Basic (RFC 6749 §5.2)",
          r.status_code == 401 and oauth_error(r) == "invalid_client" and r.headers.get("WWW-Authenticate", "").lower().startswith("basic"),
          f"{r.status_code} {r.headers.get('WWW-Authenticate')} {r.text[:200]}")
    code, verifier, walk = code_for(conf, CALLBACK)
    keep(walk)
    r = redeem(conf, code, verifier, CALLBACK, auth=conf_auth)
    body = json_of(r) or {}
    check("c: the confidential client's own code with Basic auth → 200", r.status_code == 200 and body.get("access_token"), r.text[:300])
    STATE["confidential_tokens"] = body

    # Requests that must never redirect.
    for label, url in [
        ("an unknown client_id", authorize_url("tc_nosuchclient", CALLBACK, challenge)),
        ("an unregistered redirect_uri (other path)", authorize_url(pub, CALLBACK.replace("/callback", "/evil"), challenge)),
        ("an unregistered redirect_uri (other host)", authorize_url(pub, "https://evil.example/callback", challenge)),
        ("an unregistered redirect_uri (registered one + query)", authorize_url(pub, CALLBACK + "?next=https://evil.example", challenge)),
        ("a 10 KB state", authorize_url(pub, CALLBACK, challenge, state="s" * 10_240)),
    ]:
        response = get_authorize(url)
        check(f"c: authorize with {label} → 400 HTML page, no Location", response.status_code == 400 and "Location" not in response.headers
              and response.headers.get("Content-Type", "").startswith("text/html") and not page_header_problems(response),
              f"{response.status_code} {response.headers.get('Location')} {page_header_problems(response)}")
    state = "s-" + secrets.token_urlsafe(8)
    response = get_authorize(authorize_url(pub, CALLBACK, challenge, state=state, scope="time.read " + "x" * 10_240))
    params, _, location = location_params(response)
    check("c: a 10 KB scope is refused (400 page, or 303 invalid_scope/invalid_request that does not echo it)",
          (response.status_code == 400 and "Location" not in response.headers)
          or (response.status_code == 303 and params.get("error") in ("invalid_scope", "invalid_request") and "x" * 1000 not in location),
          f"{response.status_code} {location[:200]}")
    try:
        response = requests.get(SERVER + "/oauth/authorize?" + urllib.parse.urlencode({"client_id": pub, "junk": "j" * 100_000}),
                                allow_redirects=False, timeout=15)
        refusal = (400 <= response.status_code < 500 and "Location" not in response.headers, response.status_code)
    except requests.RequestException as error:
        refusal = (False, f"no HTTP answer: {type(error).__name__}")
    check("c: a 100 KB authorization URL → 414/4xx at once, no Location (RFC 9112 §3)", *refusal)
    r = token_request({"grant_type": "authorization_code", "code": "c" * 10_240, "redirect_uri": CALLBACK, "code_verifier": verifier, "client_id": pub})
    check("c: a 10 KB code at the token endpoint → 400 invalid_request or invalid_grant", r.status_code == 400
          and oauth_error(r) in ("invalid_request", "invalid_grant"), r.text[:200])
    try:
        r = requests.post(SERVER + "/oauth/token", data="grant_type=authorization_code&code=" + "c" * 2_000_000, timeout=15,
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
        refusal = (400 <= r.status_code < 500 and "access_token" not in r.text, f"{r.status_code} {r.text[:200]}")
    except requests.RequestException as error:
        refusal = (False, f"no HTTP answer: {type(error).__name__}")
    check("c: a 2 MB token request body → 4xx (400 invalid_request or 413)", *refusal)

    # Registration: redirect URIs that could run script or read files, and oversized metadata.
    for label, uris in [
        ("javascript:", ["javascript:alert(document.cookie)"]),
        ("data:", ["data:text/html,<script>alert(1)</script>"]),
        ("file:", ["file:///etc/passwd"]),
        ("plain http on a public host", ["http://evil.example/callback"]),
        ("a fragment (RFC 6749 §3.1.2)", [CALLBACK + "#frag"]),
    ]:
        r, body = register(redirect_uris=uris)
        check(f"c: registration with a redirect_uri {label} → 400 invalid_redirect_uri", r.status_code == 400
              and (body or {}).get("error") == "invalid_redirect_uri" and "client_id" not in (body or {}), r.text[:300])
    r, body = register(redirect_uris=[CALLBACK + str(i) for i in range(9)])
    check("c: registration with nine redirect_uris (at most 8) → 400 invalid_redirect_uri or invalid_client_metadata", r.status_code == 400
          and (body or {}).get("error") in ("invalid_redirect_uri", "invalid_client_metadata") and "client_id" not in (body or {}), r.text[:300])
    r, body = register(redirect_uris=[CALLBACK], client_name="n" * 10_240)
    check("c: registration with a 10 KB client_name → 400 invalid_client_metadata", r.status_code == 400
          and (body or {}).get("error") == "invalid_client_metadata", r.text[:300])

    # Sign-in and consent: CSRF, wrong password, deny, escaping.
    r, xss = register(client_name="<script>alert('x')</script>", redirect_uris=[CALLBACK])
    named = (xss or {}).get("client_id")
    check("c: a client name with markup is refused (400 invalid_client_metadata) or kept to be escaped (201)",
          (r.status_code == 201 and named) or (r.status_code == 400 and (xss or {}).get("error") == "invalid_client_metadata"), r.text[:300])
    browser = requests.Session()
    verifier, challenge = pkce()
    state = "csrf-" + secrets.token_urlsafe(8)
    page = browser.get(authorize_url(named or pub, CALLBACK, challenge, state=state), allow_redirects=False, timeout=30)
    if named:
        check("c: the client's name is escaped on the sign-in page", "<script>alert" not in page.text and "&lt;script&gt;" in page.text, page.text[:400])
    forms, _ = forms_of(page.text)
    form = forms[0] if forms else {"inputs": [], "buttons": [], "action": "/oauth/authorize"}
    filled = Walk.submission(form, {"username": USERNAME, "password": PASSWORD})
    action = urllib.parse.urljoin(page.url, form["action"])
    stranger = requests.post(action, data=filled, allow_redirects=False, timeout=30)
    check("c: CSRF: the sign-in form posted without the browser's cookie → refused (4xx), no consent",
          400 <= stranger.status_code < 500 and "decision" not in stranger.text and "Location" not in stranger.headers, stranger.status_code)
    forged = [(k, "forged" if k == "csrf_token" else v) for k, v in filled]
    response = browser.post(action, data=forged, allow_redirects=False, timeout=30)
    check("c: CSRF: a wrong csrf_token (with the cookie) → refused (4xx), no consent",
          400 <= response.status_code < 500 and "decision" not in response.text and "Location" not in response.headers, response.status_code)
    wrong = browser.post(action, data=[(k, "not the password" if k == "password" else v) for k, v in filled], allow_redirects=False, timeout=30)
    forms2, text = forms_of(wrong.text)
    check("c: a wrong password → 401, the sign-in page again with a message", wrong.status_code == 401 and signin_form_ok(wrong.text)
          and "decision" not in wrong.text, f"{wrong.status_code} {text[:200]}")
    retry_form = forms2[0] if forms2 else form
    consent = browser.post(action, data=Walk.submission(retry_form, {"username": USERNAME, "password": PASSWORD}), allow_redirects=False, timeout=30)
    check("c: consent page after the retried sign-in (markup in the client name escaped)", consent.status_code == 200
          and "<script>alert" not in consent.text, consent.text[:300])
    forms3, _ = forms_of(consent.text)
    cform = next((f for f in forms3 if any(b.get("name") == "decision" for b in f["buttons"])), None)
    if cform is None:
        check("c: consent form present", False, consent.text[:300])
        return
    approve = next(b for b in cform["buttons"] if b["value"] == "approve")
    approved = Walk.submission(cform, {}, approve)
    caction = urllib.parse.urljoin(consent.url, cform["action"])
    response = requests.post(caction, data=approved, allow_redirects=False, timeout=30)
    check("c: CSRF: approve posted without the cookie → refused (4xx), no Location", 400 <= response.status_code < 500
          and "Location" not in response.headers, f"{response.status_code} {response.headers.get('Location')}")
    response = browser.post(caction, data=[(k, "forged" if k == "csrf_token" else v) for k, v in approved], allow_redirects=False, timeout=30)
    check("c: CSRF: approve with a wrong csrf_token → refused (4xx), no Location", 400 <= response.status_code < 500
          and "Location" not in response.headers, f"{response.status_code} {response.headers.get('Location')}")
    check("c: the refused pages carry the same headers (CSP, X-Frame-Options)", not page_header_problems(response), page_header_problems(response))
    final = browser.post(caction, data=approved, allow_redirects=False, timeout=30)
    AUTHORIZATION_RESPONSES.append(final)
    params, _, location = location_params(final)
    check("c: nothing lost: after the forged posts the person's own approve still works (303 with code and state)",
          final.status_code == 303 and params.get("code") and params.get("state") == state, f"{final.status_code} {location[:200]}")
    replay = browser.post(caction, data=approved, allow_redirects=False, timeout=30)
    check("c: the same approve posted twice → refused, no second code", "code=" not in replay.headers.get("Location", "") and replay.status_code >= 400,
          f"{replay.status_code} {replay.headers.get('Location')}")
    walk = keep(Walk(authorize_url(pub, CALLBACK, pkce()[1], state="deny-state"), decision="deny").run())
    params = walk.params
    check("c: deny → 303 error=access_denied with state and iss, no code", walk.final is not None and walk.final.status_code == 303
          and params.get("error") == "access_denied" and params.get("state") == "deny-state" and params.get("iss") == ISSUER and "code" not in params,
          walk.location or walk.error)

    # Unsupported grant types and duplicate parameters.
    r = token_request({"grant_type": "password", "username": USERNAME, "password": PASSWORD, "client_id": pub})
    check("c: grant_type=password → 400 unsupported_grant_type", r.status_code == 400 and oauth_error(r) == "unsupported_grant_type", r.text[:200])
    r = token_request({"grant_type": "client_credentials"}, auth=conf_auth)
    check("c: a registered (non-agent) client using client_credentials → 400 unauthorized_client",
          r.status_code == 400 and oauth_error(r) == "unauthorized_client", r.text[:200])
    r = token_request([("grant_type", "authorization_code"), ("code", "x"), ("code", "y"), ("client_id", pub), ("redirect_uri", CALLBACK),
                       ("code_verifier", verifier)])
    check("c: a parameter sent twice → 400 invalid_request (RFC 6749 §3.2)", r.status_code == 400 and oauth_error(r) == "invalid_request", r.text[:200])

    # Every authorization response (success, deny, errors) carried iss = the metadata issuer; none had a fragment or a token.
    issuers = [location_params(r)[0].get("iss") for r in AUTHORIZATION_RESPONSES]
    check(f"c: iss in every authorization response ({len(issuers)}) equals the metadata issuer (RFC 9207)",
          issuers and all(i == meta.get("issuer") == ISSUER for i in issuers), [i for i in issuers if i != ISSUER][:5])
    locations = [r.headers.get("Location", "") for r in AUTHORIZATION_RESPONSES]
    check(f"c: no authorization response put anything in a URL fragment or carried a token ({len(locations)})",
          locations and not any("#" in l or "access_token" in l or "id_token" in l for l in locations),
          [l for l in locations if "#" in l or "access_token" in l][:3])


# --- (d) grants, clients, registration rate limit --------------------------------------------------------
@section("grants and clients")
def grants_and_clients():
    login = requests.post(SERVER + "/api/v1/auth/login", json={"username": USERNAME, "password": PASSWORD}, timeout=30)
    person = (json_of(login) or {}).get("jwt", "")
    check("d: the person logs in to the API", login.status_code == 200 and person, login.text[:200])
    listed = api("GET", "/oauth/grants", token=person)
    grants = (json_of(listed) or {}).get("grants", [])
    sdk = STATE.get("sdk_client")
    mine = [g for g in grants if sdk and g.get("client_id") == sdk.client_id]
    check("d: GET /oauth/grants lists the person's grants (the SDK client's among them, with scope and resource)",
          listed.status_code == 200 and mine and all(g.get("subject") == STATE.get("user_id") for g in grants)
          and all(g.get("resource") == ENDPOINT for g in mine), listed.text[:400])
    conf_tokens = STATE.get("confidential_tokens") or {}
    confidential = STATE.get("confidential") or {}
    target = next((g for g in grants if g.get("client_id") == confidential.get("client_id")), None)
    if target:
        gone = api("DELETE", f"/oauth/grants/{target['id']}", token=person)
        check("d: DELETE /oauth/grants/{id} → 204", gone.status_code == 204, gone.status_code)
        r = token_request({"grant_type": "refresh_token", "refresh_token": conf_tokens.get("refresh_token", "")},
                          auth=(confidential["client_id"], confidential["client_secret"]))
        check("d: …its refresh token → invalid_grant", r.status_code == 400 and oauth_error(r) == "invalid_grant", r.text[:200])
        check("d: …its access token is revoked", introspect(conf_tokens.get("access_token", "")).get("active") is False,
              introspect(conf_tokens.get("access_token", "")))
    else:
        check("d: the confidential client's grant is listed", False, grants)
    clients = api("GET", "/oauth/clients")
    ids = [c.get("client_id") for c in (json_of(clients) or {}).get("clients", [])]
    check("d: GET /oauth/clients (admin) lists the registered clients", clients.status_code == 200 and sdk and sdk.client_id in ids, clients.text[:300])
    check("d: GET /oauth/clients needs oauth:read (the person's token → 403)", api("GET", "/oauth/clients", token=person).status_code == 403)
    out = cli("oauth", "client", "list")
    check("d: `tessera oauth client list` names the SDK client", out.returncode == 0 and sdk and sdk.client_id in out.stdout, out.stdout[-300:] + out.stderr)
    tokens = STATE.get("sdk_tokens")
    out = cli("oauth", "client", "delete", sdk.client_id) if sdk else None
    check("d: `tessera oauth client delete ID`", out is not None and out.returncode == 0, out and out.stderr)
    if tokens:
        r = token_request({"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": sdk.client_id})
        check("d: a deleted client's refresh token no longer works (invalid_client or invalid_grant)", r.status_code in (400, 401)
              and oauth_error(r) in ("invalid_grant", "invalid_client"), r.text[:200])
        check("d: …and its access token is revoked", introspect(tokens.access_token).get("active") is False, introspect(tokens.access_token))


@section("registration rate limit")
def rate_limit():
    statuses = []
    for i in range(25):
        r, _ = register(client_name=f"flood {i}", redirect_uris=[CALLBACK])
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    check("d: dynamic registration is rate limited per address (429)", 429 in statuses, statuses)


@section("expired code", timeout=120)
def expired_code():
    client_id, code, verifier, started = STATE.get("expiry", (None, None, None, None))
    if not code:
        check("e: an authorization code past 60 s", False, "no early code")
        return
    wait = 61.5 - (time.monotonic() - started)
    if wait > 0:
        print(f"     (waiting {wait:.0f} s for the early code to pass its 60 s)", file=sys.stderr, flush=True)
        time.sleep(wait)
    r = redeem(client_id, code, verifier, CALLBACK)
    check("e: an authorization code redeemed after its 60 s → 400 invalid_grant", r.status_code == 400 and oauth_error(r) == "invalid_grant"
          and "access_token" not in r.text, r.text[:200])


async def main():
    await setup()
    await early_code()
    await sdk_flow()
    await agent_flow()
    await hostile()
    await grants_and_clients()
    await rate_limit()
    await expired_code()
    summary()


asyncio.run(main())
