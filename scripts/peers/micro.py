"""In-process peers for scripts/compare-peers: token verification and per-call authorisation.

Prints one JSON object of microseconds per operation (median of several timeit repeats):
  raw_ed25519_verify   OpenSSL Ed25519 verify through `cryptography` (the floor)
  pyjwt_eddsa_decode   PyJWT 2.x decoding a badge-like EdDSA token (iss, aud, exp checked)
  tenuo_authorize_pop  tenuo 0.3.x Authorizer.authorize with a PoP signature, 6 constraints
  tenuo_check_6        tenuo Warrant.check_constraints, the same 6 constraints (no crypto)

The token and the constraints mirror the Swift benchmarks' (Benchmarks/): a badge with the same
claims, and subpath / url / range / one_of / pattern / shell on the same argument values.
"""

import json
import statistics
import time
import timeit
import uuid

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import tenuo_core as tenuo


def per_op(fn, number):
    runs = timeit.repeat(fn, number=number, repeat=5)
    return statistics.median(runs) / number * 1e6


def token_verify():
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    now = int(time.time())
    claims = {
        "iss": "https://registry.example", "sub": "did:key:z6Mk-example", "aud": ["svc"], "iat": now, "nbf": now,
        "exp": now + 3600, "jti": str(uuid.uuid4()), "ial": "1", "domain": "agent.example", "workspace": "default",
        "agent_id": "a1",
    }
    token = jwt.encode(claims, key, algorithm="EdDSA", headers={"typ": "tessera-badge+jwt", "kid": "k1"})
    message, signature = b"tessera benchmark message", key.sign(b"tessera benchmark message")
    options = {"require": ["exp", "iss", "aud"]}
    jwt.decode(token, public, algorithms=["EdDSA"], audience="svc", issuer="https://registry.example", options=options)
    return {
        "raw_ed25519_verify": per_op(lambda: public.verify(signature, message), 3000),
        "pyjwt_eddsa_decode": per_op(
            lambda: jwt.decode(token, public, algorithms=["EdDSA"], audience="svc", issuer="https://registry.example", options=options),
            3000,
        ),
    }


def authorisation():
    root, holder = tenuo.SigningKey.generate(), tenuo.SigningKey.generate()
    capabilities = {
        "call": {
            "path": tenuo.Subpath("/srv/data"),
            "url": tenuo.UrlSafe(allow_domains=["api.example.com"]),
            "amount": tenuo.Range(0, 1000),
            "to": tenuo.OneOf(["payroll", "vendors"]),
            "name": tenuo.Pattern("report-*.csv"),
            "cmd": tenuo.Shlex(allow=["git"]),
        }
    }
    warrant = tenuo.Warrant.issue(root, capabilities=capabilities, ttl_seconds=3600, holder=holder.public_key)
    authorizer = tenuo.Authorizer(trusted_roots=[root.public_key])
    arguments = {
        "path": "/srv/data/reports/q3.csv", "url": "https://api.example.com/v1/rates", "amount": 250, "to": "payroll",
        "name": "report-q3.csv", "cmd": "git log --oneline",
    }
    pop = warrant.sign(holder, "call", arguments, int(time.time()))
    authorizer.authorize(warrant, "call", arguments, pop)  # raises if the setup is wrong
    assert warrant.check_constraints("call", arguments) is None
    return {
        "tenuo_authorize_pop": per_op(lambda: authorizer.authorize(warrant, "call", arguments, pop), 2000),
        "tenuo_check_6": per_op(lambda: warrant.check_constraints("call", arguments), 20000),
    }


if __name__ == "__main__":
    result = token_verify()
    result.update(authorisation())
    print(json.dumps(result))
