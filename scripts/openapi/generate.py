#!/usr/bin/env python3
"""Generates Tessera's OpenAPI 3.1 document: Sources/TesseraResources/openapi.json (compiled into
the binary with C23 #embed: what `GET /openapi.json` serves) and docs/openapi.json, the same bytes.

Run after changing an HTTP route: `python3 scripts/openapi/generate.py`. The test suite fails
when a route exists that the document does not describe (or the reverse), and when the two
generated files differ from what this script produces.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "Sources", "TesseraCore", "TesseraVersion.swift")) as _f:
    VERSION = _f.read().split('current = "')[1].split('"')[0]

# -- Building blocks ------------------------------------------------------------------------------


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties, required=(), description=None, additional=True):
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    if description:
        schema["description"] = description
    if not additional:
        schema["additionalProperties"] = False
    return schema


S = {"type": "string"}


def nullable(schema):
    """Optional request members may be null: the server reads null as absent."""
    if "$ref" in schema or "oneOf" in schema or "anyOf" in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    out = dict(schema)
    kind = out.get("type")
    if isinstance(kind, str):
        out["type"] = [kind, "null"]
    return out


def req(properties, required=(), description=None, additional=True):
    """A request body object: members not required may also be null."""
    props = {k: (v if k in required else nullable(v)) for k, v in properties.items()}
    return obj(props, required, description, additional)
I = {"type": "integer"}
B = {"type": "boolean"}
TIME = {"type": "string", "description": "RFC 3339 / ISO 8601 UTC timestamp"}
STRINGS = {"type": "array", "items": S}
UUID_CH = "^ch-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
LIFETIME = {"type": "integer", "minimum": 60, "maximum": 31622400, "description": "Seconds; capped at the registry's maximum."}
AUDIENCES = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 512}, "maxItems": 16}
NONEMPTY = {"type": "string", "minLength": 1, "maxLength": 1024}
NONEMPTY_STRINGS = {"type": "array", "items": NONEMPTY, "maxItems": 1000}
SESSION = {"type": "string", "minLength": 1, "maxLength": 4096, "description": "A session id (a 256-bit bearer capability)."}
TOKEN = {"type": "string", "minLength": 1, "maxLength": 16384}
URIS = {"type": "array", "items": {"type": "string", "pattern": "^[a-zA-Z][a-zA-Z0-9+.-]*://[!-~]{1,2000}$"}, "minItems": 1, "maxItems": 16}
SCOPE = {"type": "array", "items": {"type": "string", "pattern": "^/[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}(/[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}){0,8}(/\\*\\*)?$"}, "maxItems": 100}
ED25519_JWK = obj({"kty": {"type": "string", "const": "OKP"}, "crv": {"type": "string", "const": "Ed25519"},
                   "x": {"type": "string", "pattern": "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"},
                   "y": {"type": ["string", "null"]}, "n": {"type": ["string", "null"]}, "e": {"type": ["string", "null"]},
                   "alg": {"type": ["string", "null"]}, "use": {"type": ["string", "null"]},
                   }, ["kty", "crv", "x"],
                  "An Ed25519 public JWK (RFC 8037). `kid`, if given, must be the key's RFC 7638 thumbprint; a private "
                  "member (`d`, `k`) is refused with 400.")
ANY_OBJECT = {"type": "object"}
POP_END = {"type": "string", "minLength": 1, "maxLength": 16384,
           "description": "On a key-bound AAT session: the holder's proof (aat_tool `tessera:session/end` or `tessera:session/attest`, hta {})."}
AUTHZEN_ID = {"type": "string", "minLength": 1, "maxLength": 16384}

ERROR_DESCRIPTIONS = {
    400: "Bad input: the message (or code) names the field. Also malformed or duplicate-key JSON.",
    401: "Not authenticated: never says which check failed.",
    403: "Authenticated, not permitted (or, on badge routes, an RFC-003 proof check failed).",
    404: "Unknown (or outside the caller's workspaces, which looks the same).",
    405: "Method not allowed on this path.",
    409: "Conflict with the current state.",
    413: "Body larger than the route's limit (1 MiB; 4 MiB on the MCP gateway).",
    415: "Not `application/json`.",
    422: "Operation not permitted in this state.",
    429: "Rate limited: `Retry-After` says when to retry.",
    502: "The upstream (MCP server) failed.",
    503: "The store (or the upstream) is unavailable; retry.",
}


def error_response(code, note=None):
    """`note`: what this status means on one route, after the shared description."""
    description = ERROR_DESCRIPTIONS[code] + (" " + note if note else "")
    response = {"description": description, "content": {"application/json": {"schema": ref("Error")}}}
    if code in (401,):
        response["headers"] = {"WWW-Authenticate": {"schema": S, "description": "Present on flat-shape 401s and badge refusals."}}
    if code in (429, 503):
        response["headers"] = {"Retry-After": {"schema": I, "description": "Seconds to wait."}}
    return response


def json_response(description, schema, headers=None):
    response = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def body(schema, required=True, example=None):
    content = {"schema": schema}
    if example is not None:
        content["example"] = example
    return {"required": required, "content": {"application/json": content}}


ALWAYS = [400, 413, 503]


def op(summary, tag, responses, errors=(), request=None, security=None, parameters=None, operation_id=None, description=None,
       notes=None):
    """`notes`: per status code, what it means on this route (see error_response)."""
    notes = notes or {}
    assert set(notes) <= set(errors), "a note for a status the route does not list"
    out = {"summary": summary, "tags": [tag], "operationId": operation_id, "responses": dict(responses)}
    if description:
        out["description"] = description
    for code in sorted(set(errors)):
        out["responses"][str(code)] = error_response(code, notes.get(code))
    if request:
        out["requestBody"] = request
    if security is not None:
        out["security"] = security
    if parameters:
        out["parameters"] = parameters
    return out


def path_param(name, description, pattern="^[A-Za-z0-9._~-]{1,128}$"):
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": pattern}, "description": description}


def query_param(name, description, required=False, min_length=1):
    return {"name": name, "in": "query", "required": required, "schema": {"type": "string", "minLength": min_length, "maxLength": 256},
            "description": description}


ANON = []
PRINCIPAL = [{"apiKey": []}, {"loginJWT": []}, {"registryKey": []}]

# -- Schemas ----------------------------------------------------------------------------------------

schemas = {
    "Error": {
        "description": "Every error body is one of three shapes, decided in one place (ErrorMapping): the IAM/gateway "
                       "`{\"error\":{\"type\",\"message\"}}`, the governance seed's flat `{\"error\":\"code\"}`, and the "
                       "CapiscIO RFCs' `{\"error\":\"code\",\"message\"}` (badge routes).",
        "anyOf": [ref("TypedError"), ref("FlatError"), ref("CodedError")],
    },
    "TypedError": obj({"error": obj({"type": S, "message": S}, ["type", "message"])}, ["error"],
                      "IAM, registry and transport errors, e.g. `{\"error\":{\"type\":\"auth-failed\",\"message\":\"auth failure\"}}`."),
    "FlatError": obj({"error": S}, ["error"], "Governance errors, e.g. `{\"error\":\"invalid_token\"}`."),
    "CodedError": obj({"error": S, "message": S}, ["error", "message"],
                      "RFC-002/RFC-003 errors, e.g. `{\"error\":\"challenge_used\",\"message\":\"…\"}` or `{\"error\":\"BADGE_EXPIRED\",…}`."),
    "Health": obj({"status": {"type": "string", "enum": ["ok", "degraded"]}, "version": S}, ["status", "version"]),
    "JWK": obj({"kty": S, "crv": S, "x": S, "kid": S, "alg": S, "use": S}, ["kty"], "An Ed25519 public JWK (RFC 8037)."),
    "JWKSet": obj({"keys": {"type": "array", "items": ref("JWK")}}, ["keys"]),
    # IAM
    "IAMUser": obj({k: S for k in ("id", "workspace", "default_workspace", "username", "name", "email", "created")}
                   | {"roles": STRINGS, "enabled": B, "must_change_password": B},
                   ["id", "username", "roles", "enabled"]),
    "IAMWorkspace": obj({"id": S, "name": S, "enabled": B, "created": S}, ["id", "enabled"]),
    "IAMAPIKey": obj({k: S for k in ("id", "user_id", "name", "prefix", "expires", "created", "last_used")}, ["id", "user_id", "prefix"]),
    "IAMAudit": obj({k: S for k in ("id", "at", "actor", "action", "target", "outcome", "detail")}, ["id", "at", "action"]),
    "IAMResponse": obj({
        "user": ref("IAMUser"), "users": {"type": "array", "items": ref("IAMUser")},
        "workspace": ref("IAMWorkspace"), "workspaces": {"type": "array", "items": ref("IAMWorkspace")},
        "api_key_plaintext": {"type": "string", "description": "Shown once, on create-api-key."},
        "api_key": ref("IAMAPIKey"), "api_keys": {"type": "array", "items": ref("IAMAPIKey")},
        "jwt": S, "jwt_expires": S, "signing_key_public": S, "resolved_user_id": S, "resolved_default_workspace": S,
        "resolved_workspace": S, "resolved_roles": STRINGS, "temporary_password": S, "bootstrap_admin_user_id": S,
        "bootstrap_admin_api_key": S, "bootstrap_available": B, "decision_allow": B, "decision_ttl_seconds": I,
        "decisions_json": S, "audit": {"type": "array", "items": ref("IAMAudit")},
    }, description="TrustGraph's `IamResponse`: members that do not apply are omitted."),
    "LoginRequest": req({"username": {"type": "string", "maxLength": 256}, "password": {"type": "string", "maxLength": 256}, "workspace": S},
                        ["username", "password"]),
    "ChangePasswordRequest": req({"current_password": S, "new_password": {"type": "string", "minLength": 1, "maxLength": 256}}, ["new_password"]),
    "Empty": obj({}, description="An empty JSON object."),
    # Registry and badges
    "Agent": obj({"id": S, "workspace": S, "name": S, "did": S, "public_jwk": ref("JWK"), "domain": S,
                  "status": {"type": "string", "enum": ["active", "disabled"]}, "created": TIME},
                 ["id", "workspace", "name", "did", "public_jwk", "domain", "status", "created"]),
    "AgentList": obj({"agents": {"type": "array", "items": ref("Agent")}}, ["agents"]),
    "RegisterAgentRequest": req({
        "name": {"type": "string", "minLength": 1, "maxLength": 128}, "public_jwk": ED25519_JWK,
        "domain": S, "workspace": S}, ["name", "public_jwk"],
        "Also `did`: the key's did:key (the default), or `did:web:<this registry's host>:agents:<name>` for a did:web agent "
        "this registry hosts; any other value is a 400."),
    "UpdateAgentRequest": req({"name": {"type": "string", "minLength": 1, "maxLength": 128}, "domain": S,
                                "status": {"type": "string", "enum": ["active", "disabled"]}}),
    "DisableAgentRequest": req({"reason": {"type": "string", "maxLength": 1024}}, additional=True),
    "AgentStatusResponse": obj({"did": S, "status": S, "disabledAt": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]}},
                       ["did", "status"]),
    "IssueBadgeRequest": {
        "description": "RFC-002 §12.1 / RFC-003 §5.2. `mode` `ial0` needs a credential with badges:issue; `ial1` is "
                       "authenticated by its proof alone. Without `mode`, a body with `challenge_id`/`proof_jws` is `ial1` and "
                       "one without is `ial0` (RFC-003's migration note). `exp_s`/`aud` are Tessera's earlier names for "
                       "`ttl`/`badge_aud` (and `badge_ttl`, RFC-003's name, is read when `ttl` is absent). Lifetimes above the "
                       "registry's maximum (1 h) are capped.",
        "anyOf": [
            req({"mode": {"type": "string", "const": "ial0"}, "ttl": LIFETIME,
                 "badge_aud": AUDIENCES, "domain": S}),
            req({"mode": {"type": "string", "const": "ial1"}, "challenge_id": {"type": "string", "pattern": UUID_CH},
                 "proof_jws": TOKEN}, ["challenge_id", "proof_jws"]),
        ],
    },
    "IssuedBadge": obj({
        "badge": S, "token": S, "jti": S, "expires_at": TIME, "ial": {"type": "string", "enum": ["0", "1"]}, "success": B,
        "data": obj({"token": S, "jti": S, "subject": S, "issuer": S, "trust_level": S, "issued_at": TIME, "expires_at": TIME,
                     "assurance_level": {"type": "string", "enum": ["IAL-0", "IAL-1"]}, "cnf": obj({"kid": S}, ["kid"])},
                    ["token", "jti", "subject", "issuer", "trust_level", "issued_at", "expires_at", "assurance_level"]),
        "message": S}, ["badge", "token", "jti", "expires_at", "ial", "success", "data"],
        "All three generations' members: RFC-002's `{badge, jti, expires_at}`, RFC-003's `{success, data}`, Tessera's `{token, ial}`."),
    "ChallengeRequest": req({"badge_aud": AUDIENCES, "badge_ttl": LIFETIME,
                             "challenge_ttl": {"type": "integer", "minimum": 10, "maximum": 600, "description": "Default 300."}}),
    "PoPChallenge": obj({"challenge_id": {"type": "string", "pattern": "^ch-"}, "nonce": S, "challenge_expires_at": TIME, "proof_aud": S,
                         "htu": S, "htm": {"type": "string", "enum": ["POST"]}, "badge_aud": {"type": ["array", "null"], "items": S},
                         "badge_ttl": I},
                        ["challenge_id", "nonce", "challenge_expires_at", "proof_aud", "htu", "htm", "badge_ttl"]),
    "LegacyPoPRequest": obj({"challenge_id": {"type": "string", "pattern": UUID_CH}, "proof": TOKEN}, ["challenge_id", "proof"]),
    "RevokeBadgeRequest": req({"reason": {"type": "string", "maxLength": 1024}}),
    "RevokedBadge": obj({"jti": S, "revoked": B, "revokedAt": TIME}, ["jti", "revoked"]),
    "BadgeStatus": obj({"jti": S, "sub": S, "revoked": B, "expires_at": TIME, "revokedAt": TIME}, ["jti", "sub", "revoked", "expires_at"]),
    "LegacyStatusList": obj({"token": S, "ttl": I, "uri": S}, ["token", "ttl", "uri"]),
    "DIDDocument": obj({"@context": STRINGS, "id": S, "verificationMethod": {"type": "array", "items": obj(
        {"id": S, "type": S, "controller": S, "publicKeyMultibase": S}, ["id", "type", "controller"])},
        "authentication": STRINGS}, ["id", "verificationMethod", "authentication"]),
    # Governance
    "Mission": obj({
        "agent_id": NONEMPTY, "mission": NONEMPTY, "allowed_tools": NONEMPTY_STRINGS, "forbidden_tools": NONEMPTY_STRINGS,
        "resource_scope": SCOPE, "max_tool_calls": {"type": ["integer", "null"], "minimum": 0, "maximum": 1000000000},
        "max_duration_s": {"type": ["integer", "null"], "minimum": 0, "maximum": 31622400}, "delegation_allowed": B,
        "max_delegation_depth": {"type": ["integer", "null"], "minimum": 0, "maximum": 16},
        "tools": {"type": ["object", "null"], "maxProperties": 0, "description": "Per-tool argument constraints and approvals (docs/governance.md); "
                  "left empty here because their grammar is richer than JSON Schema says."}},
        ["agent_id", "mission"], additional=False),
    "IssueRequest": obj({"mission": ref("Mission"), "ttl_s": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400},
                         "cnf_jkt": {"type": "string", "pattern": "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$",
                                     "description": "An RFC 7638 thumbprint; or \"agent\": the registered key of the mission's agent_id "
                                                    "(400 if agent_id is not a registered agent)."},
                         "audience": {"oneOf": [URIS["items"], URIS, {"type": "null"}]},
                         "format": {"type": ["string", "null"], "enum": ["passport", None]}},
                        ["mission"]) | {"not": {"required": ["holder_key"]}},
    "AATIssueRequest": obj({"mission": ref("AATMission"), "ttl_s": {"type": ["integer", "null"], "minimum": 1, "maximum": 86400},
                            "format": {"type": "string", "enum": ["aat"], "description": "A root Attenuating Agent Token (draft-01) for the "
                                       "mission, bound to holder_key (docs/aat.md); constraints an AAT cannot express are refused with 400."},
                            "holder_key": ref("HolderJWK")},
                           ["mission", "format", "holder_key"]),
    "HolderJWK": obj({"kty": {"type": "string", "enum": ["OKP"]}, "crv": {"type": "string", "enum": ["Ed25519"]},
                      "x": {"type": "string", "pattern": "^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$"},
                      "y": {"type": ["string", "null"]}, "kid": {"type": ["string", "null"]}, "alg": {"type": ["string", "null"]},
                      "use": {"type": ["string", "null"]}},
                     ["kty", "crv", "x"], "The holder's public JWK (a P-256 key, kty EC with x and y, is accepted too).", additional=False),
    "PassportClaims": obj({"iss": S, "sub": S, "iat": I, "nbf": I, "exp": I, "jti": S, "workspace": S, "agent_id": S, "mission": S,
                           "allowed_tools": STRINGS, "forbidden_tools": STRINGS, "resource_scope": STRINGS,
                           "max_tool_calls": {"type": ["integer", "null"]}, "max_duration_s": {"type": ["integer", "null"]},
                           "delegation_allowed": B, "max_delegation_depth": I, "delegation_depth": I, "parent_jti": S,
                           "cnf": obj({"jkt": S}), "tools": ANY_OBJECT, "aud": {"oneOf": [S, STRINGS]},
                           "status": obj({"status_list": obj({"idx": I, "uri": S}, ["idx", "uri"])}, ["status_list"]),
                           "aat": obj({"credential_format": S, "root_iss": S, "token_sha256": S, "mission_ref": ANY_OBJECT,
                                       "mission_digest": S, "mission_id": S, "revocation_ref": S, "holder_jwk": ANY_OBJECT},
                                      description="On a session started from an AAT (docs/aat.md).")},
                          ["sub", "jti", "agent_id"]),
    "IssueResponse": obj({"token": S, "format": {"type": "string", "enum": ["aat"]},
                          "claims": {"anyOf": [ref("PassportClaims"), {"type": "object", "description": "An AAT's claims (format aat)."}]}},
                         ["token", "claims"]),
    "TokenRequest": obj({"token": TOKEN}, ["token"], "The passport in the body is the credential."),
    "VerifyResponse": obj({"valid": B, "claims": ref("PassportClaims")}, ["valid", "claims"]),
    "StartRequest": req({"token": TOKEN, "proof": {"type": "string", "description": "Proof of possession, for a key-bound passport. Single use."},
                         "token_type": {"type": "string", "enum": ["passport", "aat"], "description": "aat: `token` is an AAT leaf (docs/aat.md)."},
                         "chain": {"type": "array", "maxItems": 16, "items": TOKEN, "description": "With token_type aat: the leaf's ancestors, root first."},
                         "require_pop": {"type": "boolean", "description": "With token_type aat: false asks for bearer mode (only where the server allows it)."},
                         "pop": {"type": "string", "minLength": 1, "maxLength": 16384, "description": "With token_type aat: a draft-01 proof of possession, aat_tool `tessera:session/start`."}},
                        ["token"], "Ardur's `kb_jwt` is refused with 400 (over 8192 bytes: MAX_KB_JWT_BYTES); prove possession with `pop`."),
    "StartResponse": obj({"session_id": S, "claims": ref("PassportClaims"), "started_at": TIME,
                          "calls_remaining": {"type": ["integer", "null"]}, "agent_id": S, "allowed_tools": STRINGS,
                          "credential_format": {"type": "string", "enum": ["aat-compatible-jwt"]}, "mission_digest": S, "pop_required": B},
                         ["session_id", "claims", "started_at"]),
    "EvaluateRequest": req({"session_id": SESSION, "tool_name": {"type": "string", "minLength": 1, "maxLength": 4096}, "arguments": ANY_OBJECT,
                            "request_id": {"type": "string", "minLength": 1, "maxLength": 64},
                            "pop": {"type": "string", "minLength": 1, "maxLength": 16384, "description": "On a key-bound AAT session: the call's draft-01 proof of possession (aat_tool = tool_name, hta = arguments). Single use."}},
                           ["session_id", "tool_name"]),
    "Violation": obj({"argument": S, "constraint": S, "detail": S}, ["argument", "constraint", "detail"]),
    "EvaluationResult": obj({"decision": {"type": "string", "enum": ["PERMIT", "DENY", "APPROVAL_REQUIRED"]}, "reason": S,
                             "calls_used": I, "calls_remaining": {"type": ["integer", "null"]}, "receipt_id": S,
                             "violations": {"type": "array", "items": ref("Violation")}, "approval_id": S},
                            ["decision", "calls_used"]),
    "DelegateRequest": req({"parent_token": TOKEN, "child_agent_id": NONEMPTY, "child_allowed_tools": NONEMPTY_STRINGS, "child_mission": NONEMPTY,
                            "child_resource_scope": SCOPE, "child_max_tool_calls": {"type": "integer", "minimum": 0, "maximum": 1000000000},
                            "child_ttl_s": {"type": "integer", "minimum": 1, "maximum": 31622400}, "child_tools": {"type": "object", "maxProperties": 0},
                            "child_cnf_jkt": S, "delegation_request_id": {"type": "string", "minLength": 1, "maxLength": 64},
                            "proof": {"type": "string", "description": "Proof of possession, for a key-bound parent: purpose `delegate`, "
                                      "`child_cnf_jkt`, and `request_digest` (base64url SHA-256 of the RFC 8785 form of the fields "
                                      "governing the child). Single use."},
                            "pop": {"type": "string", "minLength": 1, "maxLength": 16384, "description": "When parent_token is a key-bound AAT: a draft-01 proof, aat_tool `delegate_passport`, hta = this body without parent_token and pop."}},
                           ["parent_token", "child_agent_id", "child_allowed_tools"]),
    "DelegationResult": obj({"child_token": S, "child_claims": ref("PassportClaims"), "parent_jti": S,
                             "parent_calls_remaining_at_delegation": {"type": ["integer", "null"]}},
                            ["child_token", "child_claims", "parent_jti"]),
    "EndRequest": obj({"session_id": SESSION, "pop": POP_END}, ["session_id"]),
    "SessionRequest": obj({"session": SESSION, "pop": POP_END}, ["session"]),
    "EndResult": obj({"attestation_token": S,
                      "summary": obj({"permits": I, "denies": I, "tool_calls": I, "delegations": I, "started_at": S, "ended_at": S}),
                      "receipts_head": S, "receipts_count": I}, ["attestation_token", "summary", "receipts_head", "receipts_count"]),
    "RevokeRequest": {"type": "object", "description": "`session_id` or `jti`.",
                      "properties": {"session_id": {"type": ["string", "null"]}, "jti": {"type": ["string", "null"]}},
                      "anyOf": [{"required": ["session_id"], "properties": {"session_id": SESSION}},
                                {"required": ["jti"], "properties": {"jti": {"type": "string", "minLength": 1}}}]},
    "Revoked": obj({"revoked": B}, ["revoked"]),
    "Approval": obj({"approval_id": S, "session_id": S, "agent_id": S, "workspace": S, "tool": S, "arguments": {},
                     "arguments_digest": S, "approvers": STRINGS, "min_approvals": I, "granted_by": STRINGS, "status": S,
                     "created_at": TIME, "expires_at": TIME}, ["approval_id", "session_id", "tool", "status"]),
    "ApprovalList": obj({"approvals": {"type": "array", "items": ref("Approval")}}, ["approvals"]),
    # OpenID AuthZEN Authorization API 1.0 (docs/authzen.md). Unknown members are ignored, as the spec requires.
    "AuthZENSubject": req({"type": {"type": "string", "enum": ["session", "passport"]}, "id": AUTHZEN_ID, "properties": ANY_OBJECT},
                          ["type", "id"], "`session`: `id` is a session id; `passport`: `id` is a passport's `jti` (its running session)."),
    "AuthZENAction": req({"name": AUTHZEN_ID, "properties": ANY_OBJECT}, ["name"], "`name`: the tool (must equal `resource.id`)."),
    "AuthZENResource": req({"type": {"type": "string", "const": "tool_call"}, "id": AUTHZEN_ID,
                            "properties": req({"arguments": ANY_OBJECT})}, ["type", "id"], "`id`: the tool; `properties.arguments`: its arguments."),
    "AuthZENContext": req({"request_id": {"type": "string", "minLength": 1, "maxLength": 256,
                                          "description": "Idempotency, exactly like /evaluate's `request_id`."}}),
    "AuthZENEvaluationRequest": req({"subject": ref("AuthZENSubject"), "action": ref("AuthZENAction"), "resource": ref("AuthZENResource"),
                                     "context": ref("AuthZENContext")}, ["subject", "action", "resource"]),
    "AuthZENEvaluationItem": req({"subject": ref("AuthZENSubject"), "action": ref("AuthZENAction"), "resource": ref("AuthZENResource"),
                                  "context": ref("AuthZENContext")},
                                 description="Members left out take the request's top-level value (an item's `context` replaces the default whole)."),
    "AuthZENEvaluationsRequest": req({
        "subject": ref("AuthZENSubject"), "action": ref("AuthZENAction"), "resource": ref("AuthZENResource"),
        "context": ref("AuthZENContext"),
        "evaluations": {"type": "array", "items": ref("AuthZENEvaluationItem"), "maxItems": 1000},
        "options": req({"evaluations_semantic": {"type": "string", "enum": ["execute_all", "deny_on_first_deny", "permit_on_first_permit"]}})},
        description="Top-level `subject`, `action`, `resource`, `context` are defaults for the items (`context.request_id` is "
                    "refused as a default: give each item its own). No items: one Access Evaluation, answered as one Decision."),
    "AuthZENItemError": obj({"status": I, "code": S, "message": S, "retry_after": I}, ["status", "code", "message"]),
    "AuthZENDecisionContext": obj({"decision": {"type": "string", "enum": ["PERMIT", "DENY", "APPROVAL_REQUIRED"]}, "reason": S,
                                   "violations": {"type": "array", "items": ref("Violation")}, "receipt_id": S, "approval_id": S,
                                   "calls_remaining": I, "error": ref("AuthZENItemError")}),
    "AuthZENDecision": obj({"decision": B, "context": ref("AuthZENDecisionContext")}, ["decision"],
                           "`decision` is true only for PERMIT; `context.decision` is Tessera's verdict."),
    "AuthZENEvaluationsResponse": obj({"evaluations": {"type": "array", "items": ref("AuthZENDecision")}}, ["evaluations"],
                                      "One Decision per item evaluated, in request order (a short-circuit ends the list)."),
    "AuthZENMetadata": obj({"policy_decision_point": S, "access_evaluation_endpoint": S, "access_evaluations_endpoint": S},
                           ["policy_decision_point", "access_evaluation_endpoint", "access_evaluations_endpoint"]),
}

# The IAM endpoint's bodies: one schema per operation, a oneOf discriminated on `operation`.
JSON_OBJECT_TEXT = {"type": "string", "pattern": "^(\\{\\})?$", "description": "A JSON object, as text (the pattern shows the empty one; empty = absent)."}
ID = {"type": "string", "minLength": 1, "maxLength": 256}
EXPIRES = {"type": "string", "pattern": "^(|20[3-9][0-9]-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]Z)$",
           "description": "An RFC 3339 UTC time in the future (the pattern shows the plain form; empty = never expires)."}
ROLES = {"type": "array", "maxItems": 32, "items": {"type": "string", "pattern": "^(reader|writer|approver|evaluator|admin)(@([a-z0-9.-][a-z0-9._-]{0,63}|\\*))?$"},
         "description": "`role` or `role@workspace`: reader, writer, approver, evaluator, admin."}
USERNAME = {"type": "string", "pattern": "^[^\\u0000-\\u0020@\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff]{1,128}$"}
WORKSPACE_ID = {"type": "string", "pattern": "^[a-z0-9.-][a-z0-9._-]{0,63}$"}
IAM_OPERATIONS = {
    "whoami": ([], {}),
    "bootstrap-status": ([], {}),
    "create-user": (["user"], {"workspace": S, "user": req({"username": USERNAME, "name": S, "email": S, "password": S, "roles": ROLES,
                                                          "enabled": B, "must_change_password": B}, ["username"])}),
    "list-users": ([], {"workspace": S}),
    "get-user": (["user_id"], {"user_id": ID}),
    "update-user": (["user_id"], {"user_id": ID, "user": ANY_OBJECT}),
    "disable-user": (["user_id"], {"user_id": ID}),
    "enable-user": (["user_id"], {"user_id": ID}),
    "delete-user": (["user_id"], {"user_id": ID}),
    "change-password": (["password", "new_password"], {"password": {"type": "string", "minLength": 1, "maxLength": 256},
                                                       "new_password": {"type": "string", "minLength": 1, "maxLength": 256}}),
    "reset-password": (["user_id"], {"user_id": ID}),
    "create-workspace": (["workspace_record"], {"workspace_record": req({"id": WORKSPACE_ID, "name": S, "enabled": B}, ["id"])}),
    "list-workspaces": ([], {}),
    "list-my-workspaces": ([], {}),
    "get-workspace": (["workspace"], {"workspace": ID}),
    "update-workspace": (["workspace_record"], {"workspace_record": req({"id": WORKSPACE_ID, "name": S, "enabled": B}, ["id"])}),
    "disable-workspace": (["workspace"], {"workspace": ID}),
    "create-api-key": (["key"], {"key": req({"user_id": S, "name": {"type": "string", "minLength": 1, "maxLength": 128}, "expires": EXPIRES},
                                            ["name"])}),
    "list-api-keys": ([], {"user_id": S}),
    "revoke-api-key": (["key_id"], {"key_id": ID}),
    "get-signing-key-public": ([], {}),
    "rotate-signing-key": ([], {}),
    "resolve-api-key": (["api_key"], {"api_key": {"type": "string", "minLength": 1, "maxLength": 1024}}),
    "authorise": (["capability"], {"capability": {"type": "string", "pattern": "^[a-z]{1,32}:[a-z]{1,32}$"}, "resource_json": JSON_OBJECT_TEXT, "parameters_json": S, "workspace": S}),
    "authorise-many": (["authorise_checks"], {"authorise_checks": {
        "type": "string", "pattern": "^\\[(\\{\"capability\":\"[a-z]{1,16}:[a-z]{1,16}\"\\})?\\]$",
        "description": "A JSON array (as text) of {capability, resource, parameters}; the pattern shows the simplest form."}}),
    "list-audit": ([], {"limit": {"type": "integer", "description": "At most this many events (bounded by the server)."}}),
}
iam_refs = []
mapping = {}
for name, (required, properties) in IAM_OPERATIONS.items():
    schema_name = "IAM_" + "".join(part.capitalize() for part in name.split("-"))
    props = {"operation": {"type": "string", "const": name}} | properties
    schemas[schema_name] = req(props, ["operation"] + required, f"`{name}`")
    iam_refs.append(ref(schema_name))
    mapping[name] = f"#/components/schemas/{schema_name}"
schemas["IAMRequest"] = {
    "description": "TrustGraph's `IamRequest`: one body per operation (each needs its own capability; see docs/iam.md).",
    "oneOf": iam_refs, "discriminator": {"propertyName": "operation", "mapping": mapping},
}

# Console (GET /api/v1/console/…): read views the operator console needs; see docs/console.md.
NULLABLE_I = {"type": ["integer", "null"]}
VIOLATION = obj({"argument": S, "constraint": S, "detail": S}, ["argument", "constraint", "detail"])
schemas["AATMission"] = json.loads(json.dumps(schemas["Mission"])) | {"description": "A mission an AAT can express: no resource scope (docs/aat.md)."}
schemas["AATMission"]["properties"]["resource_scope"] = {"type": "array", "maxItems": 0, "items": {"type": "string"}}
schemas |= {
    "ConsoleOverview": obj({
        "workspace": S, "username": S, "capabilities": STRINGS, "server_time": S,
        "agents": NULLABLE_I, "agents_active": NULLABLE_I, "sessions_active": NULLABLE_I,
        "decisions_last_hour": {"type": ["object", "null"], "additionalProperties": I,
                                "description": "PERMIT / DENY / APPROVAL_REQUIRED in the last hour, on this node."},
        "decisions_per_second": {"type": ["array", "null"], "items": I, "description": "The last 300 seconds, oldest first."},
        "signing_key": {"anyOf": [obj({"kid": S, "created": S, "age_seconds": I, "rotate_by": S},
                                      ["kid", "created", "age_seconds", "rotate_by"]), {"type": "null"}]},
    }, ["workspace", "username", "capabilities", "server_time"],
        "What the signed-in identity may see of its workspace; a part it may not read is absent."),
    "ConsoleAgentList": obj({"agents": {"type": "array", "items": obj({
        "id": S, "name": S, "did": S, "domain": S, "status": S, "created": S,
        "last_badge": {"anyOf": [obj({"jti": S, "ial": S, "issued": S, "expires": S, "revoked": B},
                                     ["jti", "ial", "issued", "expires", "revoked"]), {"type": "null"}]},
    }, ["id", "name", "did", "status"])}}, ["agents"]),
    "ConsoleSessionList": obj({"sessions": {"type": "array", "items": obj({
        "passport_jti": S, "parent_jti": S, "agent_id": S, "mission": S, "started": S, "expires": S,
        "state": {"type": "string", "enum": ["active", "ended", "revoked", "expired"]},
        "calls_used": I, "max_tool_calls": I, "reserved_for_children": I, "permits": I, "denies": I,
        "delegations": I, "receipts": I, "delegation_depth": I,
    }, ["passport_jti", "agent_id", "state", "calls_used", "reserved_for_children"])}}, ["sessions"],
        "The workspace's sessions, newest first (at most 500), keyed by passport jti (never the session id)."),
    "DecisionBatch": obj({
        "decisions": {"type": "array", "items": obj({
            "at_ms": I, "agent_id": S, "passport_jti": S, "parent_jti": S, "tool": S, "decision": S, "reason": S,
            "violations": {"type": "array", "items": VIOLATION}, "approval_id": S, "receipt_id": S, "calls_used": I,
            "calls_remaining": I}, ["at_ms", "agent_id", "passport_jti", "tool", "decision", "calls_used"])},
        "dropped": I, "counts": {"type": "object", "additionalProperties": I},
    }, ["decisions", "dropped", "counts"], "The `data` of one `decisions` server-sent event."),
}

# OAuth 2.1 authorization server (issue 26; /work design: mission templates are the scopes).
# Form-encoded parameters (RFC 6749 §3.2): each value at most 8 KiB (UTF-8 bytes; the bound below
# is in characters, equal for ASCII), no NUL, a parameter sent twice is a 400, an empty value is
# the parameter left out, at most 64 parameters and 16 KiB per body; unknown parameters are ignored.
FORM_VALUE = {"type": "string", "maxLength": 8192, "pattern": "^[^\\u0000]*$"}


def form_value(description, **extra):
    return FORM_VALUE | {"description": description} | extra


def form_object(properties, required, description):
    """A form body: other parameters are ignored, but each is still one value (and at most 64 in all)."""
    return obj(properties, required, description) | {"additionalProperties": FORM_VALUE, "maxProperties": 64,
                                                     "propertyNames": {"pattern": "^[^\\u0000]+$"}}


NO_CONTROL = "^[^\\u0000-\\u001f\\u007f]+$"
OAUTH_ERROR_CODES = ["invalid_request", "invalid_client", "invalid_grant", "unauthorized_client", "unsupported_grant_type",
                     "invalid_scope", "invalid_target", "invalid_dpop_proof", "access_denied", "unsupported_response_type",
                     "invalid_redirect_uri", "invalid_client_metadata", "temporarily_unavailable", "slow_down"]
TEMPLATE_NAME = "^[A-Za-z0-9_.:-]{1,64}$"
REDIRECT_URI = {"type": "string", "maxLength": 2048,
                "pattern": "^(https://[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?){0,3}(:[1-9][0-9]{0,3})?"
                           "|http://(127\\.0\\.0\\.1|localhost|\\[::1\\])(:[1-9][0-9]{0,3})?"
                           "|[a-z][a-z0-9+-]{0,20}(\\.[a-z0-9+-]{1,20}){1,3}:)(/[A-Za-z0-9._~/-]{0,200})?$",
                "description": "`https`, `http` on a loopback host (127.0.0.1, [::1], localhost; a loopback IP literal then "
                               "matches on any port, RFC 8252), or a private-use scheme that is a reverse domain name "
                               "(`com.example.app:/cb`). Never a fragment, userinfo, space or non-ASCII character, nor "
                               "`javascript:`, `data:`, `file:`, `vbscript:`, `blob:`, `about:`, `ftp:`, `ws:`, `wss:`. The "
                               "pattern shows the common forms; 1-2048 bytes."}
CLIENT_AUTH_FORM = {
    "client_id": form_value("The client (public clients, `client_secret_post`; optional with HTTP Basic or an assertion, "
                            "where it must match). An `https` URL is a Client ID Metadata Document client."),
    "client_secret": form_value("`client_secret_post`. Exactly one authentication method per request."),
    "client_assertion_type": {"type": "string", "enum": ["urn:ietf:params:oauth:client-assertion-type:jwt-bearer"],
                              "description": "With `client_assertion` (RFC 7523)."},
    "client_assertion": form_value("`private_key_jwt` by a registered Tessera agent: a JWT with iss = sub = the agent id, aud "
                                   "the issuer or the token endpoint, exp at most 5 minutes ahead, a single-use jti, signed by "
                                   "the agent's registered key."),
}
MISSION_TEMPLATE_INPUT = json.loads(json.dumps(schemas["Mission"]))
MISSION_TEMPLATE_INPUT.pop("required")
MISSION_TEMPLATE_INPUT["properties"]["agent_id"] = nullable(NONEMPTY) | {
    "description": "The one agent that may obtain this template without a person (client_credentials, token exchange); "
                   "absent or `*`: any agent."}
MISSION_TEMPLATE_INPUT["properties"]["mission"] = nullable(NONEMPTY) | {"description": "Default: the template's description, else its name."}
MISSION_TEMPLATE_INPUT["description"] = "A mission as for /issue; `agent_id` and `mission` are optional."
schemas |= {
    "OAuthError": obj({"error": {"type": "string", "enum": OAUTH_ERROR_CODES}, "error_description": S}, ["error", "error_description"],
                      "RFC 6749 §5.2 (and RFC 7591 §3.2.2, RFC 8707, RFC 9449): the error code and a human-readable reason."),
    "OAuthServerMetadata": obj({
        "issuer": S, "authorization_endpoint": S, "token_endpoint": S, "registration_endpoint": S, "revocation_endpoint": S,
        "introspection_endpoint": S,
        "scopes_supported": {"type": "array", "items": S, "description": "Every mission template's name, and `offline_access`."},
        "response_types_supported": STRINGS, "response_modes_supported": STRINGS, "grant_types_supported": STRINGS,
        "code_challenge_methods_supported": STRINGS, "token_endpoint_auth_methods_supported": STRINGS,
        "token_endpoint_auth_signing_alg_values_supported": STRINGS, "revocation_endpoint_auth_methods_supported": STRINGS,
        "revocation_endpoint_auth_signing_alg_values_supported": STRINGS,
        "introspection_endpoint_auth_methods_supported": STRINGS, "authorization_response_iss_parameter_supported": B,
        "client_id_metadata_document_supported": B, "dpop_signing_alg_values_supported": STRINGS, "service_documentation": S},
        ["issuer", "authorization_endpoint", "token_endpoint", "registration_endpoint", "revocation_endpoint", "introspection_endpoint",
         "scopes_supported", "response_types_supported", "response_modes_supported", "grant_types_supported",
         "code_challenge_methods_supported", "token_endpoint_auth_methods_supported", "token_endpoint_auth_signing_alg_values_supported",
         "revocation_endpoint_auth_methods_supported", "introspection_endpoint_auth_methods_supported",
         "authorization_response_iss_parameter_supported", "client_id_metadata_document_supported", "dpop_signing_alg_values_supported"],
        "RFC 8414 authorization server metadata: exactly what this server supports."),
    "OAuthAuthorizeForm": form_object({
        "request": form_value("The pending authorization request (hidden field of the page).", maxLength=128),
        "csrf_token": form_value("The page's CSRF token (hidden field); must match the request and the `tessera_oauth` cookie."),
        "username": form_value("Sign-in step: the IAM username."),
        "password": form_value("Sign-in step: the password."),
        "decision": {"type": "string", "enum": ["approve", "deny"], "description": "Consent step (after sign-in)."},
    }, ["request", "csrf_token"], "The sign-in form (`username`, `password`) or the consent form (`decision`) of the pages."),
    "OAuthTokenRequest": form_object({
        "grant_type": {"type": "string", "enum": ["authorization_code", "refresh_token", "client_credentials",
                                                  "urn:ietf:params:oauth:grant-type:token-exchange"]},
        "code": form_value("authorization_code: the code (single use, 60 s)."),
        "redirect_uri": form_value("authorization_code: the authorization request's redirect_uri, exactly."),
        "code_verifier": form_value("authorization_code: the PKCE verifier (43-128 characters of A-Z a-z 0-9 - . _ ~)."),
        "refresh_token": form_value("refresh_token: the refresh token (rotated on every use; a reused one ends the grant)."),
        "resource": form_value("RFC 8707: the MCP endpoint, `ISSUER/mcp/NAME`. Required for client_credentials and token "
                               "exchange; for the other grants it must equal the grant's."),
        "scope": form_value("Space-separated mission template names (`offline_access` for a refresh token). refresh_token: a "
                            "subset of the grant's; client_credentials / token exchange: default every template offered to "
                            "the agent on the resource."),
        "subject_token": form_value("token exchange (RFC 8693): an IAL-1 badge of an active agent, issued here."),
        "subject_token_type": {"type": "string", "enum": ["urn:ietf:params:oauth:token-type:jwt"], "description": "token exchange."},
        "requested_token_type": {"type": "string", "enum": ["urn:ietf:params:oauth:token-type:access_token"],
                                 "description": "token exchange (optional). `actor_token` is refused (400)."},
    } | CLIENT_AUTH_FORM, ["grant_type"],
        "RFC 6749 §4.1.3, §6, §4.4 (with RFC 7523 client authentication) and RFC 8693. Client authentication (code and "
        "refresh grants): HTTP Basic, `client_secret`, `client_assertion`, or a public client's bare `client_id` — exactly "
        "one. Token exchange needs a `DPoP` proof by the badge's key."),
    "OAuthTokenResponse": obj({
        "access_token": {"type": "string", "description": "A mission passport for the resource (aud), scope = the granted templates."},
        "token_type": {"type": "string", "enum": ["Bearer", "DPoP"]}, "expires_in": I, "scope": S,
        "refresh_token": {"type": "string", "description": "Code and refresh grants only."},
        "issued_token_type": {"type": "string", "enum": ["urn:ietf:params:oauth:token-type:access_token"],
                              "description": "Token exchange only."}},
        ["access_token", "token_type", "expires_in", "scope"], "RFC 6749 §5.1 (+ RFC 8693 §2.2.1)."),
    "OAuthClientRegistration": req({
        "redirect_uris": {"type": "array", "items": REDIRECT_URI, "minItems": 1, "maxItems": 8},
        "client_name": {"type": "string", "maxLength": 256, "pattern": NO_CONTROL, "description": "1-256 bytes, no control character."},
        "client_uri": {"type": "string", "maxLength": 2048, "pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^\\u0000-\\u001f\\u007f]*$",
                       "description": "An http(s) URL, at most 2048 bytes."},
        "grant_types": {"type": "array", "items": {"type": "string", "enum": ["authorization_code", "refresh_token"]},
                        "minItems": 1, "maxItems": 4, "contains": {"const": "authorization_code"},
                        "description": "Default [authorization_code, refresh_token]; must include authorization_code."},
        "response_types": {"type": "array", "items": {"type": "string", "enum": ["code"]}, "minItems": 1, "maxItems": 4,
                           "description": "Default [code]."},
        "token_endpoint_auth_method": {"type": "string", "enum": ["none", "client_secret_post", "client_secret_basic"],
                                       "description": "Default client_secret_basic; `none` is a public client (no secret)."},
        "scope": {"type": "string", "maxLength": 1024, "pattern": NO_CONTROL, "description": "At most 1024 bytes."},
    }, ["redirect_uris"], "RFC 7591 client metadata. Unknown members are ignored."),
    "OAuthClient": obj({
        "client_id": S, "client_secret": {"type": "string", "description": "Only in the registration answer, once."},
        "client_id_issued_at": I, "client_secret_expires_at": {"type": "integer", "description": "0 (never), with a client_secret."},
        "client_name": S, "client_uri": S, "redirect_uris": STRINGS, "grant_types": STRINGS, "response_types": STRINGS,
        "token_endpoint_auth_method": S, "scope": S},
        ["client_id", "client_id_issued_at", "redirect_uris", "grant_types", "response_types", "token_endpoint_auth_method"],
        "A registered client (RFC 7591 §3.2.1)."),
    "OAuthClientList": obj({"clients": {"type": "array", "items": ref("OAuthClient")}}, ["clients"]),
    "OAuthRevokeRequest": form_object({
        "token": form_value("The refresh token (ends its whole grant) or access token (revokes its passport) to revoke."),
        "token_type_hint": form_value("`access_token` or `refresh_token` (not needed: the server finds the kind itself)."),
    } | CLIENT_AUTH_FORM, ["token"], "RFC 7009, with client authentication as at the token endpoint."),
    "OAuthIntrospectRequest": form_object({
        "token": form_value("The token to introspect.", minLength=1),
        "token_type_hint": form_value("`access_token` or `refresh_token` (ignored)."),
    }, ["token"], "RFC 7662 §2.1."),
    "OAuthIntrospection": obj({
        "active": B, "scope": S, "client_id": S, "sub": S, "exp": I, "iat": I, "nbf": I, "aud": STRINGS, "iss": S, "jti": S,
        "token_type": {"type": "string", "enum": ["Bearer", "DPoP", "refresh_token"]}, "cnf": obj({"jkt": S}, ["jkt"]),
        "workspace": S},
        ["active"], "RFC 7662 §2.2: `{\"active\":false}` alone for a token that is unknown, expired, revoked, or of a workspace "
                    "where the caller lacks tokens:introspect."),
    "OAuthGrant": obj({"id": S, "client_id": S, "client_name": S, "subject": S, "workspace": S,
                       "scope": {"type": "string", "description": "Space-separated mission template names."},
                       "resource": S, "created_at": TIME, "expires_at": TIME},
                      ["id", "client_id", "subject", "workspace", "scope", "resource", "created_at", "expires_at"],
                      "One consent: a refresh-token family, what it grants and to whom."),
    "OAuthGrantList": obj({"grants": {"type": "array", "items": ref("OAuthGrant")}}, ["grants"]),
    "MissionTemplateMission": MISSION_TEMPLATE_INPUT,
    "MissionTemplateRequest": req({
        "name": {"type": "string", "pattern": TEMPLATE_NAME,
                 "description": "The OAuth scope: 1-64 characters of A-Z a-z 0-9 _ . : -, not `offline_access` or `openid`."},
        "description": {"type": "string", "maxLength": 1024, "description": "Shown on the consent page."},
        "mission": ref("MissionTemplateMission"),
        "resources": {"type": "array", "minItems": 1, "maxItems": 64, "items": {"type": "string", "minLength": 1, "maxLength": 128},
                      "description": "Gateway upstream names this template is offered on (each must be a configured "
                                     "`--mcp-upstream`); absent: every one."},
        "ttl_s": {"type": "integer", "minimum": 5, "maximum": 86400, "description": "Access token lifetime; default 900."},
    }, ["name", "mission"], additional=False),
    "StoredMission": obj({
        "agent_id": {"type": "string", "description": "`*`: any agent."}, "mission": S, "allowed_tools": STRINGS,
        "forbidden_tools": STRINGS, "resource_scope": STRINGS, "max_tool_calls": I, "max_duration_s": I, "delegation_allowed": B,
        "max_delegation_depth": I, "tools": ANY_OBJECT},
        ["agent_id", "mission", "allowed_tools", "forbidden_tools", "resource_scope", "delegation_allowed", "max_delegation_depth"],
        "A mission as stored (absent `max_tool_calls` / `max_duration_s`: unlimited)."),
    "MissionTemplate": obj({"name": S, "description": S, "mission": ref("StoredMission"), "resources": STRINGS, "ttl_s": I,
                            "workspace": S, "created_at": TIME},
                           ["name", "mission", "ttl_s", "workspace"],
                           "A mission template: one OAuth scope. Absent `resources`: offered on every gateway resource."),
    "MissionTemplateList": obj({"templates": {"type": "array", "items": ref("MissionTemplate")}}, ["templates"]),
    # MCP gateway
    "ResourceMetadata": obj({
        "resource": {"type": "string", "description": "The endpoint's canonical URI (RFC 8707), `ISSUER/mcp/NAME`."},
        "authorization_servers": STRINGS, "bearer_methods_supported": STRINGS, "dpop_signing_alg_values_supported": STRINGS,
        "resource_name": S, "resource_documentation": S,
        "scopes_supported": {"type": "array", "items": S, "description": "The mission templates offered on this resource (the OAuth scopes to ask for)."}},
        ["resource", "authorization_servers", "bearer_methods_supported", "dpop_signing_alg_values_supported", "resource_name",
         "resource_documentation"], "RFC 9728 protected-resource metadata."),
    "InsufficientScope": obj({"error": {"type": "string", "const": "insufficient_scope"},
                              "scope": {"type": "string", "description": "Granted ∪ needed scopes, space separated: what to ask for."},
                              "reason": S}, ["error", "scope"],
                             "Step-up (RFC 6750 §3.1, MCP scope challenge): the call was denied, and these mission templates "
                             "offered on this resource would permit it."),
}


# -- Paths --------------------------------------------------------------------------------------------

DID_PATTERN = "did:key:z6Mk[1-9A-HJ-NP-Za-km-z]{44}|did:web:[a-z0-9-][a-z0-9.-]{0,62}(%3A[0-9]{1,5})?(:[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}){0,4}"
AGENT = path_param("id", "The agent's id (`agt_…`) or its URL-encoded DID (`did%3Akey%3Az6Mk…`).",
                   "^(agt_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|" + DID_PATTERN + ")$")
DID = path_param("did", "The agent's URL-encoded DID (or its id, `agt_…`).",
                 "^(agt_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|" + DID_PATTERN + ")$")
PROOF_REPLAYED = ("`{\"error\":\"proof_replayed\"}`: this passport proof was already used (on any node); a proof is single use, "
                  "so send a fresh one.")
PROOF_NOTES = {409: PROOF_REPLAYED + " Also `passport_already_used`: the passport's one session was started already."}
DENY_RATE_NOTES = {429: "`{\"error\":\"deny_rate_exceeded\"}`: this session's DENYs this minute weigh 20,000,000 steps (a DENY "
                        "weighs the constraint work its call could cost, a `constraint_too_costly` one 1,000,000); its calls are not "
                        "evaluated until the window turns."}
AUTHZEN_SECURITY = [{"apiKey": []}, {"loginJWT": []}]
AUTHZEN_REQUEST_ID = {"name": "X-Request-ID", "in": "header", "required": False,
                      "schema": {"type": "string", "minLength": 1, "maxLength": 256},
                      "description": "The PEP's request id, echoed in the answer (AuthZEN \"Request Identification\")."}
AUTHZEN_ID_HEADER = {"X-Request-Id": {"schema": S, "description": "The PEP's X-Request-ID when it sent one, else the server's."}}
AUTHZEN_NOTES = {404: "`unknown_subject`: no such session or passport session, or one outside the workspaces where the caller holds "
                      "decisions:evaluate (the same answer).",
                 409: "`conflict`: this `context.request_id` was already used for a different call on this session.",
                 429: "`deny_rate_exceeded`: as /evaluate."}
paths = {
    "/health": {"get": op("Liveness and store health", "operations", {
        "200": json_response("The server and its store answer.", ref("Health")),
        "503": json_response("The store does not answer.", ref("Health"))}, security=ANON, operation_id="health")},
    "/metrics": {"get": op("Prometheus metrics", "operations", {
        "200": {"description": "Prometheus text exposition.", "content": {"text/plain": {"schema": S}}}},
        errors=[401, 403], security=PRINCIPAL, operation_id="metrics")},
    "/.well-known/jwks.json": {"get": op("The server's signing keys", "operations", {
        "200": json_response("Active key and retired keys within their grace period.", ref("JWKSet"))},
        security=ANON, operation_id="jwks")},
    "/openapi.json": {"get": op("This document", "operations", {
        "200": json_response("OpenAPI 3.1.", ANY_OBJECT)}, security=ANON, operation_id="openapi")},
    # IAM
    "/api/v1/iam": {"post": op("Every IAM operation (TrustGraph-compatible)", "iam", {
        "200": json_response("The operation's result.", ref("IAMResponse"))}, errors=[400, 401, 403, 404, 409, 413, 422, 429, 503],
        request=body(ref("IAMRequest"), example={"operation": "whoami"}), security=PRINCIPAL, operation_id="iam")},
    "/api/v1/auth/bootstrap": {"post": op("Create the first admin (once, on an empty store)", "iam", {
        "200": json_response("The admin's id and API key (shown once).", ref("IAMResponse"))}, errors=[400, 401, 409, 413, 503],
        request=body(ref("Empty"), example={}), security=ANON, operation_id="bootstrap")},
    "/api/v1/auth/bootstrap-status": {"post": op("Whether bootstrap is still available", "iam", {
        "200": json_response("`bootstrap_available`.", ref("IAMResponse"))}, errors=[400, 413, 503],
        request=body(ref("Empty"), example={}), security=ANON, operation_id="bootstrapStatus")},
    "/api/v1/auth/login": {"post": op("Log in: a login JWT", "iam", {
        "200": json_response("`jwt` and `jwt_expires`.", ref("IAMResponse"))}, errors=[400, 401, 413, 429, 503],
        request=body(ref("LoginRequest")), security=ANON, operation_id="login")},
    "/api/v1/auth/change-password": {"post": op("Change the caller's password", "iam", {
        "200": json_response("Done.", ref("IAMResponse"))}, errors=[400, 401, 403, 413, 429, 503],
        request=body(ref("ChangePasswordRequest")), security=PRINCIPAL, operation_id="changePassword")},
    # Registry
    "/v1/agents": {
        "post": op("Register an agent (its public key)", "agents", {"201": json_response("The agent.", ref("Agent"))},
                   errors=[400, 401, 403, 404, 409, 413, 503], request=body(ref("RegisterAgentRequest")), security=PRINCIPAL,
                   operation_id="registerAgent"),
        "get": op("List agents of a workspace", "agents", {"200": json_response("The agents.", ref("AgentList"))},
                  errors=[400, 401, 403, 503], security=PRINCIPAL, operation_id="listAgents",
                  parameters=[{"name": "workspace", "in": "query", "required": False, "schema": S,
                               "description": "Default (also when empty): the caller's workspace."}]),
    },
    "/v1/agents/{id}": {
        "get": op("An agent", "agents", {"200": json_response("The agent.", ref("Agent"))}, errors=[400, 401, 403, 404, 503],
                  security=PRINCIPAL, parameters=[AGENT], operation_id="getAgent"),
        "patch": op("Rename, re-domain, enable or disable an agent", "agents", {"200": json_response("The agent.", ref("Agent"))},
                    errors=[400, 401, 403, 404, 413, 503], request=body(ref("UpdateAgentRequest")), security=PRINCIPAL,
                    parameters=[AGENT], operation_id="updateAgent"),
    },
    "/v1/agents/{id}/disable": {"post": op("Disable an agent (its badges become SUSPENDED)", "agents", {
        "200": json_response("The agent.", ref("Agent"))}, errors=[400, 401, 403, 404, 413, 503],
        request=body(ref("DisableAgentRequest"), required=False), security=PRINCIPAL, parameters=[AGENT], operation_id="disableAgent")},
    "/v1/agents/{did}/status": {"get": op("RFC-002 §7.5 agent status", "badges", {
        "200": json_response("`active` or `disabled`.", ref("AgentStatusResponse"))}, errors=[400, 404, 503], security=ANON,
        parameters=[DID], operation_id="agentStatus")},
    "/v1/agents/{did}/badge": {"post": op("Issue a badge: IAL-0 (credential) or IAL-1 (RFC-003 proof)", "badges", {
        "200": json_response("The badge.", ref("IssuedBadge"))}, errors=[400, 401, 403, 404, 409, 413, 429, 503],
        request=body(ref("IssueBadgeRequest"), example={"mode": "ial0", "ttl": 300, "badge_aud": ["https://api.example.com"]}),
        security=[{}, {"registryKey": []}, {"apiKey": []}], parameters=[DID], operation_id="issueBadge")},
    "/v1/agents/{did}/badge/challenge": {"post": op("RFC-003 phase 1: a proof-of-possession challenge", "badges", {
        "200": json_response("The challenge.", ref("PoPChallenge"))}, errors=[400, 401, 403, 404, 413, 429, 503],
        request=body(ref("ChallengeRequest"), example={"badge_ttl": 300, "challenge_ttl": 300}),
        security=[{"registryKey": []}, {"apiKey": []}, {"badge": []}, {"capiscioBadge": []}], parameters=[DID],
        operation_id="badgeChallenge")},
    "/v1/agents/{did}/badge/pop": {"post": op("RFC-003 phase 2 under Tessera's earlier route (alias)", "badges", {
        "200": json_response("The badge.", ref("IssuedBadge"))}, errors=[400, 403, 404, 413, 429, 503],
        request=body(ref("LegacyPoPRequest")), security=ANON, parameters=[DID], operation_id="legacyPoP", )},
    "/v1/badges/{jti}/revoke": {"post": op("Revoke a badge", "badges", {"200": json_response("Revoked.", ref("RevokedBadge"))},
        errors=[400, 401, 403, 404, 413, 503], request=body(ref("RevokeBadgeRequest"), required=False), security=PRINCIPAL,
        parameters=[path_param("jti", "The badge's jti.")], operation_id="revokeBadge")},
    "/v1/badges/{jti}/status": {"get": op("RFC-002 §12.2 badge status", "badges", {
        "200": json_response("The badge's status.", ref("BadgeStatus"))}, errors=[404, 503], security=ANON,
        parameters=[path_param("jti", "The badge's jti.")], operation_id="badgeStatus")},
    "/v1/badges/status": {"get": op("Status list 0 as JSON (Tessera's earlier route)", "badges", {
        "200": json_response("The signed list, its TTL and URI.", ref("LegacyStatusList"))}, errors=[404, 503], security=ANON,
        operation_id="legacyStatusList")},
    "/v1/status-lists/{list}": {"get": op("An IETF Token Status List", "badges", {
        "200": {"description": "The status list token (`typ` `statuslist+jwt`).", "content": {"application/statuslist+jwt": {"schema": S}},
                "headers": {"Cache-Control": {"schema": S, "description": "public, max-age=<ttl>"}}}}, errors=[404, 503],
        security=ANON, parameters=[{"name": "list", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 0},
                                    "description": "The list number."}], operation_id="statusList")},
    "/agents/{slug}/did.json": {"get": op("The DID document of a did:web agent this registry hosts", "badges", {
        "200": {"description": "The DID document.", "content": {"application/did+json": {"schema": ref("DIDDocument")}}}},
        errors=[404, 503], security=ANON, parameters=[path_param("slug", "The last path segment of the did:web.")],
        operation_id="didDocument")},
    # Governance
    "/issue": {"post": op("Issue a mission passport", "governance", {"200": json_response("The passport.", ref("IssueResponse"))},
        errors=[400, 401, 403, 413, 503], request=body({"oneOf": [ref("IssueRequest"), ref("AATIssueRequest")]}, example={"mission": {
            "agent_id": "agent-1", "mission": "summarise reports", "allowed_tools": ["read_file"], "max_tool_calls": 10}}),
        security=PRINCIPAL, operation_id="issuePassport")},
    "/verify": {"post": op("Verify a passport", "governance", {"200": json_response("Valid.", ref("VerifyResponse"))},
        errors=[400, 401, 403, 413, 503], request=body(ref("TokenRequest")), security=ANON, operation_id="verifyPassport",
        description="The passport in the body is the credential.")},
    "/session/start": {"post": op("Start the passport's session", "governance", {
        "200": json_response("The session.", ref("StartResponse"))}, errors=[400, 401, 403, 409, 413, 503],
        request=body(ref("StartRequest")), security=ANON, operation_id="startSession",
        description="The passport in the body (`token`) is the credential.", notes=PROOF_NOTES)},
    "/sessions": {"post": op("Start the passport's session (seed alias)", "governance", {
        "200": json_response("The session.", ref("StartResponse"))}, errors=[400, 401, 403, 409, 413, 503],
        request=body(ref("StartRequest")), security=ANON, operation_id="startSessionAlias",
        description="The passport in the body (`token`) is the credential.", notes=PROOF_NOTES)},
    "/evaluate": {"post": op("Evaluate one tool call (PERMIT / DENY / APPROVAL_REQUIRED)", "governance", {
        "200": json_response("The decision, with its receipt.", ref("EvaluationResult"))}, errors=[400, 403, 404, 409, 413, 429, 503],
        request=body(ref("EvaluateRequest")), security=ANON, operation_id="evaluate",
        description="The session id in the body is the credential.", notes=DENY_RATE_NOTES)},
    "/delegate": {"post": op("Delegate a narrower child passport, reserving its budget", "governance", {
        "200": json_response("The child passport.", ref("DelegationResult"))}, errors=[400, 401, 403, 404, 409, 413, 503],
        request=body(ref("DelegateRequest")), security=ANON, operation_id="delegate",
        description="The parent passport in the body (`parent_token`, with `proof` for a key-bound one) is the credential.",
        notes={409: PROOF_REPLAYED + " Also a `delegation_request_id` already used for a different request."})},
    "/session/end": {"post": op("End a session: the signed attestation", "governance", {
        "200": json_response("The attestation.", ref("EndResult"))}, errors=[400, 404, 409, 413, 503],
        request=body(ref("EndRequest")), security=ANON, operation_id="endSession",
        description="The session id in the body is the credential.")},
    "/end": {"post": op("End a session (seed alias)", "governance", {"200": json_response("The attestation.", ref("EndResult"))},
        errors=[400, 404, 409, 413, 503], request=body(ref("SessionRequest")), security=ANON, operation_id="endSessionAlias",
        description="The session id in the body is the credential.")},
    "/attest": {"post": op("The attestation of an ended session", "governance", {
        "200": json_response("The attestation.", ref("EndResult"))}, errors=[400, 404, 409, 413, 503],
        request=body(ref("SessionRequest")), security=ANON, operation_id="attest",
        description="The session id in the body is the credential.")},
    "/revoke": {"post": op("Revoke a passport (and its delegation lineage)", "governance", {
        "200": json_response("Revoked.", ref("Revoked"))}, errors=[400, 401, 403, 404, 413, 503], request=body(ref("RevokeRequest")),
        security=PRINCIPAL, operation_id="revokePassport")},
    "/approvals": {"get": op("Pending approvals the caller may decide", "governance", {
        "200": json_response("The approvals.", ref("ApprovalList"))}, errors=[401, 403, 503], security=PRINCIPAL,
        operation_id="listApprovals")},
    "/approvals/{id}/grant": {"post": op("Grant an approval", "governance", {"200": json_response("The approval.", ref("Approval"))},
        errors=[400, 401, 403, 404, 409, 503], security=PRINCIPAL, parameters=[path_param("id", "The approval id.")],
        operation_id="grantApproval")},
    "/approvals/{id}/deny": {"post": op("Deny an approval", "governance", {"200": json_response("The approval.", ref("Approval"))},
        errors=[400, 401, 403, 404, 409, 503], security=PRINCIPAL, parameters=[path_param("id", "The approval id.")],
        operation_id="denyApproval")},
    "/receipts": {"get": op("A session's receipt chain (NDJSON of {\"jwt\":…})", "governance", {
        "200": {"description": "One receipt per line.", "content": {"application/x-ndjson": {"schema": S}}}},
        errors=[400, 401, 403, 404, 503], security=PRINCIPAL,
        parameters=[query_param("session_id", "The session (or give `jti` instead).", required=True),
                    query_param("jti", "The passport's jti, instead of session_id.")], operation_id="receipts")},
    # Operator console
    "/console": {"get": op("The operator console (HTML; strict CSP, not frameable)", "console", {
        "200": {"description": "The console's page.", "content": {"text/html": {"schema": S}}},
        "304": {"description": "Unchanged (`If-None-Match`)."}}, security=ANON, operation_id="console")},
    "/console/assets/{name}": {"get": op("A console file (JavaScript module, stylesheet)", "console", {
        "200": {"description": "The file.", "content": {"text/javascript": {"schema": S}, "text/css": {"schema": S}}},
        "304": {"description": "Unchanged (`If-None-Match`)."}}, errors=[404], security=ANON,
        parameters=[path_param("name", "The file's name.")], operation_id="consoleAsset")},
    "/api/v1/console/overview": {"get": op("Counts, decision rates and signing-key age of the caller's workspace", "console", {
        "200": json_response("The overview.", ref("ConsoleOverview"))}, errors=[401, 403, 503], security=PRINCIPAL,
        operation_id="consoleOverview")},
    "/api/v1/console/agents": {"get": op("The workspace's agents with their latest badge", "console", {
        "200": json_response("The agents.", ref("ConsoleAgentList"))}, errors=[401, 403, 503], security=PRINCIPAL,
        operation_id="consoleAgents")},
    "/api/v1/console/sessions": {"get": op("The workspace's sessions (budget, time, delegation lineage)", "console", {
        "200": json_response("The sessions.", ref("ConsoleSessionList"))}, errors=[401, 403, 503], security=PRINCIPAL,
        operation_id="consoleSessions")},
    "/api/v1/console/decisions": {"get": op("Live decision feed (server-sent events)", "console", {
        "200": {"description": "`text/event-stream`: `decisions` events (data: a DecisionBatch), comment heartbeats, and an "
                               "`end` event when the server shuts down or the credential stops being valid.",
                "content": {"text/event-stream": {"schema": S}}}}, errors=[400, 401, 403, 429, 503], security=PRINCIPAL,
        parameters=[query_param("agent", "Only this agent id."), query_param("session", "Only this passport jti (and its children)."),
                    {"name": "outcome", "in": "query", "required": False,
                     "schema": {"type": "string", "enum": ["PERMIT", "DENY", "APPROVAL_REQUIRED"]}, "description": "Only this outcome."}],
        operation_id="consoleDecisions",
        description="A batch every 150 ms with what matched since the last: at most 100 decisions (the newest), the rest counted in "
                    "`dropped` (`counts` covers every matching decision); the first batch also holds the workspace's latest 50 "
                    "matching decisions (not counted). A slow or dead reader never slows /evaluate.")},
    # OpenID AuthZEN Authorization API 1.0
    "/.well-known/authzen-configuration": {"get": op("AuthZEN Policy Decision Point metadata", "authzen", {
        "200": json_response("The PDP's identifier (the server's public origin) and its two evaluation endpoints.", ref("AuthZENMetadata"))},
        security=ANON, operation_id="authzenConfiguration")},
    "/access/v1/evaluation": {"post": op("AuthZEN Access Evaluation: one tool call, decided as /evaluate decides it", "authzen", {
        "200": json_response("The Decision (`true` only for PERMIT), with the receipt and budget in `context`.", ref("AuthZENDecision"),
                             headers=AUTHZEN_ID_HEADER)},
        errors=[400, 401, 403, 404, 409, 413, 429, 503], request=body(ref("AuthZENEvaluationRequest")), security=AUTHZEN_SECURITY,
        parameters=[AUTHZEN_REQUEST_ID], operation_id="authzenEvaluation", notes=AUTHZEN_NOTES,
        description="Needs `decisions:evaluate` in the subject's workspace. Errors are `{\"error\":\"code\",\"message\"}`.")},
    "/access/v1/evaluations": {"post": op("AuthZEN Access Evaluations: up to 1,000 tool calls in order, with a semantic", "authzen", {
        "200": json_response("One Decision per evaluated item (or one Decision when the request has no items); an item that could "
                             "not be evaluated is `false` with `context.error`.",
                             {"anyOf": [ref("AuthZENEvaluationsResponse"), ref("AuthZENDecision")]}, headers=AUTHZEN_ID_HEADER)},
        errors=[400, 401, 403, 404, 409, 413, 429, 503], request=body(ref("AuthZENEvaluationsRequest")), security=AUTHZEN_SECURITY,
        parameters=[AUTHZEN_REQUEST_ID], operation_id="authzenEvaluations", notes=AUTHZEN_NOTES,
        description="Needs `decisions:evaluate`. Every item is checked before any is evaluated. 404/409/429 only without items "
                    "(a single evaluation); with items they are per-item errors.")},
    # MCP gateway (present when upstreams are configured)
    "/mcp/{name}": {m: op(f"MCP streamable HTTP, {m.upper()}, relayed to upstream `name` after governance", "mcp", {
        "200": {"description": "The upstream's answer (JSON-RPC, or an event stream).",
                "content": {"application/json": {"schema": ANY_OBJECT}, "text/event-stream": {"schema": S}}},
        "202": {"description": "Accepted (notifications)."}}, errors=[400, 401, 403, 404, 405, 413, 502, 503],
        request=body(ANY_OBJECT) if m == "post" else None, security=[{"passport": []}],
        parameters=[path_param("name", "The configured upstream.")], operation_id=f"mcp{m.capitalize()}")
        for m in ("post", "get", "delete")},
    "/.well-known/oauth-protected-resource/mcp/{name}": {"get": op("RFC 9728 protected-resource metadata of an MCP endpoint", "mcp", {
        "200": json_response("The metadata.", ANY_OBJECT)}, errors=[404], security=ANON,
        parameters=[path_param("name", "The configured upstream.")], operation_id="mcpResourceMetadata")},
}

# OAuth 2.1 authorization server. Its own endpoints answer in the RFCs' shapes (form-encoded
# requests, OAuthError bodies, never cached); the management routes in the server's usual ones.
NO_STORE = {"Cache-Control": {"schema": S, "description": "`no-store`."}, "Pragma": {"schema": S, "description": "`no-cache`."}}
PAGE_HEADERS = {
    "Content-Security-Policy": {"schema": S, "description": "default-src 'none'; a per-response style nonce; form-action 'self' "
                                                            "(and the client's redirect origin on the consent page); frame-ancestors 'none'."},
    "X-Frame-Options": {"schema": S, "description": "`DENY`."},
    "Cache-Control": {"schema": S, "description": "`no-store`."},
    "Referrer-Policy": {"schema": S, "description": "`no-referrer`."},
}
REDIRECT_303 = {"description": "The authorization response (RFC 6749 §4.1.2, RFC 9207): to the registered redirect_uri with "
                               "`code`, `state` and `iss`, or with `error` (invalid_request, unsupported_response_type, "
                               "invalid_scope, invalid_target, access_denied), `error_description`, `state` and `iss`.",
                "headers": {"Location": {"schema": S, "required": True, "description": "redirect_uri?code=…&state=…&iss=ISSUER"},
                            "Cache-Control": {"schema": S, "description": "`no-store`."},
                            "Referrer-Policy": {"schema": S, "description": "`no-referrer`."}}}
OAUTH_STATUS = {
    400: "An OAuth error (`error` says which; RFC 6749 §5.2).",
    401: "`invalid_client`: client authentication failed (unknown client, wrong secret, a bad or replayed assertion, an "
         "Authorization header that is not HTTP Basic).",
    429: "`slow_down`: too many registrations from this address (20 an hour); the description says when to retry.",
    503: "`temporarily_unavailable`: the store does not answer; retry.",
}


def oauth_error(code, note=None, headers=None):
    response = {"description": OAUTH_STATUS[code] + (" " + note if note else ""),
                "content": {"application/json": {"schema": ref("OAuthError")}}, "headers": dict(NO_STORE)}
    if headers:
        response["headers"] |= headers
    return response


def html(description, headers=None):
    response = {"description": description, "content": {"text/html": {"schema": S}}}
    response["headers"] = dict(PAGE_HEADERS) | (headers or {})
    return response


def form(schema):
    return {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": schema}}}


def oauth_query(name, description, required=False, schema=None):
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string", "maxLength": 8192}}


FORM_413 = "Only for a declared Content-Length over 1 MiB; a form body over 16 KiB is a 400 `invalid_request`."
WWW_401 = {"WWW-Authenticate": {"schema": S, "description": "`Basic realm=\"tessera\"` when the client sent HTTP Basic, else "
                                                            "`Bearer realm=\"tessera\"`."}}
WWW_DPOP = {"WWW-Authenticate": {"schema": S, "description": "`DPoP algs=\"EdDSA\", error=\"invalid_dpop_proof\"` on that error."}}
CLIENT_AUTH = [{}, {"oauthClientBasic": []}]
paths |= {
    "/.well-known/oauth-authorization-server": {"get": op("RFC 8414 authorization server metadata", "oauth", {
        "200": json_response("The metadata.", ref("OAuthServerMetadata"),
                             headers={"Cache-Control": {"schema": S, "description": "`max-age=60`."}})},
        errors=[503], security=ANON, operation_id="oauthServerMetadata")},
    "/oauth/authorize": {
        "get": op("Authorization endpoint: validate the request, then the sign-in page (HTML)", "oauth", {
            "200": html("The sign-in page: a form posting `username`, `password` and the hidden `request` and `csrf_token` to "
                        "POST /oauth/authorize.",
                        {"Set-Cookie": {"schema": S, "description": "`tessera_oauth_<12 characters naming the request>=…; Path=/oauth; "
                                                                     "HttpOnly; SameSite=Lax; Max-Age=600` (and `Secure` on an https origin)."}}),
            "303": REDIRECT_303,
            "400": html("An error page, never a redirect: client_id missing or unknown (or its metadata document unusable), "
                        "redirect_uri not registered for it (or missing when it has several), state over 1024 bytes, a "
                        "malformed query string."),
            "429": html("An error page: more than 120 valid authorization requests from this address in a minute.")},
            errors=[503], security=ANON, operation_id="oauthAuthorize",
            description="OAuth 2.1 §4.1.1 with PKCE (S256 only) and RFC 8707 `resource`. Once the client and redirect_uri "
                        "are known good, every other error is a 303 to the redirect_uri.",
            parameters=[
                oauth_query("response_type", "`code`.", True, {"type": "string", "enum": ["code"]}),
                oauth_query("client_id", "A registered client id, or the https URL of a Client ID Metadata Document.", True,
                            {"type": "string", "minLength": 1, "maxLength": 2048}),
                oauth_query("redirect_uri", "One of the client's registered redirect URIs (optional when it has exactly one).",
                            schema={"type": "string", "maxLength": 2048}),
                oauth_query("state", "Returned unchanged in the authorization response; at most 1024 bytes.",
                            schema={"type": "string", "maxLength": 1024}),
                oauth_query("code_challenge", "PKCE: base64url SHA-256 of the verifier.", True,
                            {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}),
                oauth_query("code_challenge_method", "`S256`.", True, {"type": "string", "enum": ["S256"]}),
                oauth_query("scope", "Space-separated mission template names offered on the resource, and `offline_access` for a "
                                     "refresh token; absent: every template offered there.",
                            schema={"type": "string", "maxLength": 2048}),
                oauth_query("resource", "The MCP endpoint, `ISSUER/mcp/NAME` (RFC 8707).", True,
                            {"type": "string", "minLength": 1, "maxLength": 8192}),
            ]),
        "post": op("Authorization endpoint: sign in, then approve or deny (HTML form posts)", "oauth", {
            "200": html("After a sign-in: the consent page (client, redirect origin, resource, each scope's tools, constraints, "
                        "budget and lifetime) with `decision` approve / deny buttons; or the sign-in page again when "
                        "username or password is missing."),
            "303": REDIRECT_303,
            "400": html("An error page: the request is unknown or expired (10 minutes), a decision before sign-in, a decision "
                        "other than approve/deny, a body that is not a valid form."),
            "401": html("The sign-in page again: wrong username or password, or too many attempts."),
            "403": html("An error page: the request's `tessera_oauth_…` cookie (set by GET /oauth/authorize, named after the "
                        "request) or `csrf_token` does not match the request (CSRF check).")},
            errors=[413, 503], request=form(ref("OAuthAuthorizeForm")), security=ANON, operation_id="oauthAuthorizeForm",
            notes={413: FORM_413})},
    "/oauth/token": {"post": op("Token endpoint: a passport for a code, refresh token, agent assertion or badge", "oauth", {
        "200": json_response("The token. A `DPoP` proof on the request binds it (`cnf.jkt`; token_type DPoP).",
                             ref("OAuthTokenResponse"), headers=NO_STORE),
        "400": oauth_error(400, "invalid_request, invalid_grant (unknown, expired, reused or another client's code or "
                                "refresh token; a reused one revokes its grant), unauthorized_client, unsupported_grant_type, "
                                "invalid_scope, invalid_target, invalid_dpop_proof.", WWW_DPOP),
        "401": oauth_error(401, headers=WWW_401),
        "503": oauth_error(503)},
        errors=[413], request=form(ref("OAuthTokenRequest")), security=CLIENT_AUTH, operation_id="oauthToken",
        parameters=[{"name": "DPoP", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 8192},
                     "description": "An RFC 9449 proof for POST on the token endpoint, signed by an Ed25519 key; required "
                                    "for token exchange (by the badge's key)."}],
        description="Form-encoded (RFC 6749 §3.2). Anonymous to IAM: a client authenticates itself (HTTP Basic, "
                    "client_secret_post, private_key_jwt) or, if public, names its client_id.", notes={413: FORM_413})},
    "/oauth/register": {"post": op("Dynamic client registration (RFC 7591)", "oauth", {
        "201": json_response("The client: `client_id`, and `client_secret` (shown once) unless it is public.", ref("OAuthClient"),
                             headers=NO_STORE) | {"links": {"DeleteClient": {
                                 "operationId": "deleteOauthClient", "parameters": {"client_id": "$response.body#/client_id"}}}},
        "400": oauth_error(400, "invalid_redirect_uri or invalid_client_metadata (also a body that is not a JSON object)."),
        "429": oauth_error(429), "503": oauth_error(503)},
        errors=[413], request=body(ref("OAuthClientRegistration"), example={
            "redirect_uris": ["http://127.0.0.1:33418/callback"], "client_name": "Example MCP client",
            "token_endpoint_auth_method": "none"}),
        security=ANON, operation_id="oauthRegister",
        notes={413: "Only for a declared Content-Length over 1 MiB; other unreadable bodies are a 400 invalid_client_metadata."})},
    "/oauth/revoke": {"post": op("Revoke a refresh token (its whole grant) or an access token (RFC 7009)", "oauth", {
        "200": {"description": "Revoked, or nothing to do: an unknown token, or another client's, is answered the same.",
                "headers": NO_STORE},
        "400": oauth_error(400, "invalid_request: no token, several client authentication methods, a malformed form."),
        "401": oauth_error(401, headers=WWW_401), "503": oauth_error(503)},
        errors=[413], request=form(ref("OAuthRevokeRequest")), security=CLIENT_AUTH, operation_id="oauthRevoke",
        notes={413: FORM_413})},
    "/oauth/introspect": {"post": op("Token introspection for resource servers (RFC 7662)", "oauth", {
        "200": json_response("The token's state and claims.", ref("OAuthIntrospection"), headers=NO_STORE),
        "400": oauth_error(400, "invalid_request: no token, a malformed form.")},
        errors=[401, 403, 413], request=form(ref("OAuthIntrospectRequest")), security=PRINCIPAL, operation_id="oauthIntrospect",
        description="Needs `tokens:introspect`: a token of a workspace where the caller lacks it is inactive.",
        notes={413: FORM_413})},
    "/oauth/clients": {"get": op("Registered OAuth clients", "oauth", {
        "200": json_response("The clients (without secrets).", ref("OAuthClientList"))}, errors=[401, 403, 503],
        security=PRINCIPAL, operation_id="listOauthClients", description="Needs `oauth:read` (clients belong to no workspace).")},
    "/oauth/clients/{client_id}": {"delete": op("Delete a registered client, ending its grants and their passports", "oauth", {
        "204": {"description": "Deleted."}}, errors=[401, 403, 404, 503], security=PRINCIPAL,
        parameters=[path_param("client_id", "The client id (`tc_…`).")], operation_id="deleteOauthClient",
        description="Needs `oauth:write`.")},
    "/oauth/grants": {"get": op("OAuth grants: the caller's own, or every grant of the workspace with oauth:read", "oauth", {
        "200": json_response("The grants.", ref("OAuthGrantList"))}, errors=[401, 503], security=PRINCIPAL,
        operation_id="listOauthGrants")},
    "/oauth/grants/{id}": {"delete": op("Revoke a grant: its refresh tokens and passports", "oauth", {
        "204": {"description": "Revoked."}}, errors=[401, 404, 503], security=PRINCIPAL,
        parameters=[path_param("id", "The grant id (`grant_…`).")], operation_id="revokeOauthGrant",
        description="The person it belongs to, or a holder of `oauth:write` in its workspace; anyone else gets 404.")},
    "/mission-templates": {
        "post": op("Create a mission template (an OAuth scope)", "oauth", {
            "201": json_response("The template.", ref("MissionTemplate"))}, errors=[400, 401, 403, 409, 413, 503],
            request=body(ref("MissionTemplateRequest"), example={
                "name": "time.read", "description": "Read the time", "mission": {"allowed_tools": ["get_time"], "max_tool_calls": 100},
                "ttl_s": 900}),
            security=PRINCIPAL, operation_id="createMissionTemplate", description="Needs `oauth:write` in the caller's workspace.",
            notes={409: "A template of that name exists (names are unique across workspaces)."}),
        "get": op("The workspace's mission templates", "oauth", {
            "200": json_response("The templates, by name.", ref("MissionTemplateList"))}, errors=[401, 403, 503],
            security=PRINCIPAL, operation_id="listMissionTemplates", description="Needs `oauth:read` in the caller's workspace."),
    },
    "/mission-templates/{name}": {
        "get": op("A mission template", "oauth", {"200": json_response("The template.", ref("MissionTemplate"))},
                  errors=[401, 403, 404, 503], security=PRINCIPAL,
                  parameters=[path_param("name", "The template's name.", TEMPLATE_NAME)], operation_id="getMissionTemplate",
                  description="Needs `oauth:read` in the template's workspace."),
        "delete": op("Delete a mission template", "oauth", {"204": {"description": "Deleted."}}, errors=[401, 403, 404, 503],
                     security=PRINCIPAL, parameters=[path_param("name", "The template's name.", TEMPLATE_NAME)],
                     operation_id="deleteMissionTemplate",
                     description="Needs `oauth:write` in the template's workspace. Tokens already issued keep their mission."),
    },
}
# The gateway's step-up answer (only a tools/call, so only POST) and its resource metadata.
paths["/mcp/{name}"]["post"]["responses"]["403"] = {
    "description": ERROR_DESCRIPTIONS[403] + " Also step-up: `insufficient_scope` when the call was denied and mission "
                                             "templates offered here (not yet granted) would permit it.",
    "content": {"application/json": {"schema": {"anyOf": [ref("Error"), ref("InsufficientScope")]}}},
    "headers": {"WWW-Authenticate": {"schema": S, "description": "On step-up: `Bearer error=\"insufficient_scope\", scope=\"…\", "
                                                                 "resource_metadata=\"…\", error_description=\"…\"`."}}}
for _method in paths["/mcp/{name}"].values():
    _method["security"] = [{"passport": []}, {"oauth2": []}]
paths["/.well-known/oauth-protected-resource/mcp/{name}"]["get"]["responses"]["200"] = json_response(
    "The metadata, with the scopes offered here.", ref("ResourceMetadata"))
paths["/.well-known/oauth-protected-resource/mcp/{name}"]["get"]["responses"]["503"] = error_response(503)

document = {
    "openapi": "3.1.0",
    "info": {
        "title": "Tessera",
        "version": VERSION,
        "description": "Identity, authentication and authorization for AI agents: IAM (TrustGraph-compatible), the agent "
                       "registry and trust badges (CapiscIO RFC-002/RFC-003, IETF Token Status List), mission governance "
                       "(passports, sessions, evaluation, delegation, receipts), the MCP gateway and its OAuth 2.1 "
                       "authorization server (mission templates as scopes). Generated by "
                       "scripts/openapi/generate.py; served at GET /openapi.json.",
        "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
    },
    "servers": [{"url": "http://127.0.0.1:8787", "description": "`tessera serve` defaults"}],
    "tags": [{"name": n} for n in ("operations", "iam", "agents", "badges", "governance", "authzen", "mcp", "oauth", "console")],
    "paths": paths,
    "components": {
        "schemas": schemas,
        "securitySchemes": {
            "apiKey": {"type": "http", "scheme": "bearer", "description": "An API key (`tsk_…`): `Authorization: Bearer tsk_…`."},
            "loginJWT": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "A login JWT from /api/v1/auth/login."},
            "registryKey": {"type": "apiKey", "in": "header", "name": "X-Capiscio-Registry-Key",
                            "description": "An API key in CapiscIO's header (RFC-003 §3.1)."},
            "badge": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "An RFC-002 trust badge."},
            "capiscioBadge": {"type": "apiKey", "in": "header", "name": "X-Capiscio-Badge", "description": "An RFC-002 trust badge."},
            "passport": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                         "description": "A mission passport, as the MCP gateway takes it. (Governance routes take it in the body: "
                                        "`token`, `parent_token`; session routes take the session id in the body.)"},
            "oauth2": {"type": "oauth2",
                       "description": "Tessera's OAuth 2.1 authorization server (metadata: /.well-known/oauth-authorization-server). "
                                      "The access token is a mission passport for one MCP endpoint: PKCE (S256) and the RFC 8707 "
                                      "`resource` (`ISSUER/mcp/NAME`) are required. Scopes are the mission templates (their "
                                      "names, listed in the metadata's `scopes_supported`) and `offline_access`.",
                       "flows": {
                           "authorizationCode": {"authorizationUrl": "/oauth/authorize", "tokenUrl": "/oauth/token",
                                                 "refreshUrl": "/oauth/token",
                                                 "scopes": {"offline_access": "A refresh token with the access token."}},
                           "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": {}},
                       }},
            "oauthClientBasic": {"type": "http", "scheme": "basic",
                                 "description": "OAuth client authentication (RFC 6749 §2.3.1): client_id and client_secret, "
                                                "each form-urlencoded, as HTTP Basic credentials."},
        },
    },
}

if __name__ == "__main__":
    text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    for path in (os.path.join(ROOT, "Sources", "TesseraResources", "openapi.json"), os.path.join(ROOT, "docs", "openapi.json")):
        with open(path, "w") as f:
            f.write(text)
    print(f"openapi: {len(paths)} paths, {sum(len(v) for v in paths.values())} operations", file=sys.stderr)
