"""In-process peers for scripts/compare-peers: token verification and per-call authorisation.

Prints one JSON object of microseconds per operation (median of several timeit repeats):
  raw_ed25519_verify         OpenSSL Ed25519 verify through `cryptography` (the floor)
  pyjwt_eddsa_decode         PyJWT 2.x decoding a badge-like EdDSA token (iss, aud, exp checked)
  tenuo_authorize_pop        tenuo 0.3.x Authorizer.authorize with a PoP signature, 6 constraints
  tenuo_check_6              tenuo Warrant.check_constraints, the same 6 constraints (no crypto)
  cedar_is_authorized        cedarpy 4.x is_authorized: one `permit` whose `when` mirrors the 6
                             constraints (CEDAR_POLICY_6 below)
  cedar_is_authorized_plain  cedarpy is_authorized: 10 allowed tools (actions), 10 path globs
                             (CEDAR_POLICY_PLAIN), the twin of "evaluate allow (10 tools, 10 globs)"
  cedar_batch100_per_request cedarpy is_authorized_batch, 100 requests per call, per request: the
                             6-constraint policy with the Python<->Rust crossing amortised

The token and the constraints mirror the Swift benchmarks' (Benchmarks/): a badge with the same
claims, and subpath / url / range / one_of / pattern / shell on the same argument values.

Cedar is given its fastest honest path: the policy set and the (empty) entity set are parsed once
into cedarpy's PolicySet / Entities handles and reused, as Tessera reuses its Evaluator; each call
still pays cedarpy's own marshalling (the context dict to JSON, the answer from JSON), which is
what a Python caller of Cedar pays. Before timing, each policy is checked to answer Allow for the
benchmark arguments and Deny for violating ones.

What Cedar cannot express identically (its `like` is a glob over the raw string, `*` matching any
characters including "/"; there is no path, URL or shell parser):
  subpath /srv/data      `context.path like "/srv/data/*"`: no normalisation, so
                         "/srv/data/../../etc/passwd" is allowed; Tessera resolves "." and ".."
                         segments and refuses it. Tessera also allows "/srv/data" itself.
  url                    `like "https://api.example.com/v1/*"` or `like "https://*.docs.example.com/v1/*"`
                         compares text, not a parsed URL: the second glob also matches
                         "https://evil.test/x.docs.example.com/v1/..." and neither handles
                         userinfo, ports, percent-encoding or a case-different host the way a URL
                         parser does. Tessera parses scheme, host and path and compares each.
  range 0..1000          `context.amount >= 0 && context.amount <= 1000`: same meaning for
                         integers; Cedar has no JSON numbers other than 64-bit Longs (250.5 cannot
                         be sent), Tessera compares any JSON number as an exact decimal.
  one_of                 `["ops", "payroll", "vendors"].contains(context.to)`: identical.
  pattern report-*.csv   `like "report-*.csv"`: the same glob text, but Cedar's `*` also spans "/"
                         ("report-a/b.csv" is allowed); Tessera's pattern is a resource glob over a
                         normalised path, `*` within one segment.
  shell git status|log * `context.cmd == "git status" || context.cmd like "git log *"`: text only,
                         so "git log -1; rm -rf /" and "git log $(id)" are allowed; Tessera splits
                         POSIX words and refuses shell metacharacters (; | & $ ` > < ...).
So Cedar's policy here is looser than Tessera's constraints and never more work; the comparison
favours Cedar. Cedar also keeps no session: no call budget, no expiry, no receipt.
"""

import json
import statistics
import time
import timeit
import uuid

import cedarpy
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


CEDAR_POLICY_6 = """permit (
  principal == Agent::"a",
  action == Action::"call",
  resource == Tool::"call"
) when {
  context.path like "/srv/data/*" &&
  (context.url like "https://api.example.com/v1/*" || context.url like "https://*.docs.example.com/v1/*") &&
  context.amount >= 0 && context.amount <= 1000 &&
  ["ops", "payroll", "vendors"].contains(context.to) &&
  context.name like "report-*.csv" &&
  (context.cmd == "git status" || context.cmd like "git log *")
};"""

CEDAR_POLICY_PLAIN = """permit (
  principal == Agent::"a",
  action in [%s],
  resource == Resource::"files"
) when { %s };""" % (
    ", ".join(f'Action::"tool{i}"' for i in range(10)),
    " || ".join(f'context.path like "/data/{i}/*"' for i in range(10)),
)


def cedar():
    policy6, plain = cedarpy.PolicySet.from_str(CEDAR_POLICY_6), cedarpy.PolicySet.from_str(CEDAR_POLICY_PLAIN)
    entities = cedarpy.Entities.from_json_str("[]")
    arguments = {
        "path": "/srv/data/reports/q3.csv", "url": "https://api.example.com/v1/rates", "amount": 250, "to": "payroll",
        "name": "report-q3.csv", "cmd": "git log --oneline",
    }
    request = {"principal": 'Agent::"a"', "action": 'Action::"call"', "resource": 'Tool::"call"', "context": arguments}
    plain_request = {"principal": 'Agent::"a"', "action": 'Action::"tool9"', "resource": 'Resource::"files"',
                     "context": {"path": "/data/9/reports/q3.csv"}}

    def decision(req, policies):
        result = cedarpy.is_authorized(req, policies, entities)
        assert not result.diagnostics.errors, result.diagnostics.errors
        return result.decision

    assert decision(request, policy6) == cedarpy.Decision.Allow
    for name, value in [("amount", 5000), ("to", "attacker"), ("name", "report-q3.exe"), ("path", "/etc/passwd"),
                        ("url", "https://evil.example/v1/rates"), ("cmd", "git push")]:
        assert decision({**request, "context": {**arguments, name: value}}, policy6) == cedarpy.Decision.Deny, name
    assert decision(plain_request, plain) == cedarpy.Decision.Allow
    assert decision({**plain_request, "action": 'Action::"other"'}, plain) == cedarpy.Decision.Deny
    assert decision({**plain_request, "context": {"path": "/etc/passwd"}}, plain) == cedarpy.Decision.Deny
    batch = [request] * 100
    assert all(r.allowed for r in cedarpy.is_authorized_batch(batch, policy6, entities))
    return {
        "cedar_is_authorized": per_op(lambda: cedarpy.is_authorized(request, policy6, entities), 3000),
        "cedar_is_authorized_plain": per_op(lambda: cedarpy.is_authorized(plain_request, plain, entities), 3000),
        "cedar_batch100_per_request": per_op(lambda: cedarpy.is_authorized_batch(batch, policy6, entities), 50) / 100,
    }


if __name__ == "__main__":
    result = token_verify()
    result.update(authorisation())
    result.update(cedar())
    print(json.dumps(result))
