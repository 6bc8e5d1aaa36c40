"""The generated Python client (openapi-python-client, from docs/openapi.json) drives the main
path against a live server: bootstrap → register an agent → IAL-0 badge → passport → session →
evaluate (a PERMIT and a DENY) → end. Proves the document is usable, not only valid."""
import base64
import os
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

from tessera_client import AuthenticatedClient, Client
from tessera_client.api.iam import bootstrap
from tessera_client.api.agents import register_agent, get_agent
from tessera_client.api.badges import issue_badge, badge_status
from tessera_client.api.governance import issue_passport, start_session, evaluate, end_session
from tessera_client.api.operations import health
from tessera_client.models import (
    Empty, RegisterAgentRequest, IssueBadgeRequestType0, IssueRequest, StartRequest, EvaluateRequest, EndRequest,
    IAMResponse, Agent, IssuedBadge, IssueResponse, StartResponse, EvaluationResult, EndResult, BadgeStatus, Health,
)

BASE = os.environ["TESSERA_SERVER"]
checks = 0


def check(condition, what):
    global checks
    if not condition:
        print(f"client-smoke: FAILED: {what}", file=sys.stderr)
        sys.exit(1)
    checks += 1
    print(f"client-smoke: ok: {what}", file=sys.stderr)


anonymous = Client(base_url=BASE, raise_on_unexpected_status=True)
check(isinstance(health.sync(client=anonymous), Health), "health")
boot = bootstrap.sync(client=anonymous, body=Empty())
check(isinstance(boot, IAMResponse) and boot.bootstrap_admin_api_key, "bootstrap returns the admin's API key")
admin = AuthenticatedClient(base_url=BASE, token=boot.bootstrap_admin_api_key, raise_on_unexpected_status=True)

raw = Ed25519PrivateKey.generate().public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
x = base64.urlsafe_b64encode(raw).decode().rstrip("=")
agent = register_agent.sync(client=admin, body=RegisterAgentRequest.from_dict(
    {"name": "smoke", "public_jwk": {"kty": "OKP", "crv": "Ed25519", "x": x}, "domain": "smoke.example"}))
check(isinstance(agent, Agent) and agent.did.startswith("did:key:z6Mk"), f"agent registered: {getattr(agent, 'did', agent)}")
again = get_agent.sync(client=admin, id=agent.did)
check(isinstance(again, Agent) and again.id == agent.id, "agent read back by DID")

badge = issue_badge.sync(client=admin, did=agent.did, body=IssueBadgeRequestType0.from_dict(
    {"mode": "ial0", "ttl": 300, "badge_aud": ["https://api.example.com"]}))
check(isinstance(badge, IssuedBadge) and badge.badge.count(".") == 2 and badge.data.assurance_level.value == "IAL-0", "IAL-0 badge issued")
status = badge_status.sync(client=anonymous, jti=badge.jti)
check(isinstance(status, BadgeStatus) and status.revoked is False and status.sub == agent.did, "badge status: not revoked")

issued = issue_passport.sync(client=admin, body=IssueRequest.from_dict({"mission": {
    "agent_id": agent.id, "mission": "summarise reports", "allowed_tools": ["read_file"], "forbidden_tools": ["delete_file"],
    "max_tool_calls": 5}}))
check(isinstance(issued, IssueResponse) and issued.token.count(".") == 2, "passport issued")
session = start_session.sync(client=anonymous, body=StartRequest.from_dict({"token": issued.token}))
check(isinstance(session, StartResponse) and session.session_id.startswith("ses_"), "session started")
permit = evaluate.sync(client=anonymous, body=EvaluateRequest.from_dict(
    {"session_id": session.session_id, "tool_name": "read_file", "arguments": {"path": "/data/report.txt"}}))
check(isinstance(permit, EvaluationResult) and permit.decision.value == "PERMIT", "read_file: PERMIT")
deny = evaluate.sync(client=anonymous, body=EvaluateRequest.from_dict({"session_id": session.session_id, "tool_name": "delete_file"}))
check(isinstance(deny, EvaluationResult) and deny.decision.value == "DENY", "delete_file: DENY")
ended = end_session.sync(client=anonymous, body=EndRequest.from_dict({"session_id": session.session_id}))
check(isinstance(ended, EndResult) and ended.receipts_count == 2 and ended.attestation_token.count(".") == 2,
      "session ended: attestation over 2 receipts")
print(f"client-smoke: {checks} checks passed", file=sys.stderr)
