"""CapiscIO interop, end to end, against a live `tessera serve`:

- the RFC-003 flow driven with plain HTTP exactly as the RFC's examples show (headers, bodies,
  `ch-` ids), the proof built with PyJWT;
- Tessera's badges accepted by an independent RFC-002 verifier (scripts/badges/rfc002.py), and
  every tampered variant refused with the RFC's error code — by that verifier and by
  `tessera badge verify` alike;
- the Token Status List decoded independently (zlib + the draft's bit rule), on the draft's own
  examples and on Tessera's list; a revocation refused by both verifiers on their first try.

Environment: TESSERA_BIN, TESSERA_SERVER, TESSERA_TOKEN (an admin API key), TESSERA_TTL.
"""
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import zlib

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, os.path.dirname(__file__))
import rfc002  # noqa: E402

BIN = os.environ["TESSERA_BIN"]
SERVER = os.environ["TESSERA_SERVER"].rstrip("/")
TOKEN = os.environ["TESSERA_TOKEN"]
TTL = int(os.environ.get("TESSERA_TTL", "2"))
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"badge-e2e: FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"badge-e2e: ok: {what}", file=sys.stderr)


def http(method, path, body=None, headers=None):
    request = urllib.request.Request(SERVER + path, method=method, data=None if body is None else json.dumps(body).encode())
    if body is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), dict(error.headers)


def b64url(data):
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def new_key():
    private = Ed25519PrivateKey.generate()
    raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    did = "did:key:z" + b58encode(b"\xed\x01" + raw)
    return private, raw, did


def b58encode(data):
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = rfc002.B58[r] + out
    return "1" * (len(data) - len(data.lstrip(b"\x00"))) + out


def tessera(*args, stdin=None):
    result = subprocess.run([BIN, *args], capture_output=True, text=True, input=stdin, timeout=60)
    return result.returncode, result.stdout.strip(), result.stderr


# -- The draft's own status-list examples, decoded independently --------------------------------
check([rfc002.status_value("eNrbuRgAAhcBXQ", 1, i) for i in range(16)] == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1],
      "draft example (1 bit) decodes to its statuses")
check([rfc002.status_value("eNo76fITAAPfAgc", 2, i) for i in range(12)] == [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3],
      "draft example (2 bits, with SUSPENDED) decodes to its statuses")

# -- Register two agents ------------------------------------------------------------------------
agents = []
for name in ("alice", "bob"):
    private, raw, did = new_key()
    status, body, _ = http("POST", "/v1/agents", {"name": name, "domain": "agents.example.com",
                                                  "public_jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}},
                           {"Authorization": f"Bearer {TOKEN}"})
    check(status == 201 and json.loads(body)["did"] == did, f"agent {name} registered as {did}")
    agents.append((private, raw, did))
(alice_key, alice_raw, alice), (bob_key, bob_raw, bob) = agents
enc = lambda did: urllib.parse.quote(did, safe="")  # noqa: E731

# -- RFC-003 Appendix A.1, step by step ---------------------------------------------------------
status, body, _ = http("POST", f"/v1/agents/{enc(alice)}/badge/challenge",
                       {"badge_ttl": 300, "challenge_ttl": 300, "badge_aud": ["https://api.example.com"]})
check(status == 401 and json.loads(body)["error"] == "unauthorized", "an anonymous challenge is refused (RFC-003 §3.3)")
status, body, _ = http("POST", f"/v1/agents/{enc(alice)}/badge/challenge",
                       {"badge_ttl": 300, "challenge_ttl": 300, "badge_aud": ["https://api.example.com"]},
                       {"X-Capiscio-Registry-Key": TOKEN})
challenge = json.loads(body)
check(status == 200, f"challenge issued: {body}")
check(challenge["challenge_id"].startswith("ch-") and uuid.UUID(challenge["challenge_id"][3:]), "challenge_id is ch- + UUID")
check(len(rfc002.b64url_decode(challenge["nonce"])) >= 32 and "=" not in challenge["nonce"], "nonce: ≥ 32 bytes of unpadded base64url")
check(challenge["proof_aud"] == SERVER, "proof_aud is the registry origin")
check(challenge["htu"] == f"{SERVER}/v1/agents/{enc(alice)}/badge" and "%3A" in challenge["htu"], "htu: the badge URL, DID colons as %3A")
check(challenge["htm"] == "POST" and challenge["badge_aud"] == ["https://api.example.com"] and challenge["badge_ttl"] == 300,
      "htm, badge_aud and badge_ttl echoed")
check("challenge_expires_at" in challenge, "challenge_expires_at present")

now = int(time.time())
fragment = alice[len("did:key:"):]
proof = jwt.encode(
    {"cid": challenge["challenge_id"], "nonce": challenge["nonce"], "sub": alice, "aud": challenge["proof_aud"],
     "htu": challenge["htu"], "htm": "POST", "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())},
    alice_key, algorithm="EdDSA", headers={"typ": "pop+jwt", "kid": f"{alice}#{fragment}"})
status, body, _ = http("POST", f"/v1/agents/{enc(alice)}/badge",
                       {"mode": "ial1", "challenge_id": challenge["challenge_id"], "proof_jws": proof})
issued = json.loads(body)
check(status == 200, f"IAL-1 badge issued without an API key: {body[:200]}")
data = issued["data"]
check(issued["success"] is True and data["assurance_level"] == "IAL-1" and data["subject"] == alice and data["issuer"] == SERVER,
      "RFC-003 response: success, data.subject, data.issuer, assurance_level IAL-1")
check(data["cnf"]["kid"] == f"{alice}#{fragment}" and data["token"] == issued["badge"], "data.cnf.kid names the proven key; token = badge")
pop_badge = issued["badge"]
status, body, _ = http("POST", f"/v1/agents/{enc(alice)}/badge",
                       {"mode": "ial1", "challenge_id": challenge["challenge_id"], "proof_jws": proof})
check(status == 403 and json.loads(body)["error"] == "challenge_used", "the proof replayed: 403 challenge_used")

# -- RFC-002 Appendix A.1: IAL-0 ------------------------------------------------------------------
status, body, _ = http("POST", f"/v1/agents/{enc(bob)}/badge", {"mode": "ial0", "ttl": 300, "badge_aud": ["https://api.example.com"]},
                       {"X-Capiscio-Registry-Key": TOKEN})
ca = json.loads(body)
check(status == 200 and {"badge", "jti", "expires_at"} <= ca.keys(), "RFC-002 A.2 response: badge, jti, expires_at")
ca_badge = ca["badge"]

# -- The independent verifier accepts both ------------------------------------------------------
verifier = rfc002.Verifier([SERVER], audience="https://api.example.com")
claims = verifier.verify(pop_badge)
check(claims["ial"] == "1" and claims["sub"] == alice and claims["vc"]["credentialSubject"]["level"] == "1"
      and claims["aud"] == ["https://api.example.com"] and claims["pop_challenge_id"] == challenge["challenge_id"],
      "independent verifier accepts the IAL-1 badge (cnf.kid bound through the did:key document)")
claims = verifier.verify(ca_badge)
check(claims["ial"] == "0" and "cnf" not in claims and claims["jti"] == ca["jti"], "independent verifier accepts the IAL-0 badge")

work = tempfile.mkdtemp()


def cli_code(token, *args):
    path = os.path.join(work, f"badge-{uuid.uuid4()}.jwt")
    with open(path, "w") as f:
        f.write(token + "\n")
    code, out, err = tessera("badge", "verify", path, *args)
    return "VALID" if code == 0 else out


def expect_code(token, code, what, verifier_=verifier, cli_args=("--server", SERVER, "--audience", "https://api.example.com")):
    try:
        verifier_.verify(token)
        got = "VALID"
    except rfc002.BadgeError as error:
        got = error.code
    check(got == code, f"{what}: independent verifier says {code} (got {got})")
    got = cli_code(token, *cli_args)
    check(got == code, f"{what}: tessera badge verify says {code} (got {got})")


check(cli_code(pop_badge, "--server", SERVER, "--audience", "https://api.example.com") == "VALID", "tessera badge verify FILE accepts a path")

# -- Tampered variants of Tessera's own badge ----------------------------------------------------
h, p, s = pop_badge.split(".")
payload = json.loads(rfc002.b64url_decode(p))
payload["sub"] = bob
expect_code(f"{h}.{b64url(json.dumps(payload).encode())}.{s}", "BADGE_SIGNATURE_INVALID", "payload altered")
header = json.loads(rfc002.b64url_decode(h))
header["alg"] = "none"
expect_code(f"{b64url(json.dumps(header).encode())}.{p}.{s}", "BADGE_MALFORMED", "alg none")
expect_code(pop_badge, "BADGE_ISSUER_UNTRUSTED", "issuer not allow-listed",
            rfc002.Verifier(["https://registry.other.example"]), ("--server", SERVER, "--issuer", "https://registry.other.example"))
expect_code(pop_badge, "BADGE_AUDIENCE_MISMATCH", "verifier not in aud",
            rfc002.Verifier([SERVER], audience="https://elsewhere.example"), ("--server", SERVER, "--audience", "https://elsewhere.example"))
# RFC-002 §8.3: a badge naming an audience is refused by a verifier that does not say it is one
# of them (it used to pass wherever no --audience was given: service B accepted service A's badge).
expect_code(pop_badge, "BADGE_AUDIENCE_MISMATCH", "aud named, verifier without an audience",
            rfc002.Verifier([SERVER]), ("--server", SERVER))
check(cli_code(ca_badge, "--server", SERVER, "--audience", "https://api.example.com", "--min-ial", "1") == "BADGE_IAL_INSUFFICIENT",
      "tessera badge verify --min-ial 1 refuses IAL-0")

# -- Claim-structure variants (RFC-002 §16.2), signed by a registry key of our own ---------------
registry_key = Ed25519PrivateKey.generate()
registry_raw = registry_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
FAKE = "https://registry.test.example"
fake_jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": b64url(registry_raw), "kid": "ca-1", "alg": "EdDSA", "use": "sig"}]}
jwks_path = os.path.join(work, "fake-jwks.json")
with open(jwks_path, "w") as f:
    json.dump(fake_jwks, f)
fake_verifier = rfc002.Verifier([FAKE], audience="https://api.example.com", fetch_json=lambda url: fake_jwks, online_status=False)


def variant(edit=None, **changes):
    now = int(time.time())
    claims = {"jti": str(uuid.uuid4()), "iss": FAKE, "sub": alice, "aud": ["https://api.example.com"], "iat": now, "exp": now + 300,
              "ial": "1", "key": {"kty": "OKP", "crv": "Ed25519", "x": b64url(alice_raw)}, "cnf": {"kid": f"{alice}#{fragment}"},
              "vc": {"type": ["VerifiableCredential", "AgentIdentity"], "credentialSubject": {"level": "1", "domain": "agents.example.com"}}}
    claims.update(changes)
    if edit:
        edit(claims)
    return jwt.encode(claims, registry_key, algorithm="EdDSA", headers={"typ": "JWT", "kid": "ca-1"})


offline = ("--jwks", jwks_path, "--issuer", FAKE, "--audience", "https://api.example.com")
expect_code(variant(), "VALID", "a well-formed IAL-1 badge from a trusted registry", fake_verifier, offline)
expect_code(variant(aud="https://api.example.com"), "BADGE_CLAIMS_INVALID", "TV-001 aud is a string", fake_verifier, offline)
expect_code(variant(edit=lambda c: c["vc"]["credentialSubject"].update(level="0")), "BADGE_CLAIMS_INVALID", "TV-002 level 0 with ial 1",
            fake_verifier, offline)
expect_code(variant(ial="0"), "BADGE_CLAIMS_INVALID", "TV-003 ial 0 with cnf", fake_verifier, offline)
expect_code(variant(edit=lambda c: c.pop("cnf")), "BADGE_CLAIMS_INVALID", "TV-004 ial 1 without cnf", fake_verifier, offline)
expect_code(variant(cnf={"kid": f"{alice}#nope"}), "BADGE_CLAIMS_INVALID", "TV-005 cnf.kid not in the DID document", fake_verifier, offline)
expect_code(variant(key={"kty": "OKP", "crv": "Ed25519", "x": b64url(bob_raw)}), "BADGE_CLAIMS_INVALID", "TV-006 key differs from cnf.kid's",
            fake_verifier, offline)
expect_code(variant(exp=int(time.time()) - 61), "BADGE_EXPIRED", "TV-009 expired beyond the skew", fake_verifier, offline)
expect_code(variant(iat=int(time.time()) + 120, exp=int(time.time()) + 400), "BADGE_NOT_YET_VALID", "issued in the future", fake_verifier, offline)
expect_code(variant(edit=lambda c: c.pop("key")), "BADGE_CLAIMS_INVALID", "key missing", fake_verifier, offline)
expect_code(variant(jti="not-a-uuid"), "BADGE_CLAIMS_INVALID", "jti not a UUID", fake_verifier, offline)

# -- Self-signed level 0 ------------------------------------------------------------------------
keys_dir = os.path.join(work, "keys")
code, did_line, _ = tessera("key", "gen", "--out-dir", keys_dir)
self_did = did_line.splitlines()[-1]
code, self_badge, err = tessera("badge", "issue", "--self-sign", "--key", os.path.join(keys_dir, "private.jwk"), "--exp", "5m")
check(code == 0, f"tessera badge issue --self-sign: {err}")
expect_code(self_badge, "BADGE_ISSUER_UNTRUSTED", "a self-signed badge where level 0 is not allowed",
            rfc002.Verifier([SERVER]), ("--server", SERVER))
expect_code(self_badge, "VALID", "a self-signed badge where that did:key is trusted", rfc002.Verifier([self_did]),
            ("--trust-did", self_did))

# -- Revocation through the status list, within its TTL ------------------------------------------
pop_claims = json.loads(rfc002.b64url_decode(pop_badge.split(".")[1]))
list_only = rfc002.Verifier([SERVER], audience="https://api.example.com", online_status=False)
status, body, _ = http("POST", f"/v1/badges/{pop_claims['jti']}/revoke", {"reason": "Key compromise suspected"},
                       {"X-Capiscio-Registry-Key": TOKEN})
check(status == 200 and json.loads(body)["revoked"] is True and "revokedAt" in json.loads(body), "RFC-002 §12.3 revoke response")
# The registry rebuilds its list at once after a revocation, so the very next fetch refuses: no
# waiting, no timing. (A verifier holding a cached list refuses once the list's TTL has passed:
# SDKTests.revocationWithinTTL, on an injected clock.)
try:
    list_only.verify(pop_badge)
    python_code = "VALID"
except rfc002.BadgeError as error:
    python_code = error.code
check(python_code == "BADGE_REVOKED", f"independent verifier (status list only), first try after the revoke: {python_code}")
cli = cli_code(pop_badge, "--server", SERVER, "--audience", "https://api.example.com")
check(cli == "BADGE_REVOKED", f"tessera badge verify, first try after the revoke: {cli}")
status, body, _ = http("GET", f"/v1/badges/{pop_claims['jti']}/status")
check(json.loads(body)["revoked"] is True, "GET /v1/badges/{jti}/status says revoked")

status, _, _ = http("POST", f"/v1/agents/{enc(bob)}/disable", {"reason": "Security incident"}, {"X-Capiscio-Registry-Key": TOKEN})
check(status == 200, "agent disabled by DID")
expect_code(ca_badge, "BADGE_AGENT_DISABLED", "a disabled agent's badge", rfc002.Verifier([SERVER], audience="https://api.example.com", online_status=False),
            ("--server", SERVER, "--audience", "https://api.example.com"))
status, body, _ = http("GET", f"/v1/agents/{enc(bob)}/status")
check(json.loads(body)["status"] == "disabled", "GET /v1/agents/{did}/status says disabled")

# -- Tessera's list, decoded independently --------------------------------------------------------
uri = pop_claims["status"]["status_list"]["uri"]
request = urllib.request.Request(uri, headers={"Accept": "application/statuslist+jwt"})
with urllib.request.urlopen(request, timeout=5) as response:
    content_type = response.headers["Content-Type"]
    cache = response.headers["Cache-Control"]
    list_token = response.read().decode()
check(content_type == "application/statuslist+jwt" and cache == f"public, max-age={TTL}", "served as application/statuslist+jwt, cacheable for its TTL")
list_header = json.loads(rfc002.b64url_decode(list_token.split(".")[0]))
list_claims = jwt.decode(list_token, rfc002.OKPAlgorithm.from_jwk(json.dumps(
    next(k for k in rfc002.http_json(SERVER + "/.well-known/jwks.json")["keys"] if k["kid"] == list_header["kid"]))),
    algorithms=["EdDSA"])
check(list_header["typ"] == "statuslist+jwt" and list_claims["sub"] == uri and list_claims["ttl"] == TTL and "exp" in list_claims,
      "status list token: typ, sub = uri, ttl, exp")
raw = zlib.decompress(rfc002.b64url_decode(list_claims["status_list"]["lst"]))
bits = list_claims["status_list"]["bits"]
ca_claims = json.loads(rfc002.b64url_decode(ca_badge.split(".")[1]))
check(rfc002.status_value(list_claims["status_list"]["lst"], bits, pop_claims["status"]["status_list"]["idx"]) == 1,
      "the revoked badge's index reads INVALID (1) with the draft's bit rule")
check(rfc002.status_value(list_claims["status_list"]["lst"], bits, ca_claims["status"]["status_list"]["idx"]) == 2,
      "the disabled agent's badge reads SUSPENDED (2)")
others = [i for i in range(len(raw) * 8 // bits) if rfc002.status_value(list_claims["status_list"]["lst"], bits, i) != 0]
check(sorted(others) == sorted([pop_claims["status"]["status_list"]["idx"], ca_claims["status"]["status_list"]["idx"]]),
      "every other index reads VALID")

# -- Passports carry a status reference too ------------------------------------------------------
mission = {"agent_id": "agent-1", "mission": "summarise reports", "allowed_tools": ["read_file"], "max_tool_calls": 5,
           "max_duration_s": 600}
status, body, _ = http("POST", "/issue", {"mission": mission}, {"Authorization": f"Bearer {TOKEN}"})
passport = json.loads(body)["token"]
passport_claims = json.loads(rfc002.b64url_decode(passport.split(".")[1]))
reference = passport_claims["status"]["status_list"]
check(reference["uri"].startswith(SERVER + "/v1/status-lists/"), "a passport carries status.status_list {idx, uri}")
passport_file = os.path.join(work, "passport.jwt")
with open(passport_file, "w") as f:
    f.write(passport)
code, out, err = tessera("passport", "verify", passport_file, "--status-list", "--server", SERVER)
check(code == 0 and json.loads(out)["jti"] == passport_claims["jti"], f"tessera passport verify --status-list accepts it: {err}")
status, _, _ = http("POST", "/revoke", {"jti": passport_claims["jti"]}, {"Authorization": f"Bearer {TOKEN}"})
check(status == 200, "passport revoked")
code, out, _ = tessera("passport", "verify", passport_file, "--status-list", "--server", SERVER)
check(code == 1 and out == "passport_revoked", f"tessera passport verify --status-list refuses it (got {out})")
list_token = urllib.request.urlopen(reference["uri"], timeout=5).read().decode()
list_claims = json.loads(rfc002.b64url_decode(list_token.split(".")[1]))
check(rfc002.status_value(list_claims["status_list"]["lst"], list_claims["status_list"]["bits"], reference["idx"]) == 1,
      "the revoked passport's index reads INVALID, decoded independently")

print(f"badge-e2e: {checks} checks passed", file=sys.stderr)
