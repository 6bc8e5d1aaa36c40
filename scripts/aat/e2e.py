#!/usr/bin/env python3
"""AAT sessions bound to Ardur mission declarations, end to end, against real `tessera serve`
processes (embedded store, temporary state directories) and the `tessera aat verify` CLI.

Everything Tessera is given here is made by this script from the texts (PyJWT + cryptography,
plus scripts/aat/verify_chain.py's JCS and thumbprint helpers): the keys, the AAT chains, the
draft-01 PoP proofs, the mission declarations and their IETF status lists, which a loopback HTTP
server in this process serves. Two servers run:

  optout  flags, --aat-pop-opt-out: the seed scenario of Ardur's test_http.py (TestHTTPAATInterop,
          a bearer-mode AAT with require_pop:false) and the two TestHTTPAATPoP HTTP checks;
  strict  a JSON config file (aat_trust_anchors, md_issuers, md_origins), no opt-out: a real
          Ed25519 holder-bound chain with per-call proofs, hostile mission declarations and
          hostile chains.

Section (i) starts a third, `statusttl`: the strict server's config plus status_list_ttl_seconds 1,
so a declaration revoked (or whose status list disappears) mid-session stops the session within
about a second.

Sections: (a) seed scenario, (b) PoP rules, (c) holder-bound chain, (g) the same chain through the
independent verifier and the CLI, (d) hostile mission declarations, (e) hostile chains,
(f) `tessera aat verify` on the Ardur draft-01 fixture, (h) Tessera as the root issuer (`tessera
passport issue --format aat`, `/issue` format aat, `tessera aat derive` and `tessera aat pop`, the
server's own JWKS as the independent verifier's trust anchor, revocation of the root), (i) a
declaration revoked mid-session, and its status list gone (404), with a 1 s status-list TTL, (j) the
hostile review's regressions on the strict and opt-out servers (a jti planted in another chain's
lineage, a refused start writing none, revocation of the root reaching the session; an AAT squatting
a passport's jti or a ses_ id; a closed no-argument tool at /issue format aat; a chain of wide `all`
trees refused quickly while /health answers; end/attest of a key-bound session only with the
holder's proof; a mission's delegation limits on the chain's own depth; no opt-out for the server's
own roots; agent_id from the root; jtis printable ASCII only).

Environment: TESSERA_BIN (default .build/debug/tessera); AAT_E2E_KEEP=1 keeps the temporary
directory (logs, state, keys). Prints one line per check and "N passed, N failed"; exits 1 on any
failure.
"""
import base64
import copy
import hashlib
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
import uuid
import zlib

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import verify_chain as vc  # noqa: E402  (the independent draft-01 verifier: JCS, thumbprints, §7)

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.join(REPO, "Tests", "Fixtures", "aat", "ardur-draft01-v0.2.json")
BIN = os.path.abspath(os.environ.get("TESSERA_BIN") or os.path.join(REPO, ".build", "debug", "tessera"))
TOKEN = "tsk_" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")

TENUO_ISS = "https://tenuo.example/issuer"          # the seed's AAT root issuer (ES256)
MD_ISS = "vibap-governance-proxy"                    # the seed's mission-declaration issuer
ROOT_ISS = "https://aat-root.e2e.example"            # the Ed25519 root of sections c, d, e
TOOL = "https://tools.example/read_file"
START_TOOL = "tessera:session/start"
DELEGATE_TOOL = "delegate_passport"
A_TXT, B_TXT, C_TXT = "/data/a.txt", "/data/b.txt", "/data/c.txt"

PASSED, FAILED = 0, 0
FAILURES = []
STARTED = []  # every server and HTTP host this run started, stopped on the way out


def check(name, condition, detail=""):
    global PASSED, FAILED
    if condition:
        PASSED += 1
        print(f"ok   {name}", flush=True)
    else:
        FAILED += 1
        FAILURES.append(name)
        text = detail if isinstance(detail, str) else repr(detail)
        print(f"FAIL {name} {text[:800]}", flush=True)


def section(title):
    print(f"-- {title}", flush=True)


# -- Encoding helpers ---------------------------------------------------------------------------

def b64(data):
    return vc.b64url(data)


def compact_json(value):
    return json.dumps(value, separators=(",", ":")).encode()


def payload_of(token):
    return json.loads(vc.b64url_decode(token.split(".")[1]))


def new_jti():
    return str(uuid.uuid4())


def now():
    return int(time.time())


class Ed25519Key:
    alg = "EdDSA"

    def __init__(self):
        self.private = ed25519.Ed25519PrivateKey.generate()
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}
        # The private JWK (RFC 8037: d and x), as the CLI's --key files take it.
        self.private_jwk = dict(self.jwk, d=b64(self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())))

    def sign(self, data):
        return self.private.sign(data)


class P256Key:
    alg = "ES256"

    def __init__(self):
        self.private = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private.public_key().public_numbers()
        self.jwk = {"kty": "EC", "crv": "P-256", "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}

    def sign(self, data):
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS form (RFC 7518 §3.4), not DER


def sign_jws(key, claims=None, header=None, raw=None):
    """A compact JWS; the payload is `raw` bytes as given, else the claims as compact JSON."""
    h = b64(compact_json(header or {"alg": key.alg}))
    p = b64(raw if raw is not None else compact_json(claims))
    return f"{h}.{p}." + b64(key.sign(f"{h}.{p}".encode()))


def par_hash(parent_token):
    """draft-01 §4.6: base64url(SHA-256(ASCII parent JWS Signing Input))."""
    return b64(hashlib.sha256(parent_token.rsplit(".", 1)[0].encode("ascii")).digest())


def pop(key, aat_id, tool, args, aud, iat=None, jti=None, canonical=True, **extra):
    """A draft-01 §5.2 PoP JWT: header {"alg":…}, JCS payload, signed by the leaf holder."""
    claims = {"aat_id": aat_id, "aat_tool": tool, "hta": args, "iat": now() if iat is None else iat, "jti": jti or new_jti()}
    if aud is not None:
        claims["aat_aud"] = aud
    claims.update(extra)
    raw = vc.jcs(claims).encode() if canonical else json.dumps(claims, indent=1).encode()
    return sign_jws(key, raw=raw)


def md_digest(claims):
    """mission_digest: "sha-256:" + hex(SHA-256(JCS(the declaration's payload)))."""
    return "sha-256:" + hashlib.sha256(vc.jcs(claims).encode()).hexdigest()


def status_list_bytes(revoked, size=16):
    """An IETF Token Status List (1 bit): index i is bit i % 8 (LSB first) of byte i // 8."""
    out = bytearray(size)
    for i in revoked:
        out[i // 8] |= 1 << (i % 8)
    return bytes(out)


# -- HTTP ---------------------------------------------------------------------------------------

def call(method, url, body=None, token=None):
    """(status, parsed JSON or text) for one exchange; HTTP errors are answers too."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def error_of(body):
    if isinstance(body, dict):
        e = body.get("error")
        if isinstance(e, str):
            return e
        if isinstance(e, dict):
            return str(e.get("message") or e.get("type") or e)
    return str(body)


def step_named(error, step):
    """The error names the draft-01 §7 step as a word (e.g. "step 4q")."""
    return re.search(r"(?<![0-9a-z])" + re.escape(step) + r"(?![0-9a-z])", error) is not None


class MissionHost:
    """A loopback HTTP server for mission declarations and status lists; it records each GET."""

    def __init__(self):
        self.routes = {}
        self.hits = []
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                host.hits.append(self.path)
                found = host.routes.get(self.path)
                body = (found or "not found").encode()
                self.send_response(200 if found is not None else 404)
                self.send_header("Content-Type", "application/jwt" if found is not None else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        STARTED.append(self)

    def put(self, path, body):
        self.routes[path] = body
        return self.origin + path

    def drop(self, path):
        """From now on `path` answers 404."""
        self.routes.pop(path, None)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Tessera:
    """One `tessera serve` on a free loopback port (--port 0; the port is read from its log)."""

    def __init__(self, work, name, args):
        self.name = name
        self.log_path = os.path.join(work, f"{name}.log")
        self.log = open(self.log_path, "wb")
        command = [BIN, "serve", "--state-dir", os.path.join(work, f"{name}-state"), "--port", "0",
                   "--bootstrap-mode", "token", "--bootstrap-token", TOKEN, *args]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        STARTED.append(self)
        deadline = time.time() + 60
        self.origin = None
        while time.time() < deadline:
            with open(self.log_path, "rb") as f:
                found = re.search(rb"listening on (http://127\.0\.0\.1:[0-9]+)", f.read())
            if found:
                self.origin = found.group(1).decode()
                break
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        if self.origin is None:
            sys.stderr.write(f"aat-e2e: tessera serve ({name}) did not start:\n{self.tail(80)}\n")
            raise SystemExit(1)

    def tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def post(self, path, body, token=None):
        return call("POST", self.origin + path, body, token=token)

    def receipts(self, jti):
        """(status, [receipt JWTs]) from GET /receipts?jti= (admin)."""
        status, body = call("GET", f"{self.origin}/receipts?jti={jti}", token=TOKEN)
        if status != 200:
            return status, []
        text = body if isinstance(body, str) else json.dumps(body)
        return status, [json.loads(line)["jwt"] for line in text.splitlines() if line.strip()]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


# -- Tokens -------------------------------------------------------------------------------------

def seed_md_claims(mission_id, status_url, idx=0, ttl=300, **overrides):
    """md-spec §1.6: vibap's `issue_passport(MissionPassport(...), extra_claims=v01_required_md_extras(...))`."""
    t = now()
    claims = {
        "iss": MD_ISS, "sub": "md-authority", "aud": "vibap-proxy", "iat": t, "nbf": t, "exp": t + ttl, "jti": new_jti(),
        "mission_id": mission_id, "mission": "authoritative AAT HTTP mission", "allowed_tools": ["read"],
        "forbidden_tools": [], "resource_scope": [], "max_tool_calls": 3, "max_duration_s": 300,
        "delegation_allowed": True, "max_delegation_depth": 2,
        "receipt_policy": {"level": "minimal"}, "conformance_profile": "Delegation-Core",
        "tool_manifest_digest": "sha-256:" + "a" * 64, "revocation_ref": f"{status_url}#idx={idx}",
        "governed_memory_stores": [], "probing_rate_limit": 10,
    }
    claims.update(overrides)
    return claims


def es256_jwt(key, claims):
    """PyJWT, as vibap signs (header {"alg":"ES256","typ":"JWT"})."""
    return jwt.encode(claims, key.private, algorithm="ES256")


def status_list_token(key, revoked=(), lst=None):
    t = now()
    if lst is None:
        lst = b64(zlib.compress(status_list_bytes(revoked)))
    return es256_jwt(key, {"iss": "test-status-authority", "sub": "v01-default-status-list", "iat": t, "exp": t + 3600,
                           "status_list": {"bits": 1, "lst": lst}})


def v01_default_status_path(mission_id):
    return "/status/v01-default-" + hashlib.sha256(mission_id.encode()).hexdigest()[:16] + ".jwt"


def seed_aat(key, mission_ref, tools, jti, cnf=None):
    """Ardur's `_issue_aat_http_token`, verbatim (draft-00 shaped: aat_type, a kid-only cnf)."""
    t = now()
    return jwt.encode({
        "iss": TENUO_ISS, "sub": "aat-http-agent", "iat": t, "exp": t + 300, "jti": jti, "aat_type": "delegation",
        "del_depth": 0, "del_max_depth": 2, "mission_ref": mission_ref,
        "authorization_details": [{"type": "attenuating_agent_token", "tools": {tool: {} for tool in tools}, "max_tool_calls": 2}],
        "cnf": cnf or {"jwk": {"kid": "holder-key"}},
    }, key.private, algorithm="ES256")


def root_aat(signer, holder, tools, mission_ref=None, iss=ROOT_ISS, jti=None, iat=None, exp=None, del_max_depth=2, header=None, **extra):
    t = now() - 5 if iat is None else iat
    claims = {"iss": iss, "jti": jti or new_jti(), "iat": t, "exp": t + 600 if exp is None else exp, "del_depth": 0,
              "del_max_depth": del_max_depth, "cnf": {"jwk": holder.jwk},
              "authorization_details": [{"type": vc.AAT_TYPE, "tools": tools}]}
    if mission_ref is not None:
        claims["mission_ref"] = mission_ref
    claims.update(extra)
    return sign_jws(signer, claims, header=header), claims


def derived_aat(parent_token, parent_claims, signer, holder, tools, header=None, raw=None, **overrides):
    """A draft-01 §6 derivation: signed by the parent's holder, iss its thumbprint URI, par_hash."""
    claims = {"iss": vc.thumbprint_uri(parent_claims["cnf"]["jwk"]), "jti": new_jti(), "iat": parent_claims["iat"],
              "exp": parent_claims["exp"], "del_depth": parent_claims["del_depth"] + 1,
              "del_max_depth": parent_claims["del_max_depth"], "par_hash": par_hash(parent_token),
              "cnf": {"jwk": holder.jwk}, "authorization_details": [{"type": vc.AAT_TYPE, "tools": tools}]}
    if "mission_ref" in parent_claims:
        claims["mission_ref"] = parent_claims["mission_ref"]
    claims.update(overrides)
    if header is not None and header.get("alg") == "none":
        # Not signable; a 64-byte filler keeps it a well-formed JWS, so only the alg refuses it.
        h = b64(compact_json(header))
        return f"{h}.{b64(compact_json(claims))}.{b64(bytes(64))}", claims
    return sign_jws(signer, claims, header=header, raw=raw), claims


def one_of(*values):
    return {"constraint_type": "one_of", "values": list(values)}


def exact(value):
    return {"constraint_type": "exact", "value": value}


def independent(chain, anchor_jwk, tool, args, proof, aud):
    """verify_chain.verify in process: "permit" or "deny: <step>: <reason>"."""
    try:
        vc.verify(chain, [anchor_jwk], tool, args, proof, time.time(), aud)
        return "permit"
    except vc.Deny as e:
        return f"deny: {e}"


def receipt_chain_problem(server, jwts):
    """What is wrong with a session's receipt chain (None: nothing), as the seed's verify_chain
    checks it: every signature under the server's JWKS, `seq` 0, 1, …, and each `prev` the
    SHA-256 (hex) of the previous receipt's JWS ("" for the first)."""
    if not jwts:
        return "no receipts"
    status, jwks = call("GET", server.origin + "/.well-known/jwks.json")
    keys = jwks.get("keys") if status == 200 and isinstance(jwks, dict) else None
    if not keys:
        return f"no JWKS ({status})"
    previous = ""
    for index, token in enumerate(jwts):
        kid = jwt.get_unverified_header(token).get("kid")
        verified = False
        for k in [k for k in keys if k.get("kid") == kid] or keys:
            try:
                pk = jwt.PyJWK(k)
                jwt.api_jws.PyJWS().decode_complete(token, key=pk.key, algorithms=[pk.algorithm_name])
                verified = True
                break
            except Exception:  # noqa: BLE001 - try the next key
                continue
        if not verified:
            return f"receipt {index}: signature does not verify under the JWKS"
        claims = payload_of(token)
        if claims.get("seq") != index:
            return f"receipt {index}: seq {claims.get('seq')}"
        if claims.get("prev") != previous:
            return f"receipt {index}: prev does not match the previous receipt"
        previous = hashlib.sha256(token.encode()).hexdigest()
    return None


def run(*args, timeout=60):
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout.strip(), result.stderr.strip()


# -- The scenario -------------------------------------------------------------------------------

class World:
    pass


def setup(work):
    w = World()
    w.work = work
    w.md = MissionHost()       # allow-listed with --md-origin / md_origins
    w.rogue = MissionHost()    # serves valid declarations too, but is not allow-listed
    w.es = P256Key()           # the seed's one key: AAT root, MD issuer, status authority
    w.root = Ed25519Key()      # the Ed25519 trust anchor of sections c, d, e
    keys = os.path.join(work, "keys")
    os.makedirs(keys)

    def write(name, value):
        path = os.path.join(keys, name)
        with open(path, "w") as f:
            json.dump(value, f)
        return path

    w.tenuo_file = write("tenuo-root.jwk", w.es.jwk)
    w.md_issuer_file = write("md-issuer.jwks", {"keys": [w.es.jwk]})
    w.root_file = write("ed25519-root.jwk", w.root.jwk)
    w.optout = Tessera(work, "optout", [
        "--aat-trust-anchor", f"{TENUO_ISS}={w.tenuo_file}", "--md-issuer", f"{MD_ISS}={w.md_issuer_file}",
        "--md-origin", w.md.origin, "--aat-pop-opt-out"])
    config = write("strict-config.json", {
        "aat_trust_anchors": {TENUO_ISS: w.tenuo_file, ROOT_ISS: w.root_file},
        "md_issuers": {MD_ISS: w.md_issuer_file},
        "md_origins": [w.md.origin],
    })
    w.strict = Tessera(work, "strict", ["--config", config])
    print(f"aat-e2e: optout {w.optout.origin}, strict {w.strict.origin}, declarations {w.md.origin}", flush=True)

    # The strict server's declarations: one status list (index 3 set), a good declaration.
    w.list_url = w.md.put("/status/e2e-list.jwt", status_list_token(w.es, revoked=[3]))
    w.good_claims = seed_md_claims("urn:e2e:mission:strict", w.list_url, idx=0, ttl=1800,
                                   mission="strict e2e mission", allowed_tools=["read", TOOL], max_tool_calls=10)
    w.good_url = w.md.put("/md/good.jwt", es256_jwt(w.es, w.good_claims))
    w.good_ref = {"uri": w.good_url, "mission_id": w.good_claims["mission_id"], "mission_digest": md_digest(w.good_claims)}
    return w


def section_a(w):
    section("(a) the seed: TestHTTPAATInterop on the opt-out server")
    s = w.optout
    mission_id = "urn:ardur:mission:aat:http"
    check("a: status list of the seed is vibap's (lst eJxjAAAAAQAB)", b64(zlib.compress(b"\x00")) == "eJxjAAAAAQAB")
    status_url = w.md.put(v01_default_status_path(mission_id), status_list_token(w.es, lst="eJxjAAAAAQAB"))
    md_claims = seed_md_claims(mission_id, status_url)
    md_url = w.md.put("/md/aat-http.jwt", es256_jwt(w.es, md_claims))
    digest = md_digest(md_claims)
    mission_ref = {"uri": md_url, "mission_id": mission_id, "mission_digest": digest}
    jti = new_jti()
    aat = seed_aat(w.es, mission_ref, ["read"], jti)

    status, start = s.post("/session/start", {"token_type": "aat", "token": aat, "require_pop": False})
    check("a: /session/start require_pop:false → 200", status == 200, (status, start))
    start = start if isinstance(start, dict) else {}
    check("a: session_id is the AAT jti", start.get("session_id") == jti, start)
    check("a: credential_format aat-compatible-jwt", start.get("credential_format") == "aat-compatible-jwt", start)
    check("a: allowed_tools [read], agent_id the AAT sub", start.get("allowed_tools") == ["read"] and start.get("agent_id") == "aat-http-agent", start)
    aat_claims = (start.get("claims") or {}).get("aat") or {}
    check("a: claims.aat.mission_digest is the declaration's digest", aat_claims.get("mission_digest") == digest, aat_claims)
    check("a: top-level mission_digest, when present, is the digest", start.get("mission_digest") in (None, digest), start.get("mission_digest"))
    check("a: budget is the AAT's 2 (narrower than the declaration's 3)", start.get("calls_remaining") == 2, start.get("calls_remaining"))

    status, body = s.post("/evaluate", {"session_id": jti, "tool_name": "read", "arguments": {}})
    check("a: /evaluate read → PERMIT", status == 200 and isinstance(body, dict) and body.get("decision") == "PERMIT", (status, body))
    check("a: the status list was fetched (revocation checked)", v01_default_status_path(mission_id) in w.md.hits, w.md.hits)

    status, delegated = s.post("/delegate", {
        "parent_token": aat, "child_agent_id": "aat-child", "child_mission": "subtask", "child_allowed_tools": ["read"],
        "child_max_tool_calls": 1, "delegation_request_id": "aat-http-child"})
    delegated = delegated if isinstance(delegated, dict) else {"raw": delegated}
    check("a: /delegate with the AAT as parent_token → 200", status == 200, (status, delegated))
    check("a: parent_jti is the AAT jti", delegated.get("parent_jti") == jti, delegated)
    check("a: child max_tool_calls 1", (delegated.get("child_claims") or {}).get("max_tool_calls") == 1, delegated.get("child_claims"))
    check("a: parent_calls_remaining_at_delegation 1", delegated.get("parent_calls_remaining_at_delegation") == 1, delegated)

    status, jwts = s.receipts(jti)
    claims = [payload_of(t) for t in jwts]
    check("a: GET /receipts?jti=<AAT jti> → 200", status == 200, status)
    check("a: receipt tools [read, delegate_passport]", [c.get("tool") for c in claims] == ["read", "delegate_passport"], [c.get("tool") for c in claims])
    check("a: every receipt's grant_id is the AAT jti", bool(claims) and {c.get("grant_id") for c in claims} == {jti}, [c.get("grant_id") for c in claims])
    evidence = (claims[0].get("evidence_proof_ref") if claims else None) or {}
    check("a: first receipt evidence_proof_ref.mission_digest is the digest", evidence.get("mission_digest") == digest, evidence)
    check("a: evidence_proof_ref is mission_binding with the AAT's mission_ref", evidence.get("type") == "mission_binding"
          and evidence.get("mission_ref") == mission_ref, evidence)
    problem = receipt_chain_problem(s, jwts)
    check("a: the receipt chain verifies (server JWKS signatures, seq from 0, prev = SHA-256 of the previous JWS)", problem is None, problem)
    status, body = s.post("/session/start", {"token_type": "aat", "token": aat, "require_pop": False})
    check("a: the same AAT again → 409 passport_already_used", status == 409 and error_of(body) == "passport_already_used", (status, body))

    child = delegated.get("child_token")
    status, body = s.post("/verify", {"token": child})
    check("a: the delegated child passport verifies before revocation", status == 200, (status, body))
    status, body = s.post("/revoke", {"jti": jti}, token=TOKEN)
    check("a: POST /revoke {jti: AAT jti} (admin) → 200", status == 200, (status, body))
    status, body = s.post("/evaluate", {"session_id": jti, "tool_name": "read", "arguments": {}})
    check("a: /evaluate after revocation → 403 passport_revoked", status == 403 and error_of(body) == "passport_revoked", (status, body))
    status, body = s.post("/verify", {"token": child})
    check("a: the delegated child is revoked with it", status == 403 and error_of(body) == "passport_revoked", (status, body))


def section_b(w):
    section("(b) PoP rules (TestHTTPAATPoP, and the server's opt-out policy)")
    s = w.optout
    mission_id = "urn:ardur:mission:aat:http-pop-default"
    status_url = w.md.put(v01_default_status_path(mission_id), status_list_token(w.es, lst="eJxjAAAAAQAB"))
    md_claims = seed_md_claims(mission_id, status_url)
    md_url = w.md.put("/md/aat-http-pop-default.jwt", es256_jwt(w.es, md_claims))
    ref = {"uri": md_url, "mission_id": mission_id, "mission_digest": md_digest(md_claims)}
    jti = new_jti()
    aat = seed_aat(w.es, ref, ["read"], jti)
    status, body = s.post("/session/start", {"token_type": "aat", "token": aat})
    check("b: cnf-bearing AAT without require_pop and without a proof → 403 naming PoP",
          status == 403 and "PoP" in error_of(body), (status, body))
    status, body = s.post("/session/start", {"token_type": "aat", "token": aat, "kb_jwt": "A" * 16384})
    check("b: kb_jwt of 16384 bytes → 400 MAX_KB_JWT_BYTES", status == 400 and "MAX_KB_JWT_BYTES" in error_of(body), (status, body))
    status, receipts = s.receipts(jti)
    check("b: the refused starts left no session (GET /receipts?jti= → 404)", status == 404, status)
    status, body = s.post("/session/start", {"token_type": "aat", "token": aat, "require_pop": False})
    check("b: the same AAT then starts with require_pop:false (nothing was spent)", status == 200, (status, body))

    # The strict server: require_pop:false is not this client's choice to make.
    holder = Ed25519Key()
    jti = new_jti()
    aat = seed_aat(w.es, w.good_ref, ["read"], jti, cnf={"jwk": holder.jwk})
    status, body = w.strict.post("/session/start", {"token_type": "aat", "token": aat, "require_pop": False})
    check("b: require_pop:false without --aat-pop-opt-out → 403 aat_pop_required",
          status == 403 and error_of(body).startswith("aat_pop_required"), (status, body))
    status, body = w.strict.post("/session/start", {"token_type": "aat", "token": aat})
    check("b: no proof on the strict server → 403 aat_pop_required naming PoP",
          status == 403 and error_of(body).startswith("aat_pop_required") and "PoP" in error_of(body), (status, body))
    status, body = w.strict.post("/session/start", {"token_type": "aat", "token": aat, "kb_jwt": "A" * 16384})
    check("b: oversized kb_jwt on the strict server → 400 MAX_KB_JWT_BYTES", status == 400 and "MAX_KB_JWT_BYTES" in error_of(body), (status, body))
    proof = pop(holder, jti, START_TOOL, {}, w.strict.origin)
    status, body = w.strict.post("/session/start", {"token_type": "aat", "token": aat, "pop": proof})
    check("b: the same ES256-rooted AAT with a start proof → 200", status == 200 and isinstance(body, dict)
          and body.get("session_id") == jti, (status, body))


def section_c(w):
    section("(c) a holder-bound Ed25519 chain: root → narrower child, start proof, per-call proofs")
    s = w.strict
    aud = s.origin
    a, b = Ed25519Key(), Ed25519Key()   # the root's holder (delegator), the child's holder (leaf)
    root, root_claims = root_aat(w.root, a, {TOOL: {"path": one_of(A_TXT, B_TXT)}}, mission_ref=w.good_ref)
    leaf, leaf_claims = derived_aat(root, root_claims, a, b, {TOOL: {"path": exact(A_TXT)}})
    jti = leaf_claims["jti"]
    w.c_chain, w.c_leaf_key, w.c_jti = [root, leaf], b, jti
    args_a, args_b = {"path": A_TXT}, {"path": B_TXT}
    check("c: the child's iss is the thumbprint URI of the root's holder key", leaf_claims["iss"] == vc.thumbprint_uri(a.jwk))
    check("c: the chain verifies independently (verify_chain.py, in process)",
          independent([root, leaf], w.root.jwk, TOOL, args_a, pop(b, jti, TOOL, args_a, aud), aud) == "permit")

    start_body = {"token_type": "aat", "token": leaf, "chain": [root]}
    status, body = s.post("/session/start", dict(start_body, pop=pop(b, jti, START_TOOL, {}, "https://elsewhere.example")))
    check("c: start proof for another audience → 401/403 aat_invalid 7d",
          status in (401, 403) and error_of(body).startswith("aat_invalid") and step_named(error_of(body), "7d"), (status, body))
    status, body = s.post("/session/start", dict(start_body, pop=pop(a, jti, START_TOOL, {}, aud)))
    check("c: start proof signed by the parent's key, not the leaf's → 401 aat_invalid 7b",
          status == 401 and error_of(body).startswith("aat_invalid") and step_named(error_of(body), "7b"), (status, body))
    status, body = s.post("/session/start", dict(start_body, pop=pop(b, jti, TOOL, {}, aud)))
    check("c: start proof for another aat_tool → 401/403 aat_invalid 7e",
          status in (401, 403) and error_of(body).startswith("aat_invalid") and step_named(error_of(body), "7e"), (status, body))
    status, body = s.post("/session/start", start_body)
    check("c: start without a proof → 403 aat_pop_required", status == 403 and error_of(body).startswith("aat_pop_required"), (status, body))
    start_proof = pop(b, jti, START_TOOL, {}, aud)
    status, start = s.post("/session/start", dict(start_body, pop=start_proof))
    check("c: start with chain + start proof → 200", status == 200, (status, start))
    start = start if isinstance(start, dict) else {}
    check("c: session_id is the leaf jti, credential_format aat-compatible-jwt",
          start.get("session_id") == jti and start.get("credential_format") == "aat-compatible-jwt", start)
    check("c: allowed_tools is the leaf's one tool", start.get("allowed_tools") == [TOOL], start.get("allowed_tools"))
    check("c: budget is the declaration's 10", start.get("calls_remaining") == 10, start.get("calls_remaining"))
    status, body = s.post("/session/start", dict(start_body, pop=pop(b, jti, START_TOOL, {}, aud)))
    check("c: the same chain again (fresh proof) → 409 passport_already_used", status == 409 and error_of(body) == "passport_already_used", (status, body))

    def evaluate(args, proof="__none__"):
        body = {"session_id": jti, "tool_name": TOOL, "arguments": args}
        if proof != "__none__":
            body["pop"] = proof
        return s.post("/evaluate", body)

    first = pop(b, jti, TOOL, args_a, aud)
    status, body = evaluate(args_a, first)
    check("c: evaluate a.txt with its proof → PERMIT", status == 200 and body.get("decision") == "PERMIT", (status, body))
    status, body = evaluate(args_a, first)
    check("c: the same proof replayed → 409 proof_replayed", status == 409 and error_of(body) == "proof_replayed", (status, body))
    status, body = evaluate(args_b, pop(b, jti, TOOL, args_b, aud))
    check("c: b.txt (outside the child's exact constraint) with a valid proof → DENY",
          status == 200 and isinstance(body, dict) and body.get("decision") == "DENY", (status, body))
    status, body = evaluate(args_a)
    check("c: no proof → 403 aat_pop_required", status == 403 and error_of(body).startswith("aat_pop_required"), (status, body))
    refusals = [
        ("a proof for another tool", pop(b, jti, "https://tools.example/write_file", args_a, aud), "7e"),
        ("a proof for other arguments (hta b.txt)", pop(b, jti, TOOL, args_b, aud), "7f"),
        ("a proof for another audience", pop(b, jti, TOOL, args_a, "https://elsewhere.example"), "7d"),
        ("a proof without aat_aud", pop(b, jti, TOOL, args_a, None), "7d"),
        ("a proof for another token (aat_id = root jti)", pop(b, root_claims["jti"], TOOL, args_a, aud), "7c"),
        ("a proof signed by the parent's key", pop(a, jti, TOOL, args_a, aud), "7b"),
        ("a proof whose payload is not JCS", pop(b, jti, TOOL, args_a, aud, canonical=False), "7b"),
        ("a proof 120 s old", pop(b, jti, TOOL, args_a, aud, iat=now() - 120), "7g"),
    ]
    for what, proof, step in refusals:
        status, body = evaluate(args_a, proof)
        check(f"c: {what} → 401/403 aat_invalid {step}", status in (401, 403) and error_of(body).startswith("aat_invalid")
              and step_named(error_of(body), step), (status, body))
    status, body = evaluate(args_a, pop(b, jti, TOOL, args_a, aud))
    check("c: a fresh valid proof still → PERMIT", status == 200 and body.get("decision") == "PERMIT", (status, body))

    request = {"child_agent_id": "aat-e2e-child", "child_mission": "read a.txt once", "child_allowed_tools": [TOOL],
               "child_max_tool_calls": 1, "delegation_request_id": "aat-e2e-child-1"}
    status, body = s.post("/delegate", dict(request, parent_token=leaf))
    check("c: /delegate without a proof → 403 aat_pop_required", status == 403 and error_of(body).startswith("aat_pop_required"), (status, body))
    wider = pop(b, jti, DELEGATE_TOOL, dict(request, child_max_tool_calls=5), aud)
    status, body = s.post("/delegate", dict(request, parent_token=leaf, pop=wider))
    check("c: /delegate with a proof for another request (hta differs) → 401/403 aat_invalid 7f",
          status in (401, 403) and error_of(body).startswith("aat_invalid") and step_named(error_of(body), "7f"), (status, body))
    status, delegated = s.post("/delegate", dict(request, parent_token=leaf, pop=pop(b, jti, DELEGATE_TOOL, request, aud)))
    delegated = delegated if isinstance(delegated, dict) else {"raw": delegated}
    check("c: /delegate with its proof → 200, parent_jti the leaf jti", status == 200 and delegated.get("parent_jti") == jti, (status, delegated))
    check("c: child max_tool_calls 1", (delegated.get("child_claims") or {}).get("max_tool_calls") == 1, delegated.get("child_claims"))

    status, jwts = s.receipts(jti)
    claims = [payload_of(t) for t in jwts]
    check("c: receipts are the decisions only (PERMIT, DENY, PERMIT, delegate): refused proofs wrote none",
          [c.get("tool") for c in claims] == [TOOL, TOOL, TOOL, DELEGATE_TOOL]
          and [str(c.get("decision")).upper() for c in claims[:3]] == ["PERMIT", "DENY", "PERMIT"],
          [(c.get("tool"), c.get("decision")) for c in claims])
    check("c: every receipt's grant_id is the leaf jti", bool(claims) and {c.get("grant_id") for c in claims} == {jti}, [c.get("grant_id") for c in claims])
    problem = receipt_chain_problem(s, jwts)
    check("c: the receipt chain verifies", problem is None, problem)
    evidence = (claims[0].get("evidence_proof_ref") if claims else None) or {}
    check("c: evidence_proof_ref binds the declaration", evidence.get("type") == "mission_binding"
          and evidence.get("mission_digest") == w.good_ref["mission_digest"] and evidence.get("mission_ref") == w.good_ref, evidence)

    status, body = s.post("/revoke", {"jti": jti}, token=TOKEN)
    check("c: revoke the leaf jti → 200", status == 200, (status, body))
    status, body = evaluate(args_a, pop(b, jti, TOOL, args_a, aud))
    check("c: evaluate (valid proof) after revocation → 403 passport_revoked", status == 403 and error_of(body) == "passport_revoked", (status, body))
    status, body = s.post("/verify", {"token": delegated.get("child_token", "")})
    check("c: its delegated child is revoked too", status == 403 and error_of(body) == "passport_revoked", (status, body))


def section_g(w):
    section("(g) the chain of (c) through the independent verifier (subprocess) and the CLI")
    if not getattr(w, "c_chain", None):
        check("g: section c produced a chain", False)
        return
    chain_file = os.path.join(w.work, "c-chain.json")
    with open(chain_file, "w") as f:
        json.dump(w.c_chain, f)
    args_a, args_b = {"path": A_TXT}, {"path": B_TXT}
    aud = w.strict.origin
    script = os.path.join(HERE, "verify_chain.py")
    proof = pop(w.c_leaf_key, w.c_jti, TOOL, args_a, aud)
    rc, out, err = run(sys.executable, script, "--chain", chain_file, "--trust-anchor", w.root_file, "--aud", aud,
                       "--tool", TOOL, "--arguments", json.dumps(args_a), "--pop", proof)
    check("g: verify_chain.py: permit", rc == 0 and out == "permit", (rc, out, err))
    proof_b = pop(w.c_leaf_key, w.c_jti, TOOL, args_b, aud)
    rc, out, err = run(sys.executable, script, "--chain", chain_file, "--trust-anchor", w.root_file, "--aud", aud,
                       "--tool", TOOL, "--arguments", json.dumps(args_b), "--pop", proof_b)
    check("g: verify_chain.py: b.txt → deny 6b (as the server's DENY)", rc == 1 and out.startswith("deny: 6b"), (rc, out, err))
    rc, out, err = run(BIN, "aat", "verify", "--chain", chain_file, "--trust-anchor", w.root_file, "--aud", aud,
                       "--tool", TOOL, "--arguments", json.dumps(args_a), "--pop", pop(w.c_leaf_key, w.c_jti, TOOL, args_a, aud))
    check("g: tessera aat verify on the same chain: permit", rc == 0 and out == "permit", (rc, out, err))


def section_d(w):
    section("(d) hostile mission declarations: each refused by name, nothing written")
    s = w.strict
    holder = Ed25519Key()
    good = w.good_claims

    def declaration(path, claims, key=None, host=None):
        token = es256_jwt(key or w.es, claims)
        url = (host or w.md).put(path, token)
        return {"uri": url, "mission_id": claims["mission_id"], "mission_digest": md_digest(claims)}

    def variant(**changes):
        c = copy.deepcopy(good)
        c.update(jti=new_jti(), **changes)
        return c

    foreign = P256Key()
    unsigned_claims = variant()
    unsigned = b64(compact_json({"alg": "none"})) + "." + b64(compact_json(unsigned_claims)) + "."
    unsigned_ref = {"uri": w.md.put("/md/unsigned.jwt", unsigned), "mission_id": good["mission_id"], "mission_digest": md_digest(unsigned_claims)}
    foreign_list_url = w.md.put("/status/foreign-list.jwt", status_list_token(foreign))
    revoked_ref = declaration("/md/revoked.jwt", variant(revocation_ref=f"{w.list_url}#idx=3"))
    # Index 4 of the same list is clear in the IETF bit order (LSB first) and set in MSB-first.
    not_revoked_ref = declaration("/md/not-revoked.jwt", variant(revocation_ref=f"{w.list_url}#idx=4"))
    rogue_ref = declaration("/md/good.jwt", variant(), host=w.rogue)
    cases = [
        ("digest mismatch", dict(w.good_ref, mission_digest="sha-256:" + "0" * 64), {"read": {}}, "mission_digest_mismatch", None),
        ("mission_id mismatch", dict(w.good_ref, mission_id="urn:e2e:mission:other"), {"read": {}}, "mission_id_mismatch", None),
        ("revoked declaration (status bit 3 set)", revoked_ref, {"read": {}}, "mission_revoked", not_revoked_ref),
        ("declaration from a non-allow-listed origin", rogue_ref, {"read": {}}, "mission_origin_not_allowed", None),
        ("declaration signed by a foreign key", declaration("/md/foreign.jwt", variant(), key=foreign), {"read": {}}, "mission_signature_invalid", None),
        ("unsigned declaration (alg none)", unsigned_ref, {"read": {}}, "mission_signature_invalid", None),
        ("declaration by an unconfigured issuer", declaration("/md/other-issuer.jwt", variant(iss="evil-issuer")), {"read": {}}, "mission_signature_invalid", None),
        ("declaration that is not there (404)", dict(w.good_ref, uri=w.md.origin + "/md/missing.jwt"), {"read": {}}, "mission_fetch_failed", None),
        ("declaration with an unknown claim", declaration("/md/unknown-claim.jwt", variant(evil_claim=True)), {"read": {}}, "mission_schema_invalid", None),
        ("declaration needing MIC-State evidence", declaration("/md/mic-state.jwt", variant(conformance_profile="MIC-State")), {"read": {}}, "mission_unsupported", None),
        ("status list signed by a foreign key", declaration("/md/foreign-status.jwt", variant(revocation_ref=f"{foreign_list_url}#idx=0")), {"read": {}}, "mission_status_unavailable", None),
        ("AAT granting a tool the mission does not allow", w.good_ref, {"write_file": {}}, "aat_widens_mission", None),
    ]
    for what, ref, tools, code, corrected_ref in cases:
        jti = new_jti()
        token, _ = root_aat(w.root, holder, tools, mission_ref=ref, jti=jti)
        status, body = s.post("/session/start", {"token_type": "aat", "token": token, "pop": pop(holder, jti, START_TOOL, {}, s.origin)})
        check(f"d: {what} → 403 {code}", status == 403 and error_of(body).startswith(code), (status, body))
        rstatus, _ = s.receipts(jti)
        fixed, _ = root_aat(w.root, holder, {"read": {}}, mission_ref=corrected_ref or w.good_ref, jti=jti)
        fstatus, fbody = s.post("/session/start", {"token_type": "aat", "token": fixed, "pop": pop(holder, jti, START_TOOL, {}, s.origin)})
        check(f"d: {what}: nothing written (no receipts: 404; the jti then starts a corrected token: 200)",
              rstatus == 404 and fstatus == 200, (rstatus, fstatus, fbody))
    jti = new_jti()
    token, _ = root_aat(w.root, holder, {"read": {}}, mission_ref=w.good_ref, jti=jti, authorization_details=[
        {"type": vc.AAT_TYPE, "tools": {"read": {}}, "max_tool_calls": 11}])
    status, body = s.post("/session/start", {"token_type": "aat", "token": token, "pop": pop(holder, jti, START_TOOL, {}, s.origin)})
    check("d: AAT budget 11 over the mission's 10 → 403 aat_widens_mission", status == 403 and error_of(body).startswith("aat_widens_mission"), (status, body))
    check("d: the non-allow-listed origin was never contacted", w.rogue.hits == [], w.rogue.hits)


def section_e(w):
    section("(e) hostile chains at /session/start: 401/403 aat_invalid naming the §7 step")
    s = w.strict
    aud = s.origin
    a, b = Ed25519Key(), Ed25519Key()
    parent_tools = {TOOL: {"path": one_of(A_TXT, B_TXT)}}
    narrow = {TOOL: {"path": exact(A_TXT)}}
    root, rc = root_aat(w.root, a, parent_tools, mission_ref=w.good_ref, iat=now() - 120)
    foreign = Ed25519Key()
    foreign_root, frc = root_aat(foreign, a, parent_tools, mission_ref=w.good_ref)
    stranger_root, src = root_aat(w.root, a, parent_tools, mission_ref=w.good_ref, iss="https://unknown-root.e2e.example")
    t = now()
    cases = [
        ("wrong par_hash (re-signed)", [root], derived_aat(root, rc, a, b, narrow, par_hash="A" * 43), 403, "4q"),
        ("widened constraint (one_of adds c.txt)", [root], derived_aat(root, rc, a, b, {TOOL: {"path": one_of(A_TXT, C_TXT)}}), 403, "4p4"),
        ("wildcard under one_of", [root], derived_aat(root, rc, a, b, {TOOL: {"path": {"constraint_type": "wildcard"}}}), 403, "4p4"),
        ("a tool the parent does not grant", [root], derived_aat(root, rc, a, b, dict(narrow, **{"https://tools.example/write_file": {}})), 403, "4p1"),
        ("depth skip (del_depth 2 under a root)", [root], derived_aat(root, rc, a, b, narrow, del_depth=2), 403, "4d"),
        ("iss not the parent holder's thumbprint", [root], derived_aat(root, rc, a, b, narrow, iss=vc.thumbprint_uri(b.jwk)), 403, "4c"),
        ("expired child", [root], derived_aat(root, rc, a, b, narrow, iat=t - 60, exp=t - 5), 401, "4i"),
        ("child alg none", [root], derived_aat(root, rc, a, b, narrow, header={"alg": "none"}), 401, "4a"),
        ("root signed by a key that is no trust anchor", [foreign_root], derived_aat(foreign_root, frc, a, b, narrow), 401, "3b"),
        ("root from an issuer that is not configured", [stranger_root], derived_aat(stranger_root, src, a, b, narrow), 401, "3a"),
    ]
    for what, ancestors, (leaf, lc), want_status, step in cases:
        jti = lc["jti"]
        status, body = s.post("/session/start", {"token_type": "aat", "token": leaf, "chain": ancestors,
                                                  "pop": pop(b, jti, START_TOOL, {}, aud)})
        error = error_of(body)
        rstatus, _ = s.receipts(jti)
        check(f"e: {what} → {want_status} aat_invalid naming the link and step {step}, nothing written",
              status == want_status and error.startswith("aat_invalid") and "link" in error and step_named(error, step) and rstatus == 404,
              (status, body, rstatus))
        if step != "3a":  # the issuer binding of trust anchors is Tessera's; the draft's verifier has none
            anchor = w.root.jwk
            verdict = independent(ancestors + [leaf], anchor, TOOL, {"path": A_TXT}, pop(b, jti, TOOL, {"path": A_TXT}, aud), aud)
            check(f"e: {what}: verify_chain.py denies at {step} too", verdict.startswith(f"deny: {step}"), verdict)


def section_f(w):
    section("(f) tessera aat verify on the Ardur draft-01 fixture")
    with open(FIXTURE) as f:
        fx = json.load(f)
    anchor = os.path.join(w.work, "keys", "ardur-root.jwk")
    with open(anchor, "w") as f:
        json.dump(fx["public_keys"]["root_trust_anchor"], f)  # verbatim: use, kty, crv, alg, x
    base = [BIN, "aat", "verify", "--chain", FIXTURE, "--trust-anchor", anchor, "--tool", fx["tool"]]
    aud = ["--aud", fx["audience"]]
    at = ["--at", "2030-01-01T00:00:00Z"]
    rc, out, err = run(*base, *aud, "--arguments", json.dumps(fx["arguments"]), "--pop", fx["pop_jwt"], *at)
    check("f: the fixture at 2030-01-01T00:00:00Z → exit 0, permit", rc == 0 and out == "permit", (rc, out, err))
    rc, out, err = run(*base, *aud, "--arguments", json.dumps(fx["arguments"]), "--pop", fx["pop_jwt"], *at, "--json")
    try:
        parsed = json.loads(out)
    except ValueError:
        parsed = None
    check("f: --json → exit 0 and a JSON document saying permit", rc == 0 and parsed is not None and "permit" in out, (rc, out, err))
    rc, out, err = run(*base, *aud, "--arguments", json.dumps({"path": B_TXT}), "--pop", fx["pop_jwt"], *at)
    check("f: arguments /data/b.txt → exit 1, deny at 6b (the leaf is exact a.txt)",
          rc == 1 and out.startswith("deny") and step_named(out, "6b"), (rc, out, err))
    rc, out, err = run(*base, *aud, "--arguments", json.dumps(fx["arguments"]), "--pop", fx["pop_jwt"])
    check("f: the fixture now (its iat is in 2030) → exit 1, deny", rc == 1 and out.startswith("deny"), (rc, out, err))
    rc, out, err = run(*base, "--aud", "https://other.example", "--arguments", json.dumps(fx["arguments"]), "--pop", fx["pop_jwt"], *at)
    check("f: another audience → exit 1, deny at 7d", rc == 1 and out.startswith("deny") and step_named(out, "7d"), (rc, out, err))
    script = os.path.join(HERE, "verify_chain.py")
    rc, out, err = run(sys.executable, script, "--fixture", FIXTURE)
    check("f: verify_chain.py agrees on the fixture (permit)", rc == 0 and out == "permit", (rc, out, err))


def section_h(w):
    section("(h) Tessera as the root issuer: passport issue --format aat, aat derive, aat pop, its JWKS as trust anchor")
    s = w.strict
    origin = s.origin
    keys = os.path.join(w.work, "keys")
    holder, child, stranger = Ed25519Key(), Ed25519Key(), Ed25519Key()

    def write(name, value):
        path = os.path.join(keys, name)
        with open(path, "w") as f:
            f.write(value if isinstance(value, str) else json.dumps(value))
        return path

    holder_pub, holder_priv = write("h-holder.pub.jwk", holder.jwk), write("h-holder.jwk", holder.private_jwk)
    child_pub, child_priv = write("h-child.pub.jwk", child.jwk), write("h-child.jwk", child.private_jwk)
    stranger_priv = write("h-stranger.jwk", stranger.private_jwk)
    client = ["--server", origin, "--token", TOKEN]
    a, b, c = "/a", "/b", "/c"
    mission = {"agent_id": "aat-h-agent", "mission": "read /a or /b", "allowed_tools": ["read_file"],
               "tools": {"read_file": {"arguments": {"path": {"one_of": [a, b]}}}},
               "max_tool_calls": 5, "delegation_allowed": True, "max_delegation_depth": 2}
    want_path = one_of(a, b)
    status, jwks = call("GET", origin + "/.well-known/jwks.json")
    server_keys = jwks.get("keys") if status == 200 and isinstance(jwks, dict) else None
    check("h: GET /.well-known/jwks.json → 200 with one key", bool(server_keys) and len(server_keys) == 1, (status, jwks))
    server_key = (server_keys or [{}])[0]

    def root_problem(claims, token):
        """What is wrong with a root AAT the server issued for `mission` to `holder` (None: nothing)."""
        detail = ((claims.get("authorization_details") or [{}])[0]) or {}
        wanted = [
            ("iss", claims.get("iss"), origin), ("sub", claims.get("sub"), mission["agent_id"]),
            ("cnf.jwk", (claims.get("cnf") or {}).get("jwk"), holder.jwk), ("del_depth", claims.get("del_depth"), 0),
            ("del_max_depth", claims.get("del_max_depth"), 2), ("detail type", detail.get("type"), vc.AAT_TYPE),
            ("tools", detail.get("tools"), {"read_file": {"path": want_path}}), ("max_tool_calls", detail.get("max_tool_calls"), 5),
            ("no par_hash", "par_hash" in claims, False), ("payload = claims", payload_of(token), claims),
            ("header kid = JWKS kid", json.loads(vc.b64url_decode(token.split(".")[0])).get("kid"), server_key.get("kid")),
        ]
        bad = [f"{name}: {got!r} (want {want!r})" for name, got, want in wanted if got != want]
        return "; ".join(bad) or None

    # 1. The admin issues a root AAT with the CLI (and the same over HTTP).
    rc, out, err = run(BIN, "passport", "issue", *client, "--format", "aat", "--holder-key", holder_pub,
                       "--mission", json.dumps(mission), "--ttl", "900", "--json")
    try:
        issued = json.loads(out)
    except ValueError:
        issued = {}
    root, claims = issued.get("token", ""), issued.get("claims") or {}
    check("h: tessera passport issue --format aat --holder-key --json → exit 0, {token, format aat, claims}",
          rc == 0 and isinstance(root, str) and root.count(".") == 2 and issued.get("format") == "aat" and bool(claims), (rc, out, err))
    if not claims:
        return
    check("h: root claims: iss the server origin, cnf.jwk the holder key, del_depth 0, del_max_depth 2, "
          "read_file.path one_of [/a, /b], max_tool_calls 5, signed by the JWKS key", root_problem(claims, root) is None, root_problem(claims, root))
    check("h: root lifetime is --ttl 900", claims.get("exp", 0) - claims.get("iat", 0) == 900, claims)
    root_jti = claims.get("jti")
    rc, out, err = run(BIN, "passport", "issue", *client, "--format", "aat", "--holder-key", holder_priv, "--mission", json.dumps(mission))
    plain = rc == 0 and out.count(".") == 2 and "\n" not in out
    problem = root_problem(payload_of(out), out) if plain else "not one compact JWS"
    check("h: without --json (private --holder-key, read for its public part) → exit 0, just the token, the same claims",
          problem is None, (rc, out[:200], err, problem))
    status, body = s.post("/issue", {"format": "aat", "holder_key": holder.jwk, "mission": mission, "ttl_s": 600}, token=TOKEN)
    body = body if isinstance(body, dict) else {"raw": body}
    http_claims = body.get("claims") or {}
    check("h: POST /issue {format aat, holder_key, mission, ttl_s 600} → 200 {token, format aat, claims}",
          status == 200 and body.get("format") == "aat" and isinstance(body.get("token"), str) and bool(http_claims), (status, body))
    if http_claims:
        problem = root_problem(http_claims, body["token"])
        check("h: its claims are the CLI's (fresh jti), lifetime 600", problem is None and http_claims.get("jti") != root_jti
              and http_claims.get("exp", 0) - http_claims.get("iat", 0) == 600, problem or http_claims)
    status, body = s.post("/issue", {"format": "aat", "holder_key": holder.jwk, "mission": mission})
    check("h: POST /issue format aat without a credential → 401", status == 401, (status, body))

    # 2. What an AAT cannot say is refused by name.
    def variant(tool_entry=None, **changes):
        m = copy.deepcopy(mission)
        if tool_entry is not None:
            m["tools"] = {"read_file": tool_entry}
        m.update(changes)
        return m

    refusals = [
        ("a pattern constraint", {"mission": variant({"arguments": {"path": {"pattern": "/a*"}}})}, "pattern"),
        ("a regex constraint", {"mission": variant({"arguments": {"path": {"regex": "^/a$"}}})}, "regex"),
        ("requires_approval", {"mission": variant({"arguments": {"path": {"one_of": [a, b]}}, "requires_approval": {"approvers": ["role:admin"]}})},
         "requires_approval"),
        ("an optional argument", {"mission": variant({"arguments": {"path": {"optional": {"one_of": [a, b]}}}})}, "optional"),
        ("a non-empty resource_scope", {"mission": variant(resource_scope=["/data/*"])}, "resource_scope"),
        ("audience given", {"mission": mission, "audience": "https://rs.e2e.example/mcp"}, "audience"),
        ("cnf_jkt given", {"mission": mission, "cnf_jkt": vc.thumbprint_uri(holder.jwk).rsplit(":", 1)[1]}, "cnf_jkt"),
    ]
    for what, fields, name in refusals:
        request = dict({"format": "aat", "holder_key": holder.jwk}, **fields)
        status, body = s.post("/issue", request, token=TOKEN)
        check(f"h: /issue format aat with {what} → 400 naming {name}", status == 400 and name in error_of(body), (status, body))
    status, body = s.post("/issue", {"format": "aat", "mission": mission}, token=TOKEN)
    check("h: /issue format aat without holder_key → 400 naming holder_key", status == 400 and "holder_key" in error_of(body), (status, body))
    status, body = s.post("/issue", {"format": "aat", "holder_key": holder.private_jwk, "mission": mission}, token=TOKEN)
    check("h: /issue format aat with a private holder_key (d) → 400 naming holder_key",
          status == 400 and "holder_key" in error_of(body), (status, body))
    rc, out, err = run(BIN, "passport", "issue", *client, "--format", "aat", "--holder-key", holder_pub,
                       "--mission", json.dumps(variant({"arguments": {"path": {"pattern": "/a*"}}})))
    check("h: the CLI passes the refusal on (pattern) → nonzero exit naming pattern, no token", rc != 0 and out == "" and "pattern" in err, (rc, out, err))

    # 3. The holder derives a narrower child (client-side: the server never sees a holder key).
    root_file = write("h-root.jwt", root)
    narrow = {"read_file": {"path": exact(a)}}
    rc, out, err = run(BIN, "aat", "derive", "--parent", root_file, "--key", holder_priv, "--child-key", child_pub,
                       "--tools", json.dumps(narrow), "--json")
    try:
        derived = json.loads(out)
    except ValueError:
        derived = {}
    leaf = derived.get("token", "")
    check("h: tessera aat derive --json → exit 0, {token, chain: [root, child]}",
          rc == 0 and isinstance(leaf, str) and leaf.count(".") == 2 and derived.get("chain") == [root, leaf], (rc, out[:300], err))
    if not leaf:
        return
    lc = payload_of(leaf)
    jti = lc.get("jti")
    wanted = [
        ("iss", lc.get("iss"), vc.thumbprint_uri(holder.jwk)), ("del_depth", lc.get("del_depth"), 1), ("del_max_depth", lc.get("del_max_depth"), 2),
        ("par_hash", lc.get("par_hash"), par_hash(root)), ("cnf.jwk", (lc.get("cnf") or {}).get("jwk"), child.jwk),
        ("tools", ((lc.get("authorization_details") or [{}])[0] or {}).get("tools"), narrow),
        ("exp within the root's", lc.get("exp", 1 << 62) <= claims["exp"], True),
    ]
    bad = [f"{n}: {g!r} (want {v!r})" for n, g, v in wanted if g != v]
    check("h: the child: iss the holder's thumbprint URI, del_depth 1, par_hash of the root, cnf.jwk the child key, tools exact /a",
          not bad, "; ".join(bad))
    chain_file = write("h-chain.json", derived)
    wider = {"read_file": {"path": one_of(a, b, c)}}
    rc, out, err = run(BIN, "aat", "derive", "--parent", root_file, "--key", holder_priv, "--child-key", child_pub, "--tools", json.dumps(wider), "--json")
    check("h: deriving a wider child (one_of adds /c) → exit 1 naming step 4p4, no token", rc == 1 and out == "" and step_named(err, "4p4"), (rc, out, err))
    rc, out, err = run(BIN, "aat", "derive", "--parent", root_file, "--key", stranger_priv, "--child-key", child_pub, "--tools", json.dumps(narrow))
    check("h: deriving with a --key that is not the root's holder key → exit 1 saying so, no token",
          rc == 1 and out == "" and "holder key" in err, (rc, out, err))
    rc, out, err = run(BIN, "aat", "derive", "--parent", root_file, "--key", holder_pub, "--child-key", child_pub, "--tools", json.dumps(narrow))
    check("h: deriving with a public --key (no d) → nonzero exit asking for a private key, no token",
          rc != 0 and out == "" and "private" in err, (rc, out, err))

    # 4. The child's holder starts a session and calls with proofs made by the CLI.
    def cli_pop(tool, args=None, key=child_priv, token_file=chain_file):
        extra = [] if args is None else ["--arguments", json.dumps(args)]
        rc, out, err = run(BIN, "aat", "pop", "--token", token_file, "--key", key, "--tool", tool, *extra, "--aud", origin)
        return out if rc == 0 else f"(aat pop failed: {rc} {err})"

    start_proof = cli_pop(START_TOOL)
    pc = payload_of(start_proof) if start_proof.count(".") == 2 else {}
    check("h: tessera aat pop --tool tessera:session/start → a proof for the child (aat_id, aat_tool, aat_aud, hta {})",
          pc.get("aat_id") == jti and pc.get("aat_tool") == START_TOOL and pc.get("aat_aud") == origin and pc.get("hta") == {}, (start_proof[:200], pc))
    wrong_holder = cli_pop(START_TOOL, key=holder_priv)
    status, body = s.post("/session/start", {"token_type": "aat", "token": leaf, "chain": [root], "pop": wrong_holder})
    check("h: a start proof signed by the root's holder, not the child's → 401 aat_invalid 7b",
          status == 401 and error_of(body).startswith("aat_invalid") and step_named(error_of(body), "7b"), (status, body))
    status, start = s.post("/session/start", {"token_type": "aat", "token": leaf, "chain": [root], "pop": start_proof})
    start = start if isinstance(start, dict) else {"raw": start}
    check("h: /session/start {token_type aat, token child, chain [root], pop} → 200, session_id the child jti",
          status == 200 and start.get("session_id") == jti, (status, start))
    sclaims = start.get("claims") or {}
    check("h: claims.workspace is the issuing admin's (default)", sclaims.get("workspace") == "default", sclaims.get("workspace"))
    check("h: allowed_tools [read_file], parent_jti the root jti",
          start.get("allowed_tools") == ["read_file"] and sclaims.get("parent_jti") == root_jti, (start.get("allowed_tools"), sclaims.get("parent_jti")))
    check("h: budget: the root's max_tool_calls 5 binds the child (which states none) → calls_remaining 5",
          start.get("calls_remaining") == 5, start.get("calls_remaining"))

    def evaluate(args, proof):
        return s.post("/evaluate", {"session_id": jti, "tool_name": "read_file", "arguments": args, "pop": proof})

    status, body = evaluate({"path": a}, cli_pop("read_file", {"path": a}))
    check("h: /evaluate read_file /a with a CLI proof → PERMIT", status == 200 and isinstance(body, dict) and body.get("decision") == "PERMIT", (status, body))
    status, body = evaluate({"path": b}, cli_pop("read_file", {"path": b}))
    check("h: /evaluate read_file /b (the root allows it, the child does not) → DENY",
          status == 200 and isinstance(body, dict) and body.get("decision") == "DENY", (status, body))
    status, body = evaluate({"path": a}, cli_pop("read_file", {"path": b}))
    check("h: a CLI proof for /b presented with /a → 401/403 aat_invalid 7f",
          status in (401, 403) and error_of(body).startswith("aat_invalid") and step_named(error_of(body), "7f"), (status, body))

    # The root's budget binds every session under it: a second CLI-derived child gets 5 calls, not more.
    rc, out, err = run(BIN, "aat", "derive", "--parent", root_file, "--key", holder_priv, "--child-key", child_pub, "--tools", json.dumps(narrow), "--json")
    try:
        spender = json.loads(out)
    except ValueError:
        spender = {}
    if spender.get("token"):
        spender_file = write("h-chain-budget.json", spender)
        spender_jti = payload_of(spender["token"]).get("jti")
        status, body = s.post("/session/start", {"token_type": "aat", "token": spender["token"], "chain": [root],
                                                  "pop": cli_pop(START_TOOL, token_file=spender_file)})
        decisions = []
        if status == 200:
            for _ in range(6):
                estatus, ebody = s.post("/evaluate", {"session_id": spender_jti, "tool_name": "read_file", "arguments": {"path": a},
                                                      "pop": cli_pop("read_file", {"path": a}, token_file=spender_file)})
                decisions.append(ebody.get("decision") if estatus == 200 and isinstance(ebody, dict) else (estatus, error_of(ebody)))
                if decisions[-1] == "DENY":
                    decisions[-1] = "DENY budget_exhausted" if "budget_exhausted" in json.dumps(ebody) else f"DENY {ebody}"
        check("h: another CLI-derived child of the root: 5 calls PERMIT, the 6th DENY budget_exhausted",
              status == 200 and decisions == ["PERMIT"] * 5 + ["DENY budget_exhausted"], (status, body if status != 200 else decisions))
    else:
        check("h: a second child of the root derives", False, (rc, out, err))
    # A hand-made child stating a larger budget than the root's (the CLI cannot say one at all).
    detail = {"type": vc.AAT_TYPE, "tools": narrow, "max_tool_calls": 100}
    greedy, gc = derived_aat(root, claims, holder, child, narrow, authorization_details=[detail])
    status, body = s.post("/session/start", {"token_type": "aat", "token": greedy, "chain": [root],
                                              "pop": pop(child, gc["jti"], START_TOOL, {}, origin)})
    remaining = body.get("calls_remaining") if isinstance(body, dict) else None
    check("h: a child stating max_tool_calls 100 under the root's 5 → refused at start, or held to 5",
          status != 200 or (remaining is not None and remaining <= 5), (status, body if status != 200 else remaining))

    # 5. The independent verifier, with nothing but the server's published key as its anchor.
    anchor_file = write("h-server-jwks-key.jwk", server_key)  # verbatim: kid, alg, use, kty, crv, x
    script = os.path.join(HERE, "verify_chain.py")

    def independently(args, proof, anchor=anchor_file, tool="read_file"):
        return run(sys.executable, script, "--chain", chain_file, "--trust-anchor", anchor, "--aud", origin,
                   "--tool", tool, "--arguments", json.dumps(args), "--pop", proof)

    rc, out, err = independently({"path": a}, cli_pop("read_file", {"path": a}))
    check("h: verify_chain.py, anchor the JWKS key: [root, child] + read_file /a + CLI proof → permit", rc == 0 and out == "permit", (rc, out, err))
    rc, out, err = independently({"path": b}, cli_pop("read_file", {"path": b}))
    check("h: verify_chain.py: read_file /b → deny 6b", rc == 1 and out.startswith("deny") and step_named(out, "6b"), (rc, out, err))
    rc, out, err = independently({"path": a}, cli_pop("read_file", {"path": a}), anchor=w.root_file)
    check("h: verify_chain.py with another anchor (section c's root) → deny 3b", rc == 1 and out.startswith("deny: 3b"), (rc, out, err))
    jwks_file = write("h-server.jwks", jwks)
    rc, out, err = run(BIN, "aat", "verify", "--chain", chain_file, "--trust-anchor", jwks_file, "--aud", origin, "--tool", "read_file",
                       "--arguments", json.dumps({"path": a}), "--pop", cli_pop("read_file", {"path": a}))
    check("h: tessera aat verify, anchor the served JWKS: permit", rc == 0 and out == "permit", (rc, out, err))

    # A root issued in another workspace governs its sessions there.
    iam_ok = True
    for request in ({"operation": "create-workspace", "workspace_record": {"id": "aat-beta", "name": "AAT beta"}},
                    {"operation": "create-user", "workspace": "aat-beta",
                     "user": {"username": "aat-bob", "name": "Bob", "password": "correct horse battery 7", "roles": ["writer"]}}):
        status, body = s.post("/api/v1/iam", request, token=TOKEN)
        iam_ok = iam_ok and status == 200
    status, login = s.post("/api/v1/auth/login", {"username": "aat-bob", "password": "correct horse battery 7"})
    bob = login.get("jwt") if status == 200 and isinstance(login, dict) else None
    check("h: a writer of workspace aat-beta (created over /api/v1/iam) logs in", iam_ok and bool(bob), (status, login))
    if bob:
        rc, out, err = run(BIN, "passport", "issue", "--server", origin, "--token", bob, "--format", "aat", "--holder-key", holder_pub,
                           "--mission", json.dumps(mission))
        beta_root = out if rc == 0 else ""
        check("h: he issues a root AAT with the CLI → exit 0", rc == 0 and beta_root.count(".") == 2, (rc, out, err))
        if beta_root:
            beta_file = write("h-beta-root.jwt", beta_root)
            status, body = s.post("/session/start", {"token_type": "aat", "token": beta_root,
                                                       "pop": cli_pop(START_TOOL, key=holder_priv, token_file=beta_file)})
            check("h: the root itself starts a session (its holder's proof) in workspace aat-beta",
                  status == 200 and isinstance(body, dict) and (body.get("claims") or {}).get("workspace") == "aat-beta", (status, body))

    # 6. Revoking the root ends the child's session, and the root can start no other.
    status, body = s.post("/revoke", {"jti": root_jti}, token=TOKEN)
    check("h: POST /revoke {jti: root jti} (admin) → 200", status == 200, (status, body))
    status, body = evaluate({"path": a}, cli_pop("read_file", {"path": a}))
    check("h: the child's session, next /evaluate (valid proof) → 403 passport_revoked",
          status == 403 and error_of(body) == "passport_revoked", (status, body))
    rc, out, err = run(BIN, "aat", "derive", "--parent", root_file, "--key", holder_priv, "--child-key", child_pub, "--tools", json.dumps(narrow), "--json")
    try:
        second = json.loads(out)
    except ValueError:
        second = {}
    if second.get("token"):
        second_file = write("h-chain-2.json", second)
        status, body = s.post("/session/start", {"token_type": "aat", "token": second["token"], "chain": [root],
                                                  "pop": cli_pop(START_TOOL, token_file=second_file)})
        check("h: a new child of the revoked root → /session/start 403 passport_revoked",
              status == 403 and error_of(body) == "passport_revoked", (status, body))
    else:
        check("h: a second child of the root derives (offline)", False, (rc, out, err))


def section_i(w):
    section("(i) a declaration revoked mid-session, and its status list gone (404): status-list TTL 1 s")
    config = os.path.join(w.work, "keys", "statusttl-config.json")
    with open(config, "w") as f:
        json.dump({"aat_trust_anchors": {ROOT_ISS: w.root_file}, "md_issuers": {MD_ISS: w.md_issuer_file},
                   "md_origins": [w.md.origin], "status_list_ttl_seconds": 1}, f)
    s = Tessera(w.work, "statusttl", ["--config", config])
    aud = s.origin
    holder = Ed25519Key()

    def declaration(name, list_path, idx):
        claims = seed_md_claims(f"urn:e2e:mission:{name}", w.md.origin + list_path, idx=idx, ttl=1800,
                                mission=f"section i: {name}", max_tool_calls=10)
        return {"uri": w.md.put(f"/md/{name}.jwt", es256_jwt(w.es, claims)), "mission_id": claims["mission_id"],
                "mission_digest": md_digest(claims)}

    def start(ref):
        jti = new_jti()
        token, _ = root_aat(w.root, holder, {"read": {}}, mission_ref=ref, jti=jti)
        status, body = s.post("/session/start", {"token_type": "aat", "token": token, "pop": pop(holder, jti, START_TOOL, {}, aud)})
        return jti, status, body

    def evaluate(jti):
        return s.post("/evaluate", {"session_id": jti, "tool_name": "read", "arguments": {},
                                    "pop": pop(holder, jti, "read", {}, aud)})

    def refused_after(ref, refused, limit=5.0):
        """Seconds until a fresh probe session on `ref` is refused (None: not within `limit`). The
        probes share the server's status-list cache with every session on the declaration, but
        are other jtis: the session under test spends nothing while the cache runs out."""
        began = time.time()
        while time.time() - began < limit:
            _, status, body = start(ref)
            if refused(status, body):
                return round(time.time() - began, 2), (status, body)
            time.sleep(0.1)
        return None, (status, body)

    def one_permit(what, ref):
        jti, status, body = start(ref)
        check(f"i: {what}: MD-bound session starts → 200", status == 200 and isinstance(body, dict) and body.get("session_id") == jti, (status, body))
        status, body = evaluate(jti)
        check(f"i: {what}: /evaluate read (with its proof) → PERMIT",
              status == 200 and isinstance(body, dict) and body.get("decision") == "PERMIT", (status, body))
        rstatus, jwts = s.receipts(jti)
        check(f"i: {what}: the PERMIT left receipts (GET /receipts?jti= → 200)", rstatus == 200 and bool(jwts), (rstatus, jwts))
        return jti, jwts

    def nothing_spent(what, jti, before):
        rstatus, after = s.receipts(jti)
        check(f"i: {what}: the refused call wrote no receipt (count {len(before)} unchanged, chain intact)",
              rstatus == 200 and after == before and receipt_chain_problem(s, after) is None, (rstatus, len(before), len(after)))

    # 1. The declaration's status bit flips to revoked while its session runs.
    list_path, idx = "/status/i-list.jwt", 5
    w.md.put(list_path, status_list_token(w.es))
    ref = declaration("i-revoked-later", list_path, idx)
    jti, receipts = one_permit("revoked later", ref)
    mark = len(w.md.hits)
    w.md.put(list_path, status_list_token(w.es, revoked=[idx]))
    waited, last = refused_after(ref, lambda status, body: status == 403 and error_of(body).startswith("mission_revoked"))
    check("i: status bit set: within 5 s a probe session on the declaration → 403 mission_revoked (TTL ran out)",
          waited is not None, last)
    check("i: the status list was fetched again after the flip", list_path in w.md.hits[mark:], w.md.hits[mark:])
    status, body = evaluate(jti)
    check("i: the session's next /evaluate (valid proof) → 403 mission_revoked",
          status == 403 and error_of(body).startswith("mission_revoked"), (status, body))
    nothing_spent("revoked", jti, receipts)

    # 2. The status list disappears (404): fail closed.
    gone_path = "/status/i-list-gone.jwt"
    w.md.put(gone_path, status_list_token(w.es))
    gone_ref = declaration("i-status-gone", gone_path, 0)
    jti, receipts = one_permit("status list gone later", gone_ref)
    w.md.drop(gone_path)
    waited, last = refused_after(gone_ref, lambda status, body: status != 200)
    check("i: status list 404: within 5 s a probe session on the declaration is refused (403)",
          waited is not None and last[0] == 403, last)
    status, body = evaluate(jti)
    check("i: the session's next /evaluate (valid proof) → 403 mission_status_unavailable (fail closed)",
          status == 403 and error_of(body).startswith("mission_status_unavailable"), (status, body))
    nothing_spent("status list gone", jti, receipts)


def section_j(w):
    section("(j) hostile review regressions: planted lineage, squatted jtis, closed no-argument tools, "
            "constraint DoS, holder-only end/attest, mission delegation limits, own roots, agent_id, jti characters")
    s, aud = w.strict, w.strict.origin
    T = TOOL

    def start(chain, key, jti=None, server=None):
        server = server or s
        jti = jti or payload_of(chain[-1])["jti"]
        return server.post("/session/start", {"token_type": "aat", "token": chain[-1], "chain": chain[:-1],
                                              "pop": pop(key, jti, START_TOOL, {}, server.origin)})

    def evaluate(jti, key, args=None):
        args = args or {}
        return s.post("/evaluate", {"session_id": jti, "tool_name": T, "arguments": args, "pop": pop(key, jti, T, args, aud)})

    def aat_refusal(status, body, *wanted):
        error = error_of(body)
        return status in (401, 403) and error.startswith("aat_invalid") and all(
            (step_named(error, x[5:]) if x.startswith("step ") else x in error) for x in wanted)

    # 1. Lineage is keyed by jti, which a token's signer chooses. The victim's chain is [R, A, B]
    # (R from the configured Ed25519 anchor); the attacker holds A's key and another root R2 (the
    # ES256 anchor), under which it signs a link X that reuses A's jti.
    def victim_chain():
        planner, agent, leaf = Ed25519Key(), Ed25519Key(), Ed25519Key()
        r, rc = root_aat(w.root, planner, {T: {}})
        a, ac = derived_aat(r, rc, planner, agent, {T: {}})
        b, bc = derived_aat(a, ac, agent, leaf, {T: {}})
        return (r, rc), (a, ac, agent), (b, bc, leaf)

    attacker = Ed25519Key()
    r2, r2c = root_aat(w.es, attacker, {T: {}}, iss=TENUO_ISS)

    (r, rc), (a, ac, agent), (b, bc, leaf) = victim_chain()
    x, xc = derived_aat(r2, r2c, attacker, attacker, {T: {}}, jti=ac["jti"])
    pstatus, pbody = start([r2, x], attacker)
    status, body = start([r, a, b], leaf)
    check("j: planted parent: attacker's [R2, X(jti = A.jti)] starts first, then the victim's [R, A, B] → 403 aat_invalid "
          "'already names another'", pstatus == 200 and status == 403 and aat_refusal(status, body, "already names another"),
          (pstatus, pbody, status, body))

    (r, rc), (a, ac, agent), (b, bc, leaf) = victim_chain()
    vstatus, vbody = start([r, a, b], leaf)
    x, _ = derived_aat(r2, r2c, attacker, attacker, {T: {}}, jti=ac["jti"])
    status, body = start([r2, x], attacker)
    check("j: planted parent: the victim's [R, A, B] first (200), then the attacker's [R2, X(jti = A.jti)] → 403 aat_invalid "
          "'already names another'", vstatus == 200 and status == 403 and aat_refusal(status, body, "already names another"),
          (vstatus, vbody, status, body))
    rstatus, rbody = s.post("/revoke", {"jti": rc["jti"]}, token=TOKEN)
    status, body = evaluate(bc["jti"], leaf)
    check("j: POST /revoke {jti: R.jti} → 200; the running [R, A, B] session's /evaluate (valid proof) → 403 passport_revoked",
          rstatus == 200 and status == 403 and error_of(body) == "passport_revoked", (rstatus, rbody, status, body))
    b2, _ = derived_aat(a, ac, agent, leaf, {T: {}})
    status, body = start([r, a, b2], leaf)
    check("j: a new [R, A, B2] under the revoked R → 403 passport_revoked", status == 403 and error_of(body) == "passport_revoked", (status, body))

    # A refused start writes no lineage: the attacker's [R2, X(jti = A.jti), Y] whose leaf reuses
    # the jti of its own running session is refused; the victim's chain with A then starts, and
    # revoking R still reaches it (had X been recorded, A's lineage would lead to R2 instead).
    (r, rc), (a, ac, agent), (b, bc, leaf) = victim_chain()
    y0, y0c = derived_aat(r2, r2c, attacker, attacker, {T: {}})
    y0status, _ = start([r2, y0], attacker)
    x, xc = derived_aat(r2, r2c, attacker, attacker, {T: {}}, jti=ac["jti"])
    y, yc = derived_aat(x, xc, attacker, attacker, {T: {}}, jti=y0c["jti"])
    status, body = start([r2, x, y], attacker)
    check("j: [R2, X(jti = A.jti), Y(jti of a running session)] → refused (403/409)",
          y0status == 200 and status in (403, 409), (y0status, status, body))
    vstatus, vbody = start([r, a, b], leaf)
    s.post("/revoke", {"jti": rc["jti"]}, token=TOKEN)
    status, body = evaluate(bc["jti"], leaf)
    check("j: …it left no record: the victim's [R, A, B] then starts (200), and after revoking R its /evaluate → 403 passport_revoked",
          vstatus == 200 and status == 403 and error_of(body) == "passport_revoked", (vstatus, vbody, status, body))

    # 2. Squatting: an AAT whose jti is an issued (not yet started) Tessera passport's.
    status, issued = s.post("/issue", {"mission": {"agent_id": "aat-j-victim", "mission": "read", "allowed_tools": ["read_file"]},
                                       "ttl_s": 600}, token=TOKEN)
    issued = issued if isinstance(issued, dict) else {}
    passport_jti = (issued.get("claims") or {}).get("jti")
    if status == 200 and passport_jti:
        k1, k2 = Ed25519Key(), Ed25519Key()
        sr, src = root_aat(w.root, k1, {T: {}})
        sx, _ = derived_aat(sr, src, k1, k2, {T: {}}, jti=passport_jti)
        status, body = start([sr, sx], k2)
        check("j: an AAT leaf whose jti is an issued, unstarted passport's → 403 aat_invalid",
              status == 403 and aat_refusal(status, body), (status, body))
        status, body = s.post("/session/start", {"token": issued["token"]})
        check("j: the passport then starts normally → 200", status == 200 and isinstance(body, dict) and bool(body.get("session_id")), (status, body))
    else:
        check("j: POST /issue (a passport to squat) → 200", False, (status, issued))
    k = Ed25519Key()
    sr, src = root_aat(w.root, k, {T: {}}, jti="ses_" + b64(os.urandom(32)))
    status, body = start([sr], k)
    check("j: an AAT jti ses_… (Tessera's session ids) → 401/403 aat_invalid", aat_refusal(status, body), (status, body))

    # 3. A closed Tessera tool entry with no arguments allows none; an AAT's empty map allows any.
    holder = Ed25519Key()
    closed = {"agent_id": "aat-j-agent", "mission": "drop nothing", "tools": {"drop_db": {}}}
    status, body = s.post("/issue", {"format": "aat", "holder_key": holder.jwk, "mission": closed, "ttl_s": 600}, token=TOKEN)
    check("j: /issue format aat, tools {drop_db: {}} (closed, no arguments) → 400 naming drop_db",
          status == 400 and "drop_db" in error_of(body), (status, body))
    opened = dict(closed, tools={"drop_db": {"allow_unknown_arguments": True}})
    status, body = s.post("/issue", {"format": "aat", "holder_key": holder.jwk, "mission": opened, "ttl_s": 600}, token=TOKEN)
    tools = ((payload_of(body["token"]).get("authorization_details") or [{}])[0].get("tools")
             if status == 200 and isinstance(body, dict) and isinstance(body.get("token"), str) else None)
    check("j: tools {drop_db: {allow_unknown_arguments: true}} → 200, the AAT grants drop_db {}", status == 200 and tools == {"drop_db": {}}, (status, body))

    # 4. Constraint DoS: 4 links of wide depth-3 `all` trees (1,111 constraints each, 57 KB a token).
    def tree(width, depth):
        if depth == 0:
            return exact(1)
        return {"constraint_type": "all", "constraints": [tree(width, depth - 1) for _ in range(width)]}

    def wide_chain(links, width):
        keys = [Ed25519Key()]
        token, claims = root_aat(w.root, keys[0], {T: {}}, del_max_depth=8)
        chain, last = [token], claims
        for _ in range(links):
            keys.append(Ed25519Key())
            token, last = derived_aat(chain[-1], last, keys[-2], keys[-1], {T: {"a": tree(width, 3)}})
            chain.append(token)
        return chain, keys[-1]

    def dos_refusal(status, body):
        error = error_of(body)
        return status in (401, 403) and error.startswith("aat_invalid") and (
            step_named(error, "4p4") or "more than 2048 constraints" in error)

    chain, key = wide_chain(4, 10)
    began = time.time()
    status, body = start(chain, key)
    took = time.time() - began
    print(f"     j: DoS chain ({sum(len(t) for t in chain)} bytes) answered in {took:.2f} s", flush=True)
    check("j: DoS chain [R + 4 links of width-10 depth-3 `all` trees] → 403 aat_invalid (4p4 or 'more than 2048 constraints') "
          "(the time is printed, not asserted: a busy CI machine decides it)", dos_refusal(status, body), (status, body, f"{took:.2f} s"))
    # /health while such a start runs (one at a time, back to back, so the probe lands inside one).
    answers, spans = [], []

    def attack():
        for _ in range(3):
            t0 = time.time()
            answers.append(start(chain, key))
            spans.append((t0, time.time()))

    thread = threading.Thread(target=attack)
    thread.start()
    time.sleep(0.05)
    h0 = time.time()
    hstatus, _ = call("GET", s.origin + "/health")
    h1 = time.time()
    thread.join()
    during = any(t0 <= h0 <= t1 for t0, t1 in spans)
    print(f"     j: GET /health answered in {h1 - h0:.3f} s (sent during a DoS start: {during}); "
          f"DoS starts {', '.join(f'{t1 - t0:.2f}' for t0, t1 in spans)} s", flush=True)
    check("j: GET /health while such a start runs → 200 (latency printed above), every start refused the same way",
          hstatus == 200 and len(answers) == 3 and all(dos_refusal(*x) for x in answers),
          (hstatus, f"{h1 - h0:.3f} s", [(st, error_of(bd)[:120]) for st, bd in answers]))
    # Denser still: 2,380 constraints in one link (past the 2,048 cap, and past the 64 KiB token
    # cap too: a constraint takes at least 30 bytes of JSON, so the size limit answers first).
    chain, key = wide_chain(1, 13)
    status, body = start(chain, key)
    check("j: one link holding 2,380 constraints → 401/403 aat_invalid (2a token size, or 'more than 2048 constraints')",
          aat_refusal(status, body) and (step_named(error_of(body), "2a") or "more than 2048 constraints" in error_of(body)), (status, body))

    # 5. A key-bound AAT session's id is its public jti: ending it or reading its attestation needs
    # the holder's proof. A bearer-mode session (opt-out server, require_pop:false) does not.
    holder = Ed25519Key()
    er, erc = root_aat(w.root, holder, {T: {}})
    ejti = erc["jti"]
    sstatus, sbody = start([er], holder)
    astatus, abody = s.post("/attest", {"session": ejti})
    estatus, ebody = s.post("/session/end", {"session_id": ejti})
    e2status, e2body = s.post("/end", {"session": ejti})
    check("j: key-bound session: /attest, /session/end and /end without pop → 403 aat_pop_required",
          sstatus == 200 and all(st == 403 and error_of(bd).startswith("aat_pop_required")
                                 for st, bd in ((astatus, abody), (estatus, ebody), (e2status, e2body))),
          (sstatus, sbody, astatus, abody, estatus, ebody, e2status, e2body))
    status, body = evaluate(ejti, holder)
    check("j: …the session still runs: /evaluate (valid proof) → PERMIT",
          status == 200 and isinstance(body, dict) and body.get("decision") == "PERMIT", (status, body))
    status, body = s.post("/session/end", {"session_id": ejti, "pop": pop(holder, ejti, "tessera:session/attest", {}, aud)})
    check("j: /session/end with a proof for tessera:session/attest → 401/403 aat_invalid 7e", aat_refusal(status, body, "step 7e"), (status, body))
    estatus, ebody = s.post("/session/end", {"session_id": ejti, "pop": pop(holder, ejti, "tessera:session/end", {}, aud)})
    astatus, abody = s.post("/attest", {"session": ejti, "pop": pop(holder, ejti, "tessera:session/attest", {}, aud)})
    check("j: /session/end with the holder's proof (aat_tool tessera:session/end, hta {}, aat_aud the origin) → 200; "
          "/attest with its proof (tessera:session/attest) → 200", estatus == 200 and astatus == 200, (estatus, ebody, astatus, abody))
    bjti = new_jti()
    bstatus, bbody = w.optout.post("/session/start", {"token_type": "aat", "token": seed_aat(w.es, w.good_ref, ["read"], bjti), "require_pop": False})
    estatus, ebody = w.optout.post("/session/end", {"session_id": bjti})
    check("j: a bearer-mode session (opt-out server, require_pop:false) ends with just its session_id → 200",
          bstatus == 200 and estatus == 200, (bstatus, bbody, estatus, ebody))

    # 6. A mission's delegation limits bind the AAT chain's own depth, not only what it may delegate.
    def nodeleg(name, **limits):
        claims = seed_md_claims(f"urn:e2e:mission:{name}", w.list_url, idx=0, ttl=1800, mission=f"section j: {name}",
                                allowed_tools=[T], max_tool_calls=10, **limits)
        return {"uri": w.md.put(f"/md/{name}.jwt", es256_jwt(w.es, claims)), "mission_id": claims["mission_id"],
                "mission_digest": md_digest(claims)}

    for what, ref in (("delegation_allowed:false", nodeleg("j-no-delegation", delegation_allowed=False)),
                      ("max_delegation_depth 0", nodeleg("j-depth-0", max_delegation_depth=0))):
        k1, k2 = Ed25519Key(), Ed25519Key()
        mr, mrc = root_aat(w.root, k1, {T: {}}, mission_ref=ref)
        ml, _ = derived_aat(mr, mrc, k1, k2, {T: {}})
        status, body = start([mr, ml], k2)
        rstatus, rbody = start([mr], k1)
        check(f"j: mission with {what}: a depth-1 chain [R, A] → 403 aat_widens_mission; the depth-0 root alone starts (200)",
              status == 403 and error_of(body).startswith("aat_widens_mission") and rstatus == 200, (status, body, rstatus, rbody))

    # 7. A root this server issued itself is always key-bound: no opt-out for it.
    holder = Ed25519Key()
    status, body = w.optout.post("/issue", {"format": "aat", "holder_key": holder.jwk, "ttl_s": 600,
                                            "mission": {"agent_id": "aat-j-own", "mission": "read", "allowed_tools": ["read"]}}, token=TOKEN)
    own = body.get("token") if status == 200 and isinstance(body, dict) else None
    if own:
        status, body = w.optout.post("/session/start", {"token_type": "aat", "token": own, "require_pop": False})
        check("j: opt-out server, a root it issued itself, require_pop:false → 403 aat_pop_required",
              status == 403 and error_of(body).startswith("aat_pop_required"), (status, body))
        status, body = start([own], holder, server=w.optout)
        check("j: …its holder then starts it with a proof → 200", status == 200, (status, body))
    else:
        check("j: opt-out server: POST /issue format aat → 200", False, (status, body))

    # 8. The agent is named by the root (signed by a trust anchor), not by a link below it.
    k1, k2 = Ed25519Key(), Ed25519Key()
    ar, arc = root_aat(w.root, k1, {T: {}}, sub="intern-bot")
    al, _ = derived_aat(ar, arc, k1, k2, {T: {}}, sub="payments-admin-bot")
    status, body = start([ar, al], k2)
    check("j: root sub intern-bot, leaf sub payments-admin-bot → 200, agent_id intern-bot",
          status == 200 and isinstance(body, dict) and body.get("agent_id") == "intern-bot", (status, body))

    # 9. A jti becomes a session id, a log field and a revocation key: printable ASCII only.
    k1, k2 = Ed25519Key(), Ed25519Key()
    jr, jrc = root_aat(w.root, k1, {T: {}})
    forged = "x\n2030-01-01T00:00:00+0000 critical tessera : forged=line"
    jl, _ = derived_aat(jr, jrc, k1, k2, {T: {}}, jti=forged)
    status, body = start([jr, jl], k2, jti=forged)
    check("j: a leaf jti holding a newline → 401/403 aat_invalid 4b1 'printable ASCII'",
          aat_refusal(status, body, "step 4b1", "printable ASCII"), (status, body))
    spaced, _ = root_aat(w.root, k1, {T: {}}, jti="admin session")
    status, body = start([spaced], k1, jti="admin session")
    check("j: a root jti holding a space → 401/403 aat_invalid 3j 'printable ASCII'",
          aat_refusal(status, body, "step 3j", "printable ASCII"), (status, body))


def main():
    if not os.access(BIN, os.X_OK):
        print(f"aat-e2e: {BIN} is not an executable (build it, or set TESSERA_BIN)", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = tempfile.mkdtemp(prefix="aat-e2e-")
    try:
        w = setup(work)
        for run_section in (section_a, section_b, section_c, section_g, section_d, section_e, section_f, section_h, section_i, section_j):
            try:
                run_section(w)
            except Exception as error:  # noqa: BLE001 - an unexpected answer fails the section, not the run
                traceback.print_exc()
                check(f"{run_section.__name__}: ran to the end", False, repr(error))
    finally:
        servers = [x for x in STARTED if isinstance(x, Tessera)]
        if FAILED:
            for server in servers:
                print(f"--- last lines of the {server.name} server's log ---", file=sys.stderr)
                print(server.tail(), file=sys.stderr)
        for started in reversed(STARTED):
            try:
                started.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass
        if os.environ.get("AAT_E2E_KEEP"):
            print(f"aat-e2e: kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if FAILURES:
        print("failed: " + "; ".join(FAILURES))
    print(f"{PASSED} passed, {FAILED} failed")
    return 1 if FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
