#!/usr/bin/env python3
"""Independent verifier for Attenuating Agent Token (AAT) chains.

Written from draft-niyikiza-oauth-attenuating-agent-tokens-01 (section numbers
below refer to it), as a cross-check for the Swift implementation. It runs the
chain verification algorithm of §7 step by step and prints either

    permit                 (exit 0)
    deny: <step>: <reason> (exit 1)

Usage:
    verify_chain.py --chain FILE --trust-anchor JWK_FILE --aud URL --tool NAME \
                    --arguments JSON --pop JWT [--at RFC3339]
    verify_chain.py --fixture FILE [any of the flags above to override]

--chain FILE        JSON array of compact JWTs (root first), or an object with a
                    "chain" member.
--trust-anchor FILE a JWK, a JWK Set ({"keys": [...]}) or a JSON array of JWKs.
--arguments JSON    the invocation's argument object (or @file).
--pop JWT           the PoP JWT (or @file).
--aud URL           when given, PoP audience binding is required (§5.3 item 3).
--fixture FILE      an Ardur-style fixture: chain, pop_jwt, tool, arguments,
                    audience, verification_time, public_keys.root_trust_anchor.

Dependencies: Python 3.11, PyJWT, cryptography.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
from datetime import datetime
from typing import Any

import jwt  # PyJWT

# ---------------------------------------------------------------------------
# Implementation limits. The draft requires finite values and recommends these
# (§3.4, §4.3, §4.3.1, §4.4, §5.3, §8.11, Appendix B.5).
# ---------------------------------------------------------------------------
MAX_TOKEN_SIZE = 65536            # bytes per token (RECOMMENDED, §4.3.1)
MAX_STACK_SIZE = 262144           # bytes per chain (RECOMMENDED, §4.3.1)
MAX_CONSTRAINT_DEPTH = 32         # RECOMMENDED, §3.4
MAX_DELEGATION_DEPTH = 16         # implementation-defined, no number in draft
MAX_IAT_SKEW = 30                 # seconds, RECOMMENDED, §4.4
MAX_TOKEN_LIFETIME = 90 * 86400   # RECOMMENDED upper bound, §4.4
POP_WINDOW = 30                   # ±seconds, RECOMMENDED, §5.3 / §8.11

AAT_TYPE = "attenuating_agent_token"
THUMBPRINT_URI_PREFIX = "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"

# Algorithm allowlist (§8.13: the DPoP set) and the key each alg needs.
ALG_KEY = {
    "EdDSA": ("OKP", {"Ed25519", "Ed448"}),
    "ES256": ("EC", {"P-256"}), "ES384": ("EC", {"P-384"}), "ES512": ("EC", {"P-521"}),
    **{a: ("RSA", None) for a in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
}
PRIVATE_JWK_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}
THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}


class Deny(Exception):
    pass


def deny(step: str, reason: str):
    raise Deny(f"{step}: {reason}")


# ---------------------------------------------------------------------------
# JSON helpers: strict parsing, RFC 8785 (JCS) serialization, base64url.
# ---------------------------------------------------------------------------
def _no_duplicates(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError(f"duplicate member {k!r}")
        obj[k] = v
    return obj


def _no_constants(name):
    raise ValueError(f"non-JSON constant {name}")


def parse_json(text: str | bytes) -> Any:
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # strict
    return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)


def _es_number(x: float) -> str:
    """ECMAScript Number::toString, as RFC 8785 §3.2.2.3 requires."""
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("NaN/Infinity are not JSON")
    if x == 0:
        return "0"
    sign, x = ("-", -x) if x < 0 else ("", x)
    mant, _, exp = repr(x).partition("e")
    ip, _, fp = mant.partition(".")
    raw = ip + fp
    n = len(ip) + (int(exp) if exp else 0) - (len(raw) - len(raw.lstrip("0")))
    digits = raw.strip("0")
    k = len(digits)
    if k <= n <= 21:
        out = digits + "0" * (n - k)
    elif 0 < n <= 21:
        out = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        out = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def jcs(v: Any) -> str:
    """RFC 8785 JSON Canonicalization Scheme."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return _es_number(float(v))  # JCS numbers are IEEE-754 doubles
    if isinstance(v, str):
        v.encode("utf-8")  # raises on lone surrogates
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v, key=lambda s: s.encode("utf-16-be"))  # UTF-16 code units
        return "{" + ",".join(jcs(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise ValueError(f"not a JSON value: {type(v).__name__}")


_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


def b64url_decode(s: str) -> bytes:
    if not _B64URL.match(s) or len(s) % 4 == 1:
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode("ascii")


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_int(v) -> bool:
    return is_number(v) and float(v).is_integer()


def same(a, b) -> bool:
    """JSON value equality: equal JCS forms (so 1 == 1.0, but 1 != true)."""
    return jcs(a) == jcs(b)


def member(v, arr) -> bool:
    return any(same(v, x) for x in arr)


# ---------------------------------------------------------------------------
# Keys: public-key check, alg consistency, RFC 7638 thumbprint (§3.2, §8.13).
# ---------------------------------------------------------------------------
def check_public_jwk(jwk, step: str):
    if not isinstance(jwk, dict) or jwk.get("kty") not in THUMBPRINT_MEMBERS:
        deny(step, "cnf.jwk missing or of unsupported kty")
    if PRIVATE_JWK_MEMBERS & jwk.keys():
        deny(step, "cnf.jwk carries private key material")
    if not all(isinstance(jwk.get(m), str) for m in THUMBPRINT_MEMBERS[jwk["kty"]]):
        deny(step, "cnf.jwk lacks required public members")
    try:
        jwt.PyJWK(jwk)
    except Exception as e:  # noqa: BLE001 - any failure means "not a usable key"
        deny(step, f"cnf.jwk is not a valid public key ({e})")


def thumbprint_uri(jwk: dict) -> str:
    members = {m: jwk[m] for m in THUMBPRINT_MEMBERS[jwk["kty"]]}
    digest = hashlib.sha256(jcs(members).encode("utf-8")).digest()
    return THUMBPRINT_URI_PREFIX + b64url(digest)


def alg_fits_key(alg, jwk) -> bool:
    if alg not in ALG_KEY or not isinstance(jwk, dict):
        return False
    kty, crvs = ALG_KEY[alg]
    if jwk.get("kty") != kty or (crvs is not None and jwk.get("crv") not in crvs):
        return False
    return jwk.get("alg", alg) == alg  # a JWK that names its alg must agree


def split_jws(compact: str, step: str):
    parts = compact.split(".") if isinstance(compact, str) else []
    if len(parts) != 3 or not all(parts):
        deny(step, "not a compact JWS")
    try:
        header = parse_json(b64url_decode(parts[0]))
    except Exception as e:  # noqa: BLE001
        deny(step, f"bad JWS header ({e})")
    if not isinstance(header, dict):
        deny(step, "JWS header is not an object")
    return header, parts


def verify_jws(compact: str, jwk: dict, alg_step: str, sig_step: str):
    """§7 steps 3a/3b, 4a/4b, 7a/7b: alg allowlist + signature, then parse claims.

    Returns (claims, JWS Signing Input, raw payload bytes)."""
    header, (h, p, _s) = split_jws(compact, alg_step)
    alg = header.get("alg")
    if alg == "none" or alg not in ALG_KEY:
        deny(alg_step, f"alg {alg!r} not on the allowlist")
    if "crit" in header:
        deny(alg_step, "unsupported crit header")
    if not alg_fits_key(alg, jwk):
        deny(alg_step, f"alg {alg} inconsistent with key kty/crv")
    try:
        key = jwt.PyJWK(jwk, algorithm=alg).key
        jwt.api_jws.PyJWS(algorithms=[alg]).decode_complete(compact, key=key, algorithms=[alg])
    except Exception as e:  # noqa: BLE001
        deny(sig_step, f"signature does not verify ({type(e).__name__})")
    payload = b64url_decode(p)
    try:  # claims are parsed only after the signature verified
        claims = parse_json(payload)
    except Exception as e:  # noqa: BLE001
        deny(sig_step, f"payload is not valid JSON ({e})")
    if not isinstance(claims, dict):
        deny(sig_step, "payload is not a JSON object")
    return claims, f"{h}.{p}", payload


# ---------------------------------------------------------------------------
# Constraints: shape, check predicate (§3.4), subsumption (§4.5).
# ---------------------------------------------------------------------------
# constraint_type -> (required members, optional members); all members typed below.
SHAPES = {
    "exact": ({"value"}, set()),
    "range": (set(), {"min", "max", "min_inclusive", "max_inclusive"}),
    "one_of": ({"values"}, set()),
    "not_one_of": ({"excluded"}, set()),
    "contains": ({"required"}, set()),
    "subset": ({"allowed"}, set()),
    "wildcard": (set(), set()),
    "all": ({"constraints"}, set()),
    "any": ({"constraints"}, set()),
}


def constraint_depth(c, step: str, level: int = 1) -> int:
    """Validate a constraint tree and return its depth (a leaf has depth 1)."""
    if level > MAX_CONSTRAINT_DEPTH:
        deny(step, f"constraint tree deeper than MAX_CONSTRAINT_DEPTH={MAX_CONSTRAINT_DEPTH}")
    if not isinstance(c, dict) or not isinstance(c.get("constraint_type"), str):
        deny(step, "constraint is not an object with a string constraint_type")
    t = c["constraint_type"]
    if t not in SHAPES:
        deny(step, f"unknown constraint_type {t!r} (fail closed, §3.4)")
    required, optional = SHAPES[t]
    members = c.keys() - {"constraint_type"}
    if not required <= members or members - required - optional:
        deny(step, f"malformed {t} constraint members {sorted(members)}")
    if t == "exact" and isinstance(c["value"], (list, dict)):
        deny(step, "exact value must be a scalar")
    if t == "range":
        for m in ("min", "max"):
            if m in c and not is_number(c[m]):
                deny(step, f"range {m} must be a number")
        for m in ("min_inclusive", "max_inclusive"):
            if m in c and not isinstance(c[m], bool):
                deny(step, f"range {m} must be a boolean")
    for m in ("values", "excluded", "required", "allowed", "constraints"):
        if m in c and not isinstance(c[m], list):
            deny(step, f"{t}.{m} must be an array")
    if t in ("all", "any"):
        return 1 + max((constraint_depth(x, step, level + 1) for x in c["constraints"]), default=0)
    return 1


def in_range(v, c) -> bool:
    if not is_number(v):
        return False
    if "min" in c and (v < c["min"] if c.get("min_inclusive", True) else v <= c["min"]):
        return False
    if "max" in c and (v > c["max"] if c.get("max_inclusive", True) else v >= c["max"]):
        return False
    return True


def check(c, v) -> bool:
    """§3.4 check predicate."""
    t = c["constraint_type"]
    if t == "exact":
        return same(v, c["value"])
    if t == "range":
        return in_range(v, c)
    if t == "one_of":
        return member(v, c["values"])
    if t == "not_one_of":
        return not member(v, c["excluded"])
    if t == "contains":
        return isinstance(v, list) and all(member(r, v) for r in c["required"])
    if t == "subset":
        return isinstance(v, list) and all(member(x, c["allowed"]) for x in v)
    if t == "wildcard":
        return True
    if t == "all":
        return all(check(x, v) for x in c["constraints"])
    if t == "any":
        return any(check(x, v) for x in c["constraints"])
    return False  # unreachable: shapes were validated


def _bound_ok(child, parent, bound: str, tighter) -> bool:
    if bound not in parent:
        return True
    if bound not in child:
        return False  # a missing derived bound is valid only if the parent's is missing too
    cv, pv = child[bound], parent[bound]
    if cv != pv:
        return tighter(cv, pv)
    inc = f"{bound}_inclusive"
    return not (child.get(inc, True) and not parent.get(inc, True))  # exclusive -> inclusive widens


def subsumes(child, parent) -> bool:
    """§4.5: True iff derived constraint `child` is at least as restrictive as `parent`."""
    ct, pt = child["constraint_type"], parent["constraint_type"]
    if pt == "wildcard":
        return True  # any type subsumes a parent wildcard (wildcard only by wildcard)
    if ct == "exact":
        if pt == "exact":
            return same(child["value"], parent["value"])
        if pt == "range":
            return is_number(child["value"]) and in_range(child["value"], parent)
        if pt == "one_of":
            return member(child["value"], parent["values"])
        return False
    if ct != pt:
        return False  # no other cross-type pair is permitted
    if ct == "range":
        return (_bound_ok(child, parent, "min", lambda c, p: c > p)
                and _bound_ok(child, parent, "max", lambda c, p: c < p))
    if ct == "one_of":
        return all(member(x, parent["values"]) for x in child["values"])
    if ct == "not_one_of":
        return all(member(x, child["excluded"]) for x in parent["excluded"])
    if ct == "contains":
        return all(member(x, child["required"]) for x in parent["required"])
    if ct == "subset":
        return all(member(x, parent["allowed"]) for x in child["allowed"])
    if ct == "all":  # one-to-one assignment of parent clauses to derived clauses, backtracking
        pcs, dcs = parent["constraints"], child["constraints"]

        def match(i: int, used: set) -> bool:
            if i == len(pcs):
                return True
            for j, d in enumerate(dcs):
                if j not in used and subsumes(d, pcs[i]):
                    if match(i + 1, used | {j}):
                        return True
            return False

        return match(0, set())
    if ct == "any":
        dcs = child["constraints"]
        return bool(dcs) and all(any(subsumes(d, p) for p in parent["constraints"]) for d in dcs)
    return False  # wildcard child under a non-wildcard parent


# ---------------------------------------------------------------------------
# authorization_details (§3.3)
# ---------------------------------------------------------------------------
def aat_entries(claims, step: str) -> list:
    ad = claims.get("authorization_details")
    if not isinstance(ad, list):
        deny(step, "authorization_details missing or not an array")
    for e in ad:
        if not isinstance(e, dict) or not isinstance(e.get("type"), str):
            deny(step, "authorization_details entry without a string type")
    return [e for e in ad if e["type"] == AAT_TYPE]


def tools_of(entry, step: str) -> dict:
    """Validate an attenuating_agent_token entry; return its tools map."""
    tools = entry.get("tools")
    if not isinstance(tools, dict):
        deny(step, "attenuating_agent_token entry needs a tools object")
    for name, cmap in tools.items():
        if not isinstance(cmap, dict):
            deny(step, f"tool {name!r}: constraint map is not an object")
        for arg, c in cmap.items():
            constraint_depth(c, step)
    return tools


# ---------------------------------------------------------------------------
# §7 Chain Verification Algorithm
# ---------------------------------------------------------------------------
def untrusted_jti(compact: str):
    """§7 step 2c: pull only jti out of the (unverified) payload."""
    parts = compact.split(".") if isinstance(compact, str) else []
    if len(parts) != 3:
        deny("2c", "token is not a compact JWS")
    try:
        payload = parse_json(b64url_decode(parts[1]))
    except Exception as e:  # noqa: BLE001
        deny("2c", f"payload is not valid JSON ({e})")
    jti = payload.get("jti") if isinstance(payload, dict) else None
    if not isinstance(jti, str):
        deny("2c", "payload has no string jti")
    return jti


def verify(chain, anchors, tool, args, pop, now: float, aud: str | None) -> None:
    # 1. empty chain
    if not isinstance(chain, list) or not chain:
        deny("1", "empty chain")
    # 2. size limits and jti cycle detection
    if not all(isinstance(t, str) for t in chain):
        deny("2", "chain entries must be compact JWT strings")
    for t in chain:
        if len(t.encode()) > MAX_TOKEN_SIZE:
            deny("2a", "token exceeds MAX_TOKEN_SIZE")
    if sum(len(t.encode()) for t in chain) > MAX_STACK_SIZE:
        deny("2b", "chain exceeds MAX_STACK_SIZE")
    jtis = [untrusted_jti(t) for t in chain]
    if len(set(jtis)) != len(jtis):
        deny("2c", "duplicate jti in chain (cycle)")

    # 3. root token
    header, _ = split_jws(chain[0], "3a")
    fitting = [k for k in anchors if alg_fits_key(header.get("alg"), k)]
    if header.get("alg") == "none" or header.get("alg") not in ALG_KEY or not fitting:
        deny("3a", f"root alg {header.get('alg')!r} not allowed or fits no trust anchor")
    root = None
    for anchor in fitting:
        try:
            root, signing_input, _ = verify_jws(chain[0], anchor, "3a", "3b")
            break
        except Deny as e:
            if not str(e).startswith("3b: signature"):
                raise
    if root is None:
        deny("3b", "root signature does not verify under any trust anchor")
    inputs = [signing_input]  # JWS Signing Inputs, for par_hash (I5)
    if not is_int(root.get("del_depth")) or root["del_depth"] != 0:
        deny("3c", "root del_depth must be 0")
    if "par_hash" in root:
        deny("3d", "root must not carry par_hash")
    if not is_number(root.get("exp")) or root["exp"] <= now:
        deny("3e", "root exp missing or not in the future")
    if not is_number(root.get("iat")) or root["iat"] > now + MAX_IAT_SKEW:
        deny("3f", "root iat missing or more than MAX_IAT_SKEW in the future")
    if root["exp"] <= root["iat"]:
        deny("3g", "root exp must be greater than iat")
    if root["exp"] > root["iat"] + MAX_TOKEN_LIFETIME:
        deny("3h", "root lifetime exceeds MAX_TOKEN_LIFETIME")
    dmd = root.get("del_max_depth")
    if not is_int(dmd) or not 0 <= dmd <= MAX_DELEGATION_DEPTH:
        deny("3i", "root del_max_depth missing, negative or above MAX_DELEGATION_DEPTH")
    if not isinstance(root.get("jti"), str) or not root["jti"]:
        deny("3j", "root jti missing or empty")
    iss = root.get("iss")
    if not isinstance(iss, str) or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s]+$", iss):
        deny("3k", "root iss missing or not a URI")
    cnf = root.get("cnf")
    check_public_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None, "3l")
    if not root.get("authorization_details"):
        deny("3m", "root authorization_details missing or empty")
    entries = aat_entries(root, "3m")
    if len(entries) != 1:
        deny("3m", f"root needs exactly one {AAT_TYPE} entry, has {len(entries)}")
    root["__tools__"] = tools_of(entries[0], "3n")

    # 4. each adjacent (parent, child)
    tokens = [root]
    for i in range(1, len(chain)):
        parent = tokens[-1]
        pjwk = parent["cnf"]["jwk"]
        s = lambda x: f"4{x} (link {i - 1}->{i})"  # noqa: E731
        child, signing_input, _ = verify_jws(chain[i], pjwk, s("a"), s("b"))
        if not isinstance(child.get("jti"), str) or not child["jti"]:
            deny(s("b1"), "jti missing or empty")
        cnf = child.get("cnf")
        check_public_jwk(cnf.get("jwk") if isinstance(cnf, dict) else None, s("b2"))
        if not isinstance(child.get("authorization_details"), list):
            deny(s("b3"), "authorization_details missing or not an array")
        for claim in ("del_depth", "del_max_depth"):
            if not is_int(child.get(claim)) or child[claim] < 0:
                deny(s("b4"), f"{claim} missing or not a non-negative integer")
        for claim in ("iss", "iat", "exp", "par_hash"):
            if claim not in child:
                deny(s("b5"), f"{claim} missing")
        if child["iss"] != thumbprint_uri(pjwk):
            deny(s("c"), "iss is not the JWK thumbprint URI of parent.cnf.jwk (I1)")
        if child["del_depth"] != parent["del_depth"] + 1:
            deny(s("d"), "del_depth must be parent.del_depth + 1 (I2)")
        if child["del_depth"] > parent["del_max_depth"]:
            deny(s("e"), "del_depth exceeds parent.del_max_depth (I2)")
        if child["del_depth"] > MAX_DELEGATION_DEPTH:
            deny(s("f"), "del_depth exceeds MAX_DELEGATION_DEPTH (I2)")
        if child["del_max_depth"] > parent["del_max_depth"]:
            deny(s("g"), "del_max_depth exceeds parent.del_max_depth (I2)")
        if not is_number(child["exp"]) or not is_number(child["iat"]):
            deny(s("b5"), "iat/exp must be NumericDate")
        if child["exp"] > parent["exp"]:
            deny(s("h"), "exp exceeds parent.exp (I3)")
        if child["exp"] <= now:
            deny(s("i"), "expired (I3)")
        if child["iat"] < parent["iat"]:
            deny(s("j"), "iat precedes parent.iat (I3)")
        if child["iat"] > now + MAX_IAT_SKEW:
            deny(s("k"), "iat more than MAX_IAT_SKEW in the future (I3)")
        if child["exp"] <= child["iat"]:
            deny(s("l"), "exp must be greater than iat (I3)")
        if child["exp"] > child["iat"] + MAX_TOKEN_LIFETIME:
            deny(s("l"), "lifetime exceeds MAX_TOKEN_LIFETIME (I3, defense in depth)")
        if child["del_depth"] > child["del_max_depth"]:
            deny(s("m"), "del_depth exceeds own del_max_depth (I2)")
        entries = aat_entries(child, s("n"))
        if len(entries) > 1:
            deny(s("n"), f"more than one {AAT_TYPE} entry")
        child["__tools__"] = tools_of(entries[0], s("o")) if entries else {}
        ptools, ctools = parent["__tools__"], child["__tools__"]
        for name, cmap in ctools.items():
            if name not in ptools:
                deny(s("p1"), f"tool {name!r} not authorized by parent (I4)")
            pmap = ptools[name]
            if pmap and set(cmap) != set(pmap):
                deny(s("p2"), f"tool {name!r}: argument keys differ from parent (I4)")
            for arg in set(cmap) & set(pmap):
                if not subsumes(cmap[arg], pmap[arg]):
                    deny(s("p4"), f"tool {name!r} arg {arg!r}: {cmap[arg]['constraint_type']} does not "
                                  f"subsume parent {pmap[arg]['constraint_type']} (I4)")
        expected = b64url(hashlib.sha256(inputs[-1].encode("ascii")).digest())
        if child["par_hash"] != expected:
            deny(s("q"), "par_hash does not match SHA-256 of parent JWS Signing Input (I5)")
        tokens.append(child)
        inputs.append(signing_input)

    leaf = tokens[-1]
    # 5. chain length
    if len(chain) != leaf["del_depth"] + 1:
        deny("5", "chain length != leaf.del_depth + 1")

    # 6. leaf capability and argument constraints
    entries = aat_entries(leaf, "6a")
    if len(entries) != 1:
        deny("6a", f"leaf needs exactly one {AAT_TYPE} entry, has {len(entries)}")
    if not isinstance(args, dict):
        deny("6b", "arguments must be a JSON object")
    if tool not in leaf["__tools__"]:
        deny("6b", f"tool {tool!r} not authorized by leaf")
    cmap = leaf["__tools__"][tool]
    if cmap:
        for a in args:
            if a not in cmap:
                deny("6b", f"argument {a!r} not in constraint map (closed world)")
    for a, c in cmap.items():
        if a not in args:
            deny("6b", f"constrained argument {a!r} missing")
        if not check(c, args[a]):
            deny("6b", f"argument {a!r} violates {c['constraint_type']} constraint")

    # 7. PoP JWT
    if not isinstance(pop, str) or not pop:
        deny("7a", "PoP JWT missing")
    claims, _, payload_bytes = verify_jws(pop, leaf["cnf"]["jwk"], "7a", "7b")
    try:
        canonical = jcs(claims).encode("utf-8") == payload_bytes
    except ValueError:
        canonical = False
    if not canonical:
        deny("7b", "PoP payload is not JCS-canonical (§5.2)")
    if not isinstance(claims.get("jti"), str) or not claims["jti"]:
        deny("7b", "PoP jti missing")
    if claims.get("aat_id") != leaf["jti"]:
        deny("7c", "PoP aat_id does not match leaf jti")
    if aud is not None and claims.get("aat_aud") != aud:
        deny("7d", "PoP aat_aud missing or does not identify this enforcement point")
    if claims.get("aat_tool") != tool:
        deny("7e", "PoP aat_tool does not match the invoked tool")
    hta = claims.get("hta")
    if not isinstance(hta, dict) or jcs(hta) != jcs(args):
        deny("7f", "PoP hta does not match the invocation arguments (JCS)")
    if not is_number(claims.get("iat")) or abs(claims["iat"] - now) > POP_WINDOW:
        deny("7g", f"PoP iat outside ±{POP_WINDOW}s window")
    # 8. PERMIT


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------
def _text_arg(v: str) -> str:
    if v.startswith("@"):
        with open(v[1:], encoding="utf-8") as f:
            return f.read().strip()
    return v


def _anchors(doc) -> list:
    if isinstance(doc, dict) and isinstance(doc.get("keys"), list):
        return doc["keys"]
    return doc if isinstance(doc, list) else [doc]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixture")
    ap.add_argument("--chain")
    ap.add_argument("--trust-anchor")
    ap.add_argument("--aud")
    ap.add_argument("--tool")
    ap.add_argument("--arguments")
    ap.add_argument("--pop")
    ap.add_argument("--at", help="verification time, RFC 3339 (default: now)")
    o = ap.parse_args(argv)
    try:
        fx = {}
        if o.fixture:
            with open(o.fixture, encoding="utf-8") as f:
                fx = parse_json(f.read())
        chain = fx.get("chain")
        if o.chain:
            with open(o.chain, encoding="utf-8") as f:
                doc = parse_json(f.read())
            chain = doc.get("chain") if isinstance(doc, dict) else doc
        anchors = [fx["public_keys"]["root_trust_anchor"]] if "public_keys" in fx else []
        if o.trust_anchor:
            with open(o.trust_anchor, encoding="utf-8") as f:
                anchors = _anchors(parse_json(f.read()))
        aud = o.aud if o.aud is not None else fx.get("audience")
        tool = o.tool if o.tool is not None else fx.get("tool")
        args = parse_json(_text_arg(o.arguments)) if o.arguments is not None else fx.get("arguments")
        pop = _text_arg(o.pop) if o.pop is not None else fx.get("pop_jwt")
        at = o.at or fx.get("verification_time")
        now = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp() if at else datetime.now().timestamp()
    except Exception as e:  # noqa: BLE001
        print(f"deny: input: {e}")
        return 1
    if not anchors or not isinstance(tool, str):
        print("deny: input: need a trust anchor and a tool")
        return 1
    try:
        verify(chain, anchors, tool, args, pop, now, aud)
    except Deny as e:
        print(f"deny: {e}")
        return 1
    print("permit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
