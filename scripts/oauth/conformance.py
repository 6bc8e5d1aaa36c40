"""An independent conformance check of Tessera's authorization server, written from the RFCs (not from
Tessera's code): RFC 8414 (metadata), RFC 9728 (protected resource metadata), RFC 6749 §5 (token
responses and errors), RFC 7591 (registration), RFC 7009 (revocation), RFC 7662 (introspection),
RFC 9207 (iss). Plain `requests`, with Authlib's RFC 8414 validators and its OAuth2Session as a second,
unrelated OAuth client. Environment: see common.py.
"""
import re
import time
import urllib.parse

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata

from common import (ADMIN, AS_METADATA_URL, ENDPOINT, ISSUER, PRM_URL, REGISTRATION_ERRORS, SERVER, TOKEN_ERRORS, Walk, check, code_for,
                    ensure_template, ensure_user, free_port, introspect, json_of, mcp_raw, pkce, redeem, register, summary, token_request,
                    www_authenticate)

CALLBACK = f"http://127.0.0.1:{free_port()}/cb"
DESCRIPTION = re.compile(r"^[\x20-\x21\x23-\x5B\x5D-\x7E]*$")   # RFC 6749 §5.2 error_description characters


def is_json(response):
    return response.headers.get("Content-Type", "").split(";")[0].strip().lower() == "application/json"


def strings(value):
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def error_response(label, response, status, codes, registry=TOKEN_ERRORS, no_store=True):
    """RFC 6749 §5.2: JSON, `error` from the registry, error_description in the allowed characters."""
    body = json_of(response)
    ok = response.status_code == status and is_json(response) and isinstance(body, dict) and body.get("error") in registry \
        and body.get("error") in codes and DESCRIPTION.match(str(body.get("error_description", "")))
    if no_store:
        ok = ok and "no-store" in response.headers.get("Cache-Control", "")
    check(label, ok, f"{response.status_code} {response.headers.get('Content-Type')} {response.headers.get('Cache-Control')} {response.text[:300]}")
    return body or {}


def as_metadata():
    response = requests.get(AS_METADATA_URL, timeout=30)
    meta = json_of(response) or {}
    check("8414: GET /.well-known/oauth-authorization-server → 200 application/json object", response.status_code == 200 and is_json(response)
          and isinstance(meta, dict), f"{response.status_code} {response.headers.get('Content-Type')}")
    check("8414 §3.3: issuer is identical to the issuer the well-known URL was built from", meta.get("issuer") == ISSUER, meta.get("issuer"))
    parts = urllib.parse.urlsplit(meta.get("issuer", ""))
    check("8414 §2: issuer has no query or fragment", not parts.query and not parts.fragment and parts.scheme in ("http", "https"), meta.get("issuer"))
    for member in ["issuer", "authorization_endpoint", "token_endpoint", "response_types_supported"]:
        check(f"8414 §2: required member {member}", member in meta, list(meta))
    # Authlib's RFC 8414 validators, member by member, with the loopback http scheme rewritten (RFC 8414
    # asks https of a deployment; here the server runs on loopback).
    https = {k: (v.replace("http://", "https://", 1) if isinstance(v, str) and v.startswith("http://") else v) for k, v in meta.items()}
    validated = AuthorizationServerMetadata(https)
    for name in sorted(n for n in dir(validated) if n.startswith("validate_")):
        try:
            getattr(validated, name)()
            problem = None
        except Exception as error:  # noqa: BLE001
            problem = f"{type(error).__name__}: {error}"
        check(f"8414 (Authlib {name})", problem is None, problem)
    endpoints = {k: v for k, v in meta.items() if k.endswith("_endpoint")}
    check("8414: every endpoint is an absolute URL under the issuer", endpoints and all(isinstance(v, str) and v.startswith(ISSUER + "/")
                                                                                        for v in endpoints.values()), endpoints)
    expected = {
        "authorization_endpoint": ISSUER + "/oauth/authorize", "token_endpoint": ISSUER + "/oauth/token",
        "registration_endpoint": ISSUER + "/oauth/register", "revocation_endpoint": ISSUER + "/oauth/revoke",
        "introspection_endpoint": ISSUER + "/oauth/introspect", "response_types_supported": ["code"], "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"], "authorization_response_iss_parameter_supported": True,
        "client_id_metadata_document_supported": True, "dpop_signing_alg_values_supported": ["EdDSA"],
    }
    for member, value in expected.items():
        check(f"contract: {member} = {value}", meta.get(member) == value, meta.get(member))
    for member, values in {
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["EdDSA"],
    }.items():
        check(f"contract: {member} = {values}", sorted(meta.get(member) or []) == sorted(values), meta.get(member))
    for member in [k for k in meta if k.endswith("_supported") and k not in ("authorization_response_iss_parameter_supported",
                                                                           "client_id_metadata_document_supported")]:
        check(f"8414 §2: {member} is a JSON array of strings", strings(meta[member]), meta[member])
    for member in ["revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported"]:
        check(f"contract: {member} present (array of strings)", strings(meta.get(member)) and meta.get(member), meta.get(member))
    check("8414 §2: token_endpoint_auth_signing_alg_values_supported does not contain none",
          "none" not in (meta.get("token_endpoint_auth_signing_alg_values_supported") or []))
    check("contract: scopes_supported = the mission templates + offline_access",
          {"time.read", "echo.write", "offline_access"} <= set(meta.get("scopes_supported") or []), meta.get("scopes_supported"))
    return meta


def resource_metadata(meta):
    response = requests.get(PRM_URL, timeout=30)
    prm = json_of(response) or {}
    check("9728 §3: GET /.well-known/oauth-protected-resource/mcp/time → 200 application/json", response.status_code == 200 and is_json(response),
          response.status_code)
    check("9728 §3.3: resource is identical to the resource the well-known URL was built from", prm.get("resource") == ENDPOINT, prm.get("resource"))
    check("9728 §2: authorization_servers names the issuer", ISSUER in (prm.get("authorization_servers") or []), prm.get("authorization_servers"))
    check("9728 §2: scopes_supported is an array of strings, every one an AS scope", strings(prm.get("scopes_supported"))
          and set(prm["scopes_supported"]) <= set(meta.get("scopes_supported") or []) and "time.read" in prm["scopes_supported"], prm.get("scopes_supported"))
    if "bearer_methods_supported" in prm:
        check("9728 §2: bearer_methods_supported includes header", "header" in prm["bearer_methods_supported"], prm["bearer_methods_supported"])
    missing = requests.get(SERVER + "/.well-known/oauth-protected-resource/mcp/nosuch", timeout=30)
    check("9728: no metadata for a resource that does not exist (404)", missing.status_code == 404, missing.status_code)
    response = mcp_raw(None, "tools/list")
    challenge = www_authenticate(response)
    check("9728 §5.1: the MCP endpoint without a token → 401, Bearer challenge with resource_metadata",
          response.status_code == 401 and response.headers.get("WWW-Authenticate", "").startswith("Bearer") and challenge.get("resource_metadata") == PRM_URL,
          f"{response.status_code} {response.headers.get('WWW-Authenticate')}")


def registration():
    response, body = register(client_name="conformance public", redirect_uris=[CALLBACK])
    body = body or {}
    check("7591 §3.2.1: registration → 201 application/json with client_id", response.status_code == 201 and is_json(response)
          and isinstance(body.get("client_id"), str) and body["client_id"], response.text[:300])
    check("7591 §3.2.1: client_id_issued_at is a number of seconds", isinstance(body.get("client_id_issued_at"), int)
          and abs(body["client_id_issued_at"] - time.time()) < 600, body.get("client_id_issued_at"))
    check("7591 §3.2.1: the registered metadata is returned (redirect_uris, grant_types, response_types, method, name)",
          body.get("redirect_uris") == [CALLBACK] and body.get("token_endpoint_auth_method") == "none" and body.get("client_name") == "conformance public"
          and "authorization_code" in (body.get("grant_types") or []) and body.get("response_types") == ["code"], body)
    check("7591: a public client (method none) gets no client_secret", "client_secret" not in body, body)
    public = body
    response, body = register(client_name="conformance confidential", redirect_uris=[CALLBACK], token_endpoint_auth_method="client_secret_post")
    body = body or {}
    check("7591 §3.2.1: a confidential client gets client_secret and client_secret_expires_at (0 = never)",
          response.status_code == 201 and isinstance(body.get("client_secret"), str) and body.get("client_secret_expires_at") == 0, response.text[:300])
    confidential = body
    response, body = register(redirect_uris=["javascript:alert(1)"])
    error_response("7591 §3.2.2: a javascript: redirect_uri → 400 invalid_redirect_uri", response, 400, {"invalid_redirect_uri"},
                   registry=REGISTRATION_ERRORS, no_store=False)
    response, body = register(redirect_uris=[])
    error_response("7591 §3.2.2: no redirect_uris for a code client → 400 invalid_redirect_uri or invalid_client_metadata", response, 400,
                   {"invalid_redirect_uri", "invalid_client_metadata"}, registry=REGISTRATION_ERRORS, no_store=False)
    response = requests.post(SERVER + "/oauth/register", data="client_name=form-encoded", timeout=30,
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    error_response("7591 §3.1: a request that is not JSON → 400 invalid_client_metadata", response, 400, {"invalid_client_metadata"},
                   registry=REGISTRATION_ERRORS, no_store=False)
    response, body = register(redirect_uris=[CALLBACK], token_endpoint_auth_method="private_key_jwt")
    check("7591 §2/§3.2.1: private_key_jwt without a key is refused (invalid_client_metadata) or replaced",
          (response.status_code == 400 and (body or {}).get("error") == "invalid_client_metadata")
          or (response.status_code == 201 and (body or {}).get("token_endpoint_auth_method") != "private_key_jwt"), response.text[:300])
    return public, confidential


def token_errors(public, confidential):
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    cases = [
        ("no grant_type", {"client_id": public["client_id"]}, None, 400, {"invalid_request"}),
        ("an unknown grant_type", {"grant_type": "urn:example:magic", "client_id": public["client_id"]}, None, 400, {"unsupported_grant_type"}),
        ("an unknown code", {"grant_type": "authorization_code", "code": "tac_unknown", "redirect_uri": CALLBACK, "code_verifier": pkce()[0],
                             "client_id": public["client_id"]}, None, 400, {"invalid_grant"}),
        ("an unknown refresh token", {"grant_type": "refresh_token", "refresh_token": "trt_unknown", "client_id": public["client_id"]}, None, 400,
         {"invalid_grant"}),
        ("an unknown client_id", {"grant_type": "refresh_token", "refresh_token": "trt_unknown", "client_id": "tc_unknown"}, None, 401, {"invalid_client"}),
        ("a wrong client_secret (post)", {"grant_type": "refresh_token", "refresh_token": "trt_unknown", "client_id": confidential["client_id"],
                                          "client_secret": "wrong"}, None, 401, {"invalid_client"}),
        ("a public client presenting a secret", {"grant_type": "refresh_token", "refresh_token": "x", "client_id": public["client_id"],
                                                 "client_secret": "x"}, None, 401, {"invalid_client"}),
        ("a bad client assertion", {"grant_type": "client_credentials", "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                                    "client_assertion": "e30.e30.", "resource": ENDPOINT}, None, 401, {"invalid_client"}),
    ]
    for label, data, auth, status, codes in cases:
        error_response(f"6749 §5.2: {label} → {status} {'/'.join(sorted(codes))}, JSON, no-store", token_request(data, auth=auth), status, codes)
    response = requests.post(SERVER + "/oauth/token", json={"grant_type": "refresh_token", "refresh_token": "x", "client_id": public["client_id"]}, timeout=30)
    error_response("6749 §3.2: a JSON body (not form-encoded) → 400 invalid_request", response, 400, {"invalid_request"})
    response = requests.post(SERVER + "/oauth/token", data="grant_type=refresh_token&grant_type=authorization_code&client_id=" + public["client_id"],
                             headers=form, timeout=30)
    error_response("6749 §3.2: a repeated parameter → 400 invalid_request", response, 400, {"invalid_request"})
    response = token_request({"grant_type": "refresh_token", "refresh_token": "x"}, auth=(confidential["client_id"], "wrong"))
    error_response("6749 §5.2: Basic auth failure → 401 invalid_client", response, 401, {"invalid_client"})
    check("6749 §5.2: …with WWW-Authenticate naming Basic", response.headers.get("WWW-Authenticate", "").lower().startswith("basic"),
          response.headers.get("WWW-Authenticate"))
    response = token_request({"grant_type": "refresh_token", "refresh_token": "x", "client_secret": confidential["client_secret"]},
                             auth=(confidential["client_id"], confidential["client_secret"]))
    error_response("6749 §2.3: two client authentication methods at once → 400 invalid_request or 401 invalid_client", response,
                   response.status_code if response.status_code in (400, 401) else 400, {"invalid_request", "invalid_client"})


def authlib_flow(public, confidential):
    """Authlib's OAuth2Session (requests) as the client: code + PKCE, then refresh."""
    seen = []
    session = OAuth2Session(client_id=confidential["client_id"], client_secret=confidential["client_secret"],
                            token_endpoint_auth_method="client_secret_post", redirect_uri=CALLBACK, scope="time.read offline_access",
                            code_challenge_method="S256")
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    verifier, _ = pkce()
    url, state = session.create_authorization_url(ISSUER + "/oauth/authorize", code_verifier=verifier, resource=ENDPOINT)
    walk = Walk(url).run()
    check("9207: the authorization response carries iss = the issuer", walk.params.get("iss") == ISSUER and walk.params.get("state") == state,
          walk.location or walk.error)
    try:
        token = session.fetch_token(ISSUER + "/oauth/token", authorization_response=walk.location, code_verifier=verifier, state=state,
                                     resource=ENDPOINT)
    except Exception as error:  # noqa: BLE001
        check("6749 §5.1: Authlib's client redeems the code", False, f"{type(error).__name__}: {error}")
        return None
    response = seen[-1] if seen else None
    check("6749 §5.1: Authlib's client redeems the code (access_token, token_type Bearer, expires_in, scope, refresh_token)",
          isinstance(token.get("access_token"), str) and str(token.get("token_type", "")).lower() == "bearer" and isinstance(token.get("expires_in"), int)
          and token.get("expires_in") > 0 and "time.read" in token.get("scope", "").split() and token.get("refresh_token"), token)
    check("6749 §5.1: the token response is application/json with Cache-Control no-store and Pragma no-cache",
          response is not None and is_json(response) and "no-store" in response.headers.get("Cache-Control", "")
          and response.headers.get("Pragma") == "no-cache", response is not None and dict(response.headers))
    try:
        refreshed = session.refresh_token(ISSUER + "/oauth/token", refresh_token=token["refresh_token"], resource=ENDPOINT)
    except Exception as error:  # noqa: BLE001
        refreshed = {"_error": f"{type(error).__name__}: {error}"}
    check("6749 §6: Authlib refreshes; the refresh token rotates (OAuth 2.1 §4.3.1)", refreshed.get("access_token")
          and refreshed.get("refresh_token") not in (None, token["refresh_token"]), refreshed)
    return refreshed


def introspection(public, live):
    response = requests.post(SERVER + "/oauth/introspect", data={"token": live["access_token"]}, timeout=30)
    check("7662 §2.1: introspection without a credential → 401", response.status_code == 401, response.status_code)
    response = requests.post(SERVER + "/oauth/introspect", data={"token": live["access_token"]}, headers={"Authorization": "Bearer " + ADMIN}, timeout=30)
    body = json_of(response) or {}
    check("7662 §2.2: a live token → 200 application/json, active true", response.status_code == 200 and is_json(response) and body.get("active") is True,
          response.text[:400])
    now = time.time()
    check("7662 §2.2: scope (string), client_id, sub, exp/iat (numbers), aud, iss, token_type, jti",
          isinstance(body.get("scope"), str) and "time.read" in body["scope"].split() and isinstance(body.get("client_id"), str)
          and isinstance(body.get("sub"), str) and isinstance(body.get("exp"), int) and body["exp"] > now and isinstance(body.get("iat"), int)
          and body["iat"] <= now + 5 and body.get("aud") in (ENDPOINT, [ENDPOINT]) and isinstance(body.get("iss"), str) and body.get("token_type")
          and body.get("jti"), body)
    check("7662 §2.2 iss / RFC 9068 §2.2: the token's issuer is the authorization server's issuer identifier (the metadata issuer)",
          body.get("iss") == ISSUER, f"iss {body.get('iss')!r}, metadata issuer {ISSUER!r}")
    unknown = introspect("not-a-token")
    check("7662 §2.2: an unknown token → {\"active\": false} and nothing more", unknown == {"active": False}, unknown)
    response = requests.post(SERVER + "/oauth/introspect", data={}, headers={"Authorization": "Bearer " + ADMIN}, timeout=30)
    check("7662 §2.1: no token parameter → 400 invalid_request", response.status_code == 400 and (json_of(response) or {}).get("error") == "invalid_request",
          response.text[:200])


def revocation(public, confidential, live):
    cid = confidential["client_id"]
    secret = {"client_id": cid, "client_secret": confidential["client_secret"]}   # its registered method: client_secret_post
    response = requests.post(SERVER + "/oauth/revoke", data={"token": "no-such-token", "client_id": public["client_id"]}, timeout=30)
    check("7009 §2.2: revoking an unknown token → 200", response.status_code == 200, f"{response.status_code} {response.text[:200]}")
    response = requests.post(SERVER + "/oauth/revoke", data={"token": "no-such-token", "token_type_hint": "something_else", **secret}, timeout=30)
    check("7009 §2.1: an unknown token_type_hint is not an error for an unknown token (200)", response.status_code == 200, response.status_code)
    response = requests.post(SERVER + "/oauth/revoke", data={"token": live["access_token"], "client_id": cid, "client_secret": "wrong"}, timeout=30)
    check("7009 §2.2.1: bad client credentials → 401 invalid_client", response.status_code == 401 and (json_of(response) or {}).get("error") == "invalid_client",
          f"{response.status_code} {response.text[:200]}")
    response = requests.post(SERVER + "/oauth/revoke", data={"token": live["access_token"], "client_id": public["client_id"]}, timeout=30)
    check("7009 §2.1: another client cannot revoke this client's token (it stays active)", introspect(live["access_token"]).get("active") is True,
          f"{response.status_code} {introspect(live['access_token'])}")
    response = requests.post(SERVER + "/oauth/revoke", data={"token": live["access_token"], "token_type_hint": "access_token", **secret}, timeout=30)
    check("7009 §2.2: revoking the access token → 200", response.status_code == 200, f"{response.status_code} {response.text[:200]}")
    check("7009/7662: the revoked token introspects as {\"active\": false}", introspect(live["access_token"]) == {"active": False},
          introspect(live["access_token"]))
    gateway = mcp_raw(live["access_token"], "tools/list")
    check("7009: the gateway refuses the revoked token (401)", gateway.status_code == 401, gateway.status_code)
    # A refresh token: revoking it ends the refresh, and (RFC 7009 §2.1 SHOULD) the access tokens of its grant.
    code, verifier, _ = code_for(cid, CALLBACK, scope="time.read offline_access")
    fresh = json_of(redeem(cid, code, verifier, CALLBACK, client_secret=confidential["client_secret"])) or {}
    response = requests.post(SERVER + "/oauth/revoke", data={"token": fresh.get("refresh_token", ""), "token_type_hint": "refresh_token", **secret},
                             timeout=30)
    check("7009 §2.2: revoking a refresh token → 200", response.status_code == 200, response.status_code)
    after = token_request({"grant_type": "refresh_token", "refresh_token": fresh.get("refresh_token", ""), **secret})
    check("7009: the revoked refresh token no longer refreshes (invalid_grant)", after.status_code == 400
          and (json_of(after) or {}).get("error") == "invalid_grant", after.text[:200])
    check("7009 §2.1 (SHOULD): the access token of the revoked refresh token's grant is revoked too",
          introspect(fresh.get("access_token", "")).get("active") is False, introspect(fresh.get("access_token", "")))


def authorization_endpoint(public):
    verifier, challenge = pkce()
    url = SERVER + "/oauth/authorize?" + urllib.parse.urlencode([
        ("response_type", "code"), ("client_id", public["client_id"]), ("redirect_uri", CALLBACK), ("state", "one"), ("state", "two"),
        ("code_challenge", challenge), ("code_challenge_method", "S256"), ("scope", "time.read"), ("resource", ENDPOINT)])
    response = requests.get(url, allow_redirects=False, timeout=30)
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers.get("Location", "")).query))
    check("6749 §3.1: a repeated parameter on the authorization request is refused (400 page or 303 invalid_request), no sign-in",
          (response.status_code == 400 and "Location" not in response.headers) or (response.status_code == 303 and params.get("error") == "invalid_request"),
          f"{response.status_code} {response.headers.get('Location')}")
    response = requests.post(SERVER + "/oauth/authorize", data={"request": "x", "csrf_token": "y", "decision": "approve"}, allow_redirects=False, timeout=30)
    check("authorize: a POST for an unknown request → 4xx page, no redirect", 400 <= response.status_code < 500 and "Location" not in response.headers,
          response.status_code)


def main():
    ensure_user()
    ensure_template("time.read", {"allowed_tools": ["get_time"]}, description="Read the clock")
    ensure_template("echo.write", {"tools": {"echo": {"arguments": {"text": {"regex": "^[a-z ]{1,32}$"}}}}}, description="Echo lowercase text")
    meta = as_metadata()
    resource_metadata(meta)
    public, confidential = registration()
    if not public.get("client_id") or not confidential.get("client_id"):
        check("conformance: clients to test with", False, "registration failed; the rest cannot run")
        return
    token_errors(public, confidential)
    live = authlib_flow(public, confidential)
    if live:
        introspection(public, live)
        revocation(public, confidential, live)
    authorization_endpoint(public)


main()
summary()
