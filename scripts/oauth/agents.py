"""Agents without a browser, and clients identified by URL, against a live `tessera serve`:

- client_credentials with private_key_jwt (RFC 7523) by a registered agent, with a DPoP proof
  (RFC 9449 §5): a DPoP-bound passport the gateway refuses without a proof by that key and
  accepts with one; the assertion is single use; a foreign key, audience or lifetime is refused.
- RFC 8693 token exchange: an IAL-1 badge (RFC-003 proof of possession) plus a DPoP proof by its
  key becomes a DPoP-bound passport for the resource; without the proof, with another key's, or
  after the badge is revoked, it does not.
- Client ID Metadata Documents: an allow-listed loopback document is used for the authorization
  request; a mismatching client_id, an oversized document, a redirect, a secret are refused
  (never a redirect to the client); a non-allow-listed private address is never fetched.

Environment: as scripts/oauth/common.py, plus CIMD_ORIGIN (the allow-listed document server) and CIMD_LOG.
"""
import json
import os
import secrets
import time
import urllib.parse
import uuid

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import (ADMIN, ENDPOINT, SERVER, api, b64url, check, claims, ensure_template, json_of, mcp_raw, pkce, rpc_message,
                    summary, token_request)

TOKEN_URL = SERVER + "/oauth/token"
CIMD = os.environ.get("CIMD_ORIGIN", "").rstrip("/")
CIMD_LOG = os.environ.get("CIMD_LOG", "/dev/null")


def new_agent(name):
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}
    response = api("POST", "/v1/agents", {"name": name, "public_jwk": jwk})
    check(f"agent {name} registered", response.status_code == 201, response.text)
    return key, jwk, response.json()


def assertion(key, agent_id, aud=SERVER, lifetime=60, jti=None, **extra):
    now = int(time.time())
    body = {"iss": agent_id, "sub": agent_id, "aud": aud, "iat": now, "exp": now + lifetime, "jti": jti or str(uuid.uuid4())}
    body.update(extra)
    return jwt.encode(body, key, algorithm="EdDSA")


def dpop(key, jwk, method="POST", url=TOKEN_URL, access_token=None):
    body = {"jti": str(uuid.uuid4()), "htm": method, "htu": url, "iat": int(time.time())}
    if access_token:
        import hashlib
        body["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    return jwt.encode(body, key, algorithm="EdDSA", headers={"typ": "dpop+jwt", "jwk": jwk})


def client_credentials(key, agent_id, headers=None, **extra):
    data = {"grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": extra.pop("client_assertion", None) or assertion(key, agent_id), "resource": ENDPOINT}
    data.update(extra)
    return token_request({k: v for k, v in data.items() if v is not None}, headers=headers)


ok, _ = ensure_template("agents.time", {"allowed_tools": ["get_time"]}, description="Agents may read the time")
check("template agents.time exists", ok)
key, jwk, agent = new_agent("oauth-agent")
agent_id = agent["id"]

# --- client_credentials + private_key_jwt, DPoP-bound ---------------------------------------------
response = client_credentials(key, agent_id, scope="agents.time", headers={"DPoP": dpop(key, jwk)})
body = json_of(response) or {}
check("client_credentials with private_key_jwt and DPoP: 200, token_type DPoP", response.status_code == 200 and body.get("token_type") == "DPoP", response.text)
token = body.get("access_token", "")
granted = claims(token)
check("the passport: sub = agent, client_id = agent, aud = the resource, cnf.jkt bound, scope agents.time",
      granted.get("sub") == agent_id and granted.get("client_id") == agent_id and granted.get("aud") in (ENDPOINT, [ENDPOINT])
      and "jkt" in (granted.get("cnf") or {}) and granted.get("scope") == "agents.time", granted)
check("no refresh token for client_credentials", "refresh_token" not in body, body)
bare = mcp_raw(token, "tools/list", scheme="DPoP")
check("the gateway refuses the DPoP-bound passport without a proof (401)", bare.status_code == 401, bare.status_code)
proven = requests.post(ENDPOINT, data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
    "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}}}),
    headers={"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "MCP-Protocol-Version": "2026-07-28",
             "Mcp-Method": "tools/list", "Authorization": "DPoP " + token, "DPoP": dpop(key, jwk, url=ENDPOINT, access_token=token)}, timeout=30)
message = rpc_message(proven) or {}
names = sorted(t.get("name") for t in (message.get("result") or {}).get("tools", []))
check("with a proof by the bound key the gateway answers, tools/list filtered to the template", proven.status_code == 200 and names == ["get_time"],
      (proven.status_code, proven.text[:300]))

fixed = assertion(key, agent_id)
first = client_credentials(key, agent_id, client_assertion=fixed)
again = client_credentials(key, agent_id, client_assertion=fixed)
check("an assertion is single use: the replay is 401 invalid_client",
      first.status_code == 200 and again.status_code == 401 and (json_of(again) or {}).get("error") == "invalid_client", (first.text, again.text))
other = Ed25519PrivateKey.generate()
for what, forged in [
    ("signed by another key", assertion(other, agent_id)),
    ("for another audience", assertion(key, agent_id, aud="https://elsewhere.example")),
    ("valid for an hour", assertion(key, agent_id, lifetime=3600)),
    ("expired", assertion(key, agent_id, lifetime=-120)),
    ("naming another agent as sub", assertion(key, agent_id, sub="agt_other")),
]:
    r = client_credentials(key, agent_id, client_assertion=forged)
    check(f"an assertion {what} is 401 invalid_client", r.status_code == 401 and (json_of(r) or {}).get("error") == "invalid_client", r.text)
r = client_credentials(key, agent_id, scope="nonexistent.scope")
check("an unknown scope is invalid_scope", r.status_code == 400 and (json_of(r) or {}).get("error") == "invalid_scope", r.text)
r = client_credentials(key, agent_id, resource="https://elsewhere.example/mcp")
check("a foreign resource is invalid_target", r.status_code == 400 and (json_of(r) or {}).get("error") == "invalid_target", r.text)
r = token_request({"grant_type": "client_credentials", "client_id": "x", "client_secret": "y", "resource": ENDPOINT})
check("client_credentials without an agent assertion is unauthorized_client", r.status_code == 400 and (json_of(r) or {}).get("error") == "unauthorized_client", r.text)
pinned_ok, _ = ensure_template("agents.pinned", {"agent_id": "agt_someone_else", "allowed_tools": ["echo"]})
r = client_credentials(key, agent_id, scope="agents.pinned")
check("a template pinned to another agent is not granted to this one", pinned_ok and (json_of(r) or {}).get("error") == "invalid_scope", r.text)

# --- RFC 8693: IAL-1 badge → DPoP-bound passport ----------------------------------------------------
did = agent["did"]
enc = urllib.parse.quote(did, safe="")
challenge = api("POST", f"/v1/agents/{enc}/badge/challenge", {"badge_ttl": 300, "challenge_ttl": 300}).json()
now = int(time.time())
proof = jwt.encode({"cid": challenge["challenge_id"], "nonce": challenge["nonce"], "sub": did, "aud": challenge["proof_aud"],
                    "htu": challenge["htu"], "htm": "POST", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
                   key, algorithm="EdDSA", headers={"typ": "pop+jwt", "kid": f"{did}#{did[len('did:key:'):]}"})
issued = requests.post(SERVER + f"/v1/agents/{enc}/badge", json={"mode": "ial1", "challenge_id": challenge["challenge_id"], "proof_jws": proof}, timeout=30)
badge = (json_of(issued) or {}).get("badge", "")
check("an IAL-1 badge is issued by proof of possession (RFC-003)", issued.status_code == 200 and badge, issued.text[:300])


def exchange(subject, headers=None, **extra):
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": subject,
            "subject_token_type": "urn:ietf:params:oauth:token-type:jwt", "resource": ENDPOINT, "scope": "agents.time"}
    data.update(extra)
    return token_request(data, headers=headers)


r = exchange(badge, headers={"DPoP": dpop(key, jwk)})
body = json_of(r) or {}
check("token exchange: 200, token_type DPoP, issued_token_type access_token",
      r.status_code == 200 and body.get("token_type") == "DPoP" and body.get("issued_token_type") == "urn:ietf:params:oauth:token-type:access_token", r.text)
check("the exchanged passport is bound to the badge's key", (claims(body.get("access_token", "")).get("cnf") or {}).get("jkt") == granted.get("cnf", {}).get("jkt"),
      claims(body.get("access_token", "")))
r = exchange(badge)
check("without a DPoP proof: invalid_dpop_proof", (json_of(r) or {}).get("error") == "invalid_dpop_proof", r.text)
other_jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(other.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))}
r = exchange(badge, headers={"DPoP": dpop(other, other_jwk)})
check("with a proof by another key: invalid_dpop_proof", (json_of(r) or {}).get("error") == "invalid_dpop_proof", r.text)
r = exchange(badge, headers={"DPoP": dpop(key, jwk)}, subject_token_type="urn:ietf:params:oauth:token-type:access_token")
check("a wrong subject_token_type is invalid_request", (json_of(r) or {}).get("error") == "invalid_request", r.text)
r = exchange(token, headers={"DPoP": dpop(key, jwk)})
check("a passport is not a badge: invalid_grant", (json_of(r) or {}).get("error") == "invalid_grant", r.text)
badge_jti = jwt.decode(badge, options={"verify_signature": False})["jti"]
revoked = api("POST", f"/v1/badges/{badge_jti}/revoke", {"reason": "oauth-e2e"})
r = exchange(badge, headers={"DPoP": dpop(key, jwk)})
check("after the badge is revoked: invalid_grant", revoked.status_code in (200, 204) and (json_of(r) or {}).get("error") == "invalid_grant", (revoked.status_code, r.text))

# --- Client ID Metadata Documents -------------------------------------------------------------------
if not CIMD:
    check("CIMD_ORIGIN is set (the allow-listed metadata document server)", False, "run through scripts/oauth-e2e")
else:
    verifier, challenge_value = pkce()

    def authorize(client_id):
        params = {"response_type": "code", "client_id": client_id, "redirect_uri": "http://127.0.0.1/cb", "state": "st",
                  "code_challenge": challenge_value, "code_challenge_method": "S256", "scope": "agents.time", "resource": ENDPOINT}
        return requests.get(SERVER + "/oauth/authorize?" + urllib.parse.urlencode(params), timeout=30, allow_redirects=False)

    page = authorize(CIMD + "/client.json")
    check("a metadata-document client_id: the sign-in page, naming the document's client_name",
          page.status_code == 200 and "CIMD test client" in page.text and 'name="username"' in page.text, page.text[:300])
    for path, what in [("/mismatch.json", "whose client_id is another URL"), ("/big.json", "over 5 KiB"),
                       ("/redirect.json", "that redirects"), ("/secret.json", "carrying a client_secret"), ("/missing.json", "that is absent")]:
        r = authorize(CIMD + path)
        check(f"a metadata document {what}: 400 page, no redirect", r.status_code == 400 and "Location" not in r.headers, (r.status_code, r.headers.get("Location")))
    fetched = open(CIMD_LOG).read().splitlines() if os.path.exists(CIMD_LOG) else []
    check("the redirect was not followed (client.json fetched once, cached)", fetched.count("/client.json") == 1, fetched)
    port = CIMD.rsplit(":", 1)[1]
    for url, what in [(f"https://127.0.0.1:{port}/client.json", "a loopback https URL not on the allow-list"),
                      ("https://10.0.0.1/client.json", "a private address"), ("https://169.254.169.254/latest/meta-data", "the cloud metadata address"),
                      ("https://localhost/client.json", "a name resolving to loopback"), (f"http://localhost:{port}/client.json", "plain http off the allow-list")]:
        r = authorize(url)
        check(f"{what}: refused with a 400 page before any fetch", r.status_code == 400 and "Location" not in r.headers, (r.status_code, r.text[:200]))

summary()
