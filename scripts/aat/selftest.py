#!/usr/bin/env python3
"""Self-test for verify_chain.py against the Ardur draft-01 fixture and variants.

The Ardur fixture generator (go/cmd/aat-draft01-fixture in ArdurAI/ardur) derives
every key from a fixed seed byte repeated 32 times (root 0x11, planner 0x22,
worker 0x33, leaf 0x44). That lets this script re-sign tampered tokens, so the
variants reach the attenuation, linkage and PoP checks instead of failing at
the first signature check.

    PYTHONPATH=/tmp/aatpy python3 scripts/aat/selftest.py
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import verify_chain as vc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "Tests", "Fixtures", "aat", "ardur-draft01-v0.2.json")
KEYS = {name: Ed25519PrivateKey.from_private_bytes(bytes([seed]) * 32)
        for name, seed in (("root", 0x11), ("planner", 0x22), ("worker", 0x33), ("leaf", 0x44))}


def payload(compact: str) -> dict:
    return json.loads(vc.b64url_decode(compact.split(".")[1]))


def sign(claims: dict, key: str, header=None, raw: bytes | None = None) -> str:
    h = vc.b64url(json.dumps(header or {"alg": "EdDSA"}, separators=(",", ":")).encode())
    p = vc.b64url(raw if raw is not None else json.dumps(claims, separators=(",", ":")).encode())
    return f"{h}.{p}." + vc.b64url(KEYS[key].sign(f"{h}.{p}".encode()))


def pop_sign(claims: dict, key: str = "leaf") -> str:
    return sign(claims, key, raw=vc.jcs(claims).encode())


def par_hash(compact: str) -> str:
    return vc.b64url(hashlib.sha256(compact.rsplit(".", 1)[0].encode()).digest())


def run(fx, **over) -> str:
    args = dict(chain=fx["chain"], anchors=[fx["public_keys"]["root_trust_anchor"]], tool=fx["tool"],
                args=fx["arguments"], pop=fx["pop_jwt"], now=1893456000, aud=fx["audience"])
    args.update(over)
    try:
        vc.verify(**args)
        return "permit"
    except vc.Deny as e:
        return f"deny: {e}"


def main() -> int:
    fx = json.load(open(FIXTURE))
    root, mid, leaf = fx["chain"]
    leaf_claims, pop_claims = payload(leaf), payload(fx["pop_jwt"])

    def leaf_with(**changes):
        c = copy.deepcopy(leaf_claims)
        c.update(changes)
        return [root, mid, sign(c, "worker")]

    def leaf_constraint(constraint):
        c = copy.deepcopy(leaf_claims)
        c["authorization_details"][0]["tools"][fx["tool"]]["path"] = constraint
        return [root, mid, sign(c, "worker")]

    def pop_with(**changes):
        c = dict(pop_claims)
        c.update(changes)
        return pop_sign(c)

    forged = leaf.split(".")
    forged_claims = dict(leaf_claims, par_hash="A" * 43)
    forged[1] = vc.b64url(json.dumps(forged_claims, separators=(",", ":")).encode())
    noncanon = pop_claims | {}
    planner_jwk = fx["public_keys"]["planner_holder"]

    cases = [
        ("fixture as published", {}, "permit"),
        ("fixture, args given with other key order/spacing", dict(args=json.loads('{ "path" : "/data/a.txt" }')), "permit"),
        ("leaf par_hash changed, re-signed", dict(chain=leaf_with(par_hash="A" * 43)), "4q"),
        ("leaf par_hash changed, not re-signed", dict(chain=[root, mid, ".".join(forged)]), "4b"),
        ("leaf widened: one_of adds /data/c.txt", dict(chain=leaf_constraint(
            {"constraint_type": "one_of", "values": ["/data/a.txt", "/data/c.txt"]})), "4p4"),
        ("leaf widened: wildcard under one_of", dict(chain=leaf_constraint({"constraint_type": "wildcard"})), "4p4"),
        ("leaf exact value outside parent one_of", dict(chain=leaf_constraint(
            {"constraint_type": "exact", "value": "/data/c.txt"}), args={"path": "/data/c.txt"},
            pop=pop_with(hta={"path": "/data/c.txt"})), "4p4"),
        ("leaf one_of narrower than parent one_of", dict(chain=leaf_constraint(
            {"constraint_type": "one_of", "values": ["/data/a.txt"]})), "permit"),
        ("leaf adds a tool", dict(chain=leaf_with(authorization_details=[{"type": vc.AAT_TYPE, "tools": {
            fx["tool"]: {"path": {"constraint_type": "exact", "value": "/data/a.txt"}},
            "https://tools.example/write_file": {}}}])), "4p1"),
        ("leaf drops the path key", dict(chain=leaf_with(authorization_details=[{"type": vc.AAT_TYPE, "tools": {
            fx["tool"]: {}}}])), "4p2"),
        ("leaf unknown constraint_type", dict(chain=leaf_constraint({"constraint_type": "regex", "pattern": ".*"})), "4o"),
        ("leaf exp after parent exp", dict(chain=leaf_with(exp=1893458701)), "4h"),
        ("leaf del_depth skips", dict(chain=leaf_with(del_depth=3, del_max_depth=3)), "4d"),
        ("leaf iss is wrong thumbprint", dict(chain=leaf_with(iss=vc.thumbprint_uri(planner_jwk))), "4c"),
        ("PoP aat_tool = write_file (re-signed)", dict(pop=pop_with(aat_tool="https://tools.example/write_file")), "7e"),
        ("invoked tool = write_file", dict(tool="https://tools.example/write_file"), "6b"),
        ("PoP hta differs from args", dict(pop=pop_with(hta={"path": "/data/b.txt"})), "7f"),
        ("args /data/b.txt (leaf is exact a.txt)", dict(args={"path": "/data/b.txt"}), "6b"),
        ("extra argument (closed world)", dict(args={"path": "/data/a.txt", "mode": "r"}), "6b"),
        ("PoP aat_id wrong", dict(pop=pop_with(aat_id="019a0000-0000-7000-8000-000000000102")), "7c"),
        ("wrong audience", dict(aud="https://other.example"), "7d"),
        ("no audience required", dict(aud=None), "permit"),
        ("PoP signed by worker, not leaf", dict(pop=sign(pop_claims, "worker", raw=vc.jcs(pop_claims).encode())), "7b"),
        ("PoP payload not JCS", dict(pop=sign(noncanon, "leaf", raw=json.dumps(noncanon).encode())), "7b"),
        ("time +31s (PoP window)", dict(now=1893456031), "7g"),
        ("time +30s (edge of PoP window)", dict(now=1893456030), "permit"),
        ("time 00:30:00Z (leaf expired)", dict(now=1893457800), "4i"),
        ("time 23:59:29Z previous day (iat skew)", dict(now=1893455969), "3f"),
        ("trust anchor = planner key", dict(anchors=[planner_jwk]), "3b"),
        ("root only, PoP from leaf key", dict(chain=[root]), "7b"),
        ("root only, PoP by planner for root jti", dict(chain=[root], pop=pop_sign(
            dict(pop_claims, aat_id=payload(root)["jti"]), "planner")), "permit"),
        ("middle token missing", dict(chain=[root, leaf]), "4b"),
        ("duplicate token", dict(chain=[root, mid, mid]), "2c"),
        ("root alg none", dict(chain=[sign(payload(root), "root", header={"alg": "none"}), mid, leaf]), "3a"),
        ("empty chain", dict(chain=[]), "1"),
    ]
    failed = 0
    for name, over, want in cases:
        got = run(fx, **over)
        ok = got == "permit" if want == "permit" else got.startswith(f"deny: {want}")
        failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name:48s} -> {got}")

    # Constraint check / subsumption spot checks (§3.4, §4.5).
    ex = lambda v: {"constraint_type": "exact", "value": v}  # noqa: E731
    rg = lambda **k: {"constraint_type": "range", **k}  # noqa: E731
    wc = {"constraint_type": "wildcard"}
    units = [
        (vc.check(rg(min=0, max=10, max_inclusive=False), 10), False),
        (vc.check(rg(min=0, max=10), 10.0), True),
        (vc.check(rg(max=10), True), False),                     # booleans are not numbers
        (vc.check(ex(1), 1.0), True), (vc.check(ex(1), True), False),
        (vc.check({"constraint_type": "contains", "required": ["a"]}, ["a", "b"]), True),
        (vc.check({"constraint_type": "subset", "allowed": ["a"]}, ["a", "b"]), False),
        (vc.check({"constraint_type": "not_one_of", "excluded": ["x"]}, "x"), False),
        (vc.check({"constraint_type": "any", "constraints": [ex("a"), ex("b")]}, "b"), True),
        (vc.check({"constraint_type": "all", "constraints": [rg(min=0), rg(max=5)]}, 6), False),
        (vc.subsumes(rg(min=0, max=5), rg(min=0, max=10)), True),
        (vc.subsumes(rg(min=0), rg(min=0, max=10)), False),       # dropped max bound
        (vc.subsumes(rg(min=0, min_inclusive=False), rg(min=0)), True),
        (vc.subsumes(rg(min=0), rg(min=0, min_inclusive=False)), False),
        (vc.subsumes(ex(5), rg(min=0, max=10)), True), (vc.subsumes(ex("5"), rg(min=0, max=10)), False),
        (vc.subsumes(wc, ex("a")), False), (vc.subsumes(ex("a"), wc), True), (vc.subsumes(wc, wc), True),
        (vc.subsumes({"constraint_type": "not_one_of", "excluded": ["x", "y"]},
                     {"constraint_type": "not_one_of", "excluded": ["x"]}), True),
        (vc.subsumes({"constraint_type": "not_one_of", "excluded": ["x"]},
                     {"constraint_type": "one_of", "values": ["a"]}), False),
        (vc.subsumes({"constraint_type": "contains", "required": ["a", "b"]},
                     {"constraint_type": "contains", "required": ["a"]}), True),
        (vc.subsumes({"constraint_type": "subset", "allowed": ["a", "b"]},
                     {"constraint_type": "subset", "allowed": ["a"]}), False),
        (vc.subsumes({"constraint_type": "any", "constraints": [ex("pdf"), ex("csv")]},
                     {"constraint_type": "any", "constraints": [ex("pdf"), ex("csv"), ex("xlsx")]}), True),
        (vc.subsumes({"constraint_type": "any", "constraints": [ex("pdf"), ex("docx")]},
                     {"constraint_type": "any", "constraints": [ex("pdf"), ex("csv"), ex("xlsx")]}), False),
        (vc.subsumes({"constraint_type": "any", "constraints": [ex("pdf")]},
                     {"constraint_type": "any", "constraints": [{"constraint_type": "one_of", "values": ["pdf", "csv"]}]}), True),
        # all: a greedy first match would take rg(0..5) for the first parent clause and dead-end
        (vc.subsumes({"constraint_type": "all", "constraints": [rg(min=0, max=5), rg(min=1, max=10)]},
                     {"constraint_type": "all", "constraints": [rg(min=0, max=10), rg(min=0, max=5)]}), True),
        (vc.subsumes({"constraint_type": "all", "constraints": [rg(min=0, max=5)]},
                     {"constraint_type": "all", "constraints": [rg(min=0, max=10), rg(max=5)]}), False),
        # RFC 8785 number serialization samples
        (vc.jcs([1e21, 1e-7, 0.000001, 1.5, -0.0, 100, 1e23, 333333333.3333333]),
         "[1e+21,1e-7,0.000001,1.5,0,100,1e+23,333333333.3333333]"),
        (vc.jcs({"b": 1, "a": {"€": 1, "\r": 2}}), '{"a":{"\\r":2,"€":1},"b":1}'),
    ]
    bad = [i for i, (got, want) in enumerate(units) if got != want]
    print(f"{'ok  ' if not bad else 'FAIL'} {len(units)} constraint/JCS unit checks" + (f" failing: {bad}" if bad else ""))
    failed += len(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
