"""An independent CapiscIO RFC-002 badge verifier, written from the RFC text (§8.1, §8.5, §6.3,
§7.5) and the IETF Token Status List draft (§4.1 bit order, §5.1 token), not from Tessera's code.

Signatures are checked with PyJWT (EdDSA); everything else is plain Python. Used by
scripts/badges/e2e.py to check that Tessera's badges verify elsewhere and that tampered
variants fail with the RFC's error codes.
"""
import base64
import json
import time
import urllib.parse
import urllib.request
import uuid
import zlib

import jwt
from jwt.algorithms import OKPAlgorithm

SKEW = 60  # RFC-002 §8.1 step 6


class BadgeError(Exception):
    def __init__(self, code, why=""):
        super().__init__(f"{code}: {why}")
        self.code = code


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58decode(text):
    n = 0
    for ch in text:
        n = n * 58 + B58.index(ch)
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + raw


def did_key_public_bytes(did):
    """did:key (Ed25519): z + base58btc(0xed01 || key)."""
    if not did.startswith("did:key:z"):
        raise ValueError("not a did:key")
    raw = b58decode(did[len("did:key:z"):].split("#")[0])
    if raw[:2] != b"\xed\x01" or len(raw) != 34:
        raise ValueError("not an Ed25519 did:key")
    return raw[2:]


def multibase_key_bytes(value):
    raw = b58decode(value[1:])
    if value[0] != "z" or raw[:2] != b"\xed\x01" or len(raw) != 34:
        raise ValueError("not an Ed25519 multibase key")
    return raw[2:]


def jwk_bytes(jwk):
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or "x" not in jwk or "d" in jwk:
        raise ValueError("not an Ed25519 public JWK")
    raw = b64url_decode(jwk["x"])
    if len(raw) != 32:
        raise ValueError("bad x")
    return raw


def http_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read(100_000))


def status_value(lst, bits, index):
    """Draft §4.1: statuses packed from the least significant bit of each byte."""
    data = zlib.decompress(b64url_decode(lst))
    per_byte = 8 // bits
    if index >= len(data) * per_byte:
        raise IndexError(index)
    return (data[index // per_byte] >> ((index % per_byte) * bits)) & ((1 << bits) - 1)


def did_web_url(did):
    parts = did[len("did:web:"):].split(":")
    host = urllib.parse.unquote(parts[0])
    path = "/".join(parts[1:])
    return f"https://{host}/{path}/did.json" if path else f"https://{host}/.well-known/did.json"


class Verifier:
    """RFC-002 §8.1 in order. `fetch(url)` fetches JSON or text from an allow-listed issuer
    (tests map https URLs onto the loopback registry); `now` is injectable."""

    def __init__(self, trusted_issuers, audience=None, fetch_json=None, fetch_text=None, now=None, online_status=True):
        self.trusted = set(trusted_issuers)
        self.audience = audience
        self.fetch_json = fetch_json or http_json
        self.fetch_text = fetch_text or (lambda url: urllib.request.urlopen(url, timeout=5).read(4_000_000).decode())
        self.now = now or (lambda: int(time.time()))
        self.online_status = online_status

    def verify(self, token):
        # 1-2. Parse.
        parts = token.split(".")
        if len(parts) != 3:
            raise BadgeError("BADGE_MALFORMED", "not three segments")
        try:
            header = json.loads(b64url_decode(parts[0]))
            payload = json.loads(b64url_decode(parts[1]))
        except Exception as error:  # noqa: BLE001 - any decoding failure is malformed
            raise BadgeError("BADGE_MALFORMED", str(error))
        # 3. Structure.
        if header.get("alg") != "EdDSA" or header.get("typ") != "JWT":
            raise BadgeError("BADGE_MALFORMED", f"header {header}")
        for claim in ("jti", "iss", "sub", "iat", "exp", "ial", "key", "vc"):
            if claim not in payload:
                raise BadgeError("BADGE_CLAIMS_INVALID", f"missing {claim}")
        try:
            uuid.UUID(payload["jti"])
        except ValueError:
            raise BadgeError("BADGE_CLAIMS_INVALID", "jti is not a UUID")
        if "aud" in payload and not isinstance(payload["aud"], list):
            raise BadgeError("BADGE_CLAIMS_INVALID", "aud is not an array")
        level = payload.get("vc", {}).get("credentialSubject", {}).get("level")
        if not isinstance(level, str) or level not in ("0", "1", "2", "3", "4"):
            raise BadgeError("BADGE_CLAIMS_INVALID", "vc.credentialSubject.level")
        ial = payload["ial"]
        if ial not in ("0", "1"):
            raise BadgeError("BADGE_CLAIMS_INVALID", "ial")
        if ial == "1" and "cnf" not in payload:
            raise BadgeError("BADGE_CLAIMS_INVALID", "ial 1 without cnf")
        if ial == "0" and "cnf" in payload:
            raise BadgeError("BADGE_CLAIMS_INVALID", "ial 0 with cnf")
        if level == "0" and ial != "0":
            raise BadgeError("BADGE_CLAIMS_INVALID", "level 0 with ial 1")
        try:
            key_bytes = jwk_bytes(payload["key"])
        except ValueError as error:
            raise BadgeError("BADGE_CLAIMS_INVALID", str(error))
        # 4. Key: only for an allow-listed issuer (no dereference otherwise). A level-0 badge is
        # self-signed (iss = sub, a did:key the verifier trusts explicitly): its key is its DID.
        iss = payload["iss"]
        if iss not in self.trusted:
            raise BadgeError("BADGE_ISSUER_UNTRUSTED", iss)
        if level == "0":
            if iss != payload["sub"] or not iss.startswith("did:key:"):
                raise BadgeError("BADGE_CLAIMS_INVALID", "level 0 must be self-signed by a did:key")
            x = base64.urlsafe_b64encode(did_key_public_bytes(iss)).decode().rstrip("=")
            jwks = {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": header.get("kid")}]}
        else:
            jwks = self.fetch_json(iss.rstrip("/") + "/.well-known/jwks.json")
        candidates = [k for k in jwks["keys"] if header.get("kid") in (None, k.get("kid"))][:5]
        # 5. Signature (PyJWT), without PyJWT's own claim checks: the RFC's order is ours.
        verified = False
        for candidate in candidates:
            try:
                jwt.decode(token, OKPAlgorithm.from_jwk(json.dumps(candidate)), algorithms=["EdDSA"],
                           options={"verify_exp": False, "verify_iat": False, "verify_nbf": False, "verify_aud": False})
                verified = True
                break
            except jwt.InvalidTokenError:
                continue
        if not verified:
            raise BadgeError("BADGE_SIGNATURE_INVALID")
        # 6. Claims with skew.
        now = self.now()
        if not payload["exp"] > now - SKEW:
            raise BadgeError("BADGE_EXPIRED")
        if payload["iat"] > now + SKEW or payload.get("nbf", 0) > now + SKEW:
            raise BadgeError("BADGE_NOT_YET_VALID")
        # RFC-002 §8.3: a badge that names audiences is for them only; a verifier that does not
        # state its own identity cannot be one of them.
        if "aud" in payload and (self.audience is None or self.audience not in payload["aud"]):
            raise BadgeError("BADGE_AUDIENCE_MISMATCH")
        # 7. IAL-1 key binding through the DID document.
        if ial == "1":
            kid = payload["cnf"].get("kid")
            sub = payload["sub"]
            try:
                if sub.startswith("did:key:"):
                    fragment = sub[len("did:key:"):]
                    document = {"id": sub, "verificationMethod": [
                        {"id": f"{sub}#{fragment}", "publicKeyMultibase": fragment}]}
                else:
                    document = self.fetch_json(did_web_url(sub))
                method = next(m for m in document["verificationMethod"] if m["id"] == kid)
                bound = multibase_key_bytes(method["publicKeyMultibase"]) if "publicKeyMultibase" in method \
                    else jwk_bytes(method["publicKeyJwk"])
            except Exception as error:  # noqa: BLE001 - unresolvable is invalid
                raise BadgeError("BADGE_CLAIMS_INVALID", f"cnf.kid: {error}")
            if bound != key_bytes:
                raise BadgeError("BADGE_CLAIMS_INVALID", "cnf.kid key differs from key")
        # 8. Revocation: the Token Status List the badge references, and (online) §7.5's endpoint.
        if level == "0":
            return payload  # §8.1: no registry revocation for self-signed badges
        if "status" in payload:
            ref = payload["status"]["status_list"]
            uri = ref["uri"]
            if not uri.startswith(iss.rstrip("/") + "/"):
                raise BadgeError("BADGE_CLAIMS_INVALID", "status list off the issuer's origin")
            list_token = self.fetch_text(uri).strip()
            list_header = json.loads(b64url_decode(list_token.split(".")[0]))
            if list_header.get("typ") != "statuslist+jwt":
                raise BadgeError("BADGE_REVOKED", "status list has the wrong typ")
            key = next(k for k in jwks["keys"] if k.get("kid") == list_header.get("kid"))
            claims = jwt.decode(list_token, OKPAlgorithm.from_jwk(json.dumps(key)), algorithms=["EdDSA"],
                                options={"verify_aud": False})
            if claims["sub"] != uri:
                raise BadgeError("BADGE_REVOKED", "status list sub differs from uri")
            value = status_value(claims["status_list"]["lst"], claims["status_list"]["bits"], ref["idx"])
            if value == 1:
                raise BadgeError("BADGE_REVOKED")
            if value == 2:
                raise BadgeError("BADGE_AGENT_DISABLED")
        if self.online_status:
            record = self.fetch_json(f"{iss.rstrip('/')}/v1/badges/{payload['jti']}/status")
            if record.get("revoked"):
                raise BadgeError("BADGE_REVOKED", "status endpoint")
            # 9. Agent status.
            agent = self.fetch_json(f"{iss.rstrip('/')}/v1/agents/{urllib.parse.quote(payload['sub'], safe='')}/status")
            if agent.get("status") != "active":
                raise BadgeError("BADGE_AGENT_DISABLED")
        return payload
