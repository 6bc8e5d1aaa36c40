"""Prepares scripts/load-oauth's runs against a live `tessera serve` (release build):

- a template `load.time` (get_time) on resource `time`, and a registered agent whose key signs
  N unique client assertions (each is single use) → $WORK/assertions.lua, a wrk script that sends
  one per request;
- a hand-issued passport and an OAuth-issued one (client_credentials, bearer) for the same mission
  and audience → $WORK/hand.token, $WORK/oauth.token;
- the authorization-code grant measured by this client: K full flows (authorize, sign-in, consent)
  made first, then the K codes redeemed by 8 threads; prints the redemption p50/p99 and the rate
  (a lower bound: the client is Python) as a markdown row on stdout.
Environment: as scripts/oauth/common.py, plus WORK, ASSERTIONS (default 40000), CODES (default 40).
"""
import concurrent.futures
import os
import statistics
import time
import uuid

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common import ADMIN, ENDPOINT, SERVER, api, b64url, code_for, ensure_template, ensure_user, register, redeem

WORK = os.environ["WORK"]
N = int(os.environ.get("ASSERTIONS", "40000"))
K = int(os.environ.get("CODES", "40"))

ensure_template("load.time", {"allowed_tools": ["get_time"]})
key = Ed25519PrivateKey.generate()
raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
agent = api("POST", "/v1/agents", {"name": "load-agent", "public_jwk": {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw)}}).json()["id"]
now = int(time.time())
with open(f"{WORK}/assertions.lua", "w") as out:
    out.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nlocal bodies = {\n')
    for _ in range(N):
        a = jwt.encode({"iss": agent, "sub": agent, "aud": SERVER, "iat": now, "exp": now + 290, "jti": str(uuid.uuid4())}, key, algorithm="EdDSA")
        out.write(f'"grant_type=client_credentials&scope=load.time&resource={requests.utils.quote(ENDPOINT, safe="")}'
                  f'&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={a}",\n')
    # Threads take interleaved slices, so no assertion is sent twice.
    out.write("}\nlocal i = 0\nlocal step = 1\nfunction setup(thread) thread:set('offset', tostring(setup_count or 0)) setup_count = (setup_count or 0) + 1 end\n")
    out.write("function init(args) i = tonumber(wrk.thread:get('offset')) + 1 step = 2 end\n")
    out.write("function request() local body = bodies[i] i = i + step if body == nil then body = bodies[1] end return wrk.format(nil, nil, nil, body) end\n")

mission = {"agent_id": agent, "mission": "load", "allowed_tools": ["get_time"]}
hand = api("POST", "/issue", {"mission": mission, "ttl_s": 3600, "audience": [ENDPOINT]}).json()["token"]
open(f"{WORK}/hand.token", "w").write(hand)
fresh = jwt.encode({"iss": agent, "sub": agent, "aud": SERVER, "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}, key, algorithm="EdDSA")
oauth = requests.post(SERVER + "/oauth/token", data={
    "grant_type": "client_credentials", "scope": "load.time", "resource": ENDPOINT,
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": fresh}, timeout=30).json()["access_token"]
open(f"{WORK}/oauth.token", "w").write(oauth)

ensure_user()
_, client = register(redirect_uris=["http://127.0.0.1/cb"])
codes = [code_for(client["client_id"], "http://127.0.0.1/cb", scope="load.time")[:2] for _ in range(K)]


def one(pair):
    code, verifier = pair
    started = time.perf_counter()
    response = redeem(client["client_id"], code, verifier, "http://127.0.0.1/cb")
    return time.perf_counter() - started, response.status_code


started = time.perf_counter()
with concurrent.futures.ThreadPoolExecutor(8) as pool:
    results = list(pool.map(one, codes))
elapsed = time.perf_counter() - started
latencies = sorted(r[0] for r in results)
ok = sum(1 for r in results if r[1] == 200)
p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
print(f"| POST /oauth/token authorization_code ({K} codes, 8 Python threads: client-bound lower bound) | {ok / elapsed:.0f} "
      f"| {statistics.median(latencies) * 1000:.2f}ms | {p99 * 1000:.2f}ms | {K - ok} |")
