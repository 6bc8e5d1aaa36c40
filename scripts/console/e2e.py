#!/usr/bin/env python3
"""The operator console in a real browser: Debian's Chromium, driven by Selenium, against a live
`tessera serve` (started by scripts/console-e2e).

What a user would do and see: sign in with a password, register an agent (one named like an XSS
payload), watch a decision arrive in the live feed, verify a receipt chain in the browser (and see
a tampered one flagged), revoke a passport and see its session marked, sign in as another
workspace's user and see nothing of the first, and keep the page responsive under 1,000
decisions a second. Screenshots of every view go to $CONSOLE_ARTIFACTS.

Environment: TESSERA_SERVER, TESSERA_TOKEN (the bootstrap admin's API key), CONSOLE_ARTIFACTS.
"""
import base64
import http.client as httpclient
import json
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

SERVER = os.environ["TESSERA_SERVER"]
ADMIN = os.environ["TESSERA_TOKEN"]
ARTIFACTS = os.environ.get("CONSOLE_ARTIFACTS", tempfile.mkdtemp())
HOST, PORT = urllib.parse.urlsplit(SERVER).hostname, urllib.parse.urlsplit(SERVER).port
XSS_NAME = "<img src=x onerror=alert(1)>"
failures = []
passed = 0
measurements = []   # (name, value, unit): printed, and written for scripts/console-bench; never asserted


def check(name, condition, detail=""):
    global passed
    if condition:
        passed += 1
        print(f"  ok   {name}", file=sys.stderr)
    else:
        failures.append(name)
        print(f"  FAIL {name} {detail}", file=sys.stderr)


def measured(name, value, unit):
    measurements.append({"name": name, "value": value, "unit": unit})
    print(f"  measured {name}: {value} {unit}", file=sys.stderr)


def http(method, path, body=None, token=ADMIN, raw=False):
    connection = httpclient.HTTPConnection(HOST, PORT, timeout=30)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if raw:
        return response.status, data.decode(), dict(response.getheaders())
    return response.status, (json.loads(data) if data else None)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk():
    key = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(key)}


def issue_and_start(agent_id, token, max_calls=None, tools=("read_file", "send_email")):
    mission = {"agent_id": agent_id, "mission": "triage the inbox", "allowed_tools": list(tools), "delegation_allowed": True,
               "max_delegation_depth": 2}
    if max_calls:
        mission["max_tool_calls"] = max_calls
    status, body = http("POST", "/issue", {"mission": mission, "ttl_s": 3600}, token=token)
    assert status == 200, (status, body)
    passport = body["token"]
    status, started = http("POST", "/session/start", {"token": passport}, token=None)
    assert status == 200, (status, started)
    return passport, body["claims"]["jti"], started["session_id"]


def evaluate(session_id, tool, arguments=None):
    status, body = http("POST", "/evaluate", {"session_id": session_id, "tool_name": tool, "arguments": arguments or {}}, token=None)
    assert status == 200, (status, body)
    return body


# --- accounts: alice writes in "default", bob writes in "beta" -------------------------------
def iam(request, token=ADMIN):
    status, body = http("POST", "/api/v1/iam", request, token=token)
    assert status == 200, (request.get("operation"), status, body)
    return body


iam({"operation": "create-workspace", "workspace_record": {"id": "beta", "name": "Beta"}})
iam({"operation": "create-user", "workspace": "default",
     "user": {"username": "alice", "name": "Alice", "password": "correct horse battery 1", "roles": ["writer", "approver"]}})
iam({"operation": "create-user", "workspace": "beta",
     "user": {"username": "bob", "name": "Bob", "password": "correct horse battery 2", "roles": ["writer"]}})
status, login = http("POST", "/api/v1/auth/login", {"username": "bob", "password": "correct horse battery 2"}, token=None)
BOB = login["jwt"]

# --- the browser -------------------------------------------------------------------------------
options = webdriver.ChromeOptions()
options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1440,1000",
                 "--force-device-scale-factor=1"]:
    options.add_argument(argument)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
downloads = tempfile.mkdtemp()
options.add_experimental_option("prefs", {"download.default_directory": downloads, "download.prompt_for_download": False})
driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
driver.set_script_timeout(30)
wait = WebDriverWait(driver, 15)


def shot(name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    # The last toast is not part of the view.
    driver.execute_script("const n = document.getElementById('notice'); if (n) { n.replaceChildren(); n.className = ''; }")
    driver.save_screenshot(os.path.join(ARTIFACTS, f"{name}.png"))


def css(selector):
    return driver.find_element(By.CSS_SELECTOR, selector)


def until(description, condition, timeout=15):
    try:
        return WebDriverWait(driver, timeout, ignored_exceptions=[StaleElementReferenceException]).until(lambda d: condition())
    except TimeoutException:
        check(description, False, "(timed out)")
        return None


def texts(selector):
    """textContent of every match, read in one script (views redraw: element handles go stale)."""
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent)", selector)


def text(selector):
    """textContent of the first match ("" when none)."""
    return (texts(selector) or [""])[0]


def attribute(selector, name):
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e && e.getAttribute(arguments[1])", selector, name)


def no_alert():
    try:
        driver.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


def sign_in(username, password):
    driver.get(f"{SERVER}/console")
    until("sign-in form shown", lambda: driver.find_elements(By.ID, "signin-form"))
    css("#signin-username").send_keys(username)
    css("#signin-password").send_keys(password)
    css("#signin-submit").click()
    return until(f"{username} signed in", lambda: driver.find_elements(By.ID, "overview-body") and text("#who").startswith(username))


def go(hash_):
    driver.execute_script("location.hash = arguments[0]", hash_)


try:
    print("console-e2e: headers", file=sys.stderr)
    status, _, headers = http("GET", "/console", token=None, raw=True)
    csp = headers.get("Content-Security-Policy", "")
    check("GET /console is 200", status == 200)
    check("strict CSP: scripts only from the server, no inline", "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp)
    check("framing refused", headers.get("X-Frame-Options") == "DENY" and "frame-ancestors 'none'" in csp)
    status, _, _ = http("GET", "/console/assets/app.js", token=None, raw=True)
    check("assets served by the same binary", status == 200)

    print("console-e2e: sign-in", file=sys.stderr)
    driver.get(f"{SERVER}/console")
    until("sign-in form", lambda: driver.find_elements(By.ID, "signin-form"))
    shot("01-sign-in")
    css("#signin-username").send_keys("alice")
    css("#signin-password").send_keys("wrong password")
    css("#signin-submit").click()
    until("a wrong password is refused on the page", lambda: "Sign-in failed" in text("#signin-error"))
    check("nothing stored in localStorage or sessionStorage",
          driver.execute_script("return localStorage.length + sessionStorage.length + document.cookie.length") == 0)
    check("signed in as alice", sign_in("alice", "correct horse battery 1") is not None)
    check("the token is in memory only (no storage, no cookie)",
          driver.execute_script("return localStorage.length + sessionStorage.length + document.cookie.length") == 0)

    print("console-e2e: agents", file=sys.stderr)
    go("#/agents")
    until("agents view", lambda: driver.find_elements(By.ID, "agent-form"))
    for name in ["mail-triage", XSS_NAME]:
        css("#agent-name").send_keys(name)
        css("#agent-jwk").send_keys(json.dumps(public_jwk()))
        css("#agent-register").click()
        until(f"agent {name!r} listed", lambda: name in texts("#agents-table .agent-name"))
    check("the XSS-named agent renders as text", XSS_NAME in texts("#agents-table .agent-name"))
    check("no <img> was created from the name", driver.find_elements(By.CSS_SELECTOR, "#agents-table img") == [])
    check("no script ran (no alert open)", no_alert())
    status, listed = http("GET", "/api/v1/console/agents")
    agents = {a["name"]: a["id"] for a in listed["agents"]}
    check("registered through the console = registered in the registry", "mail-triage" in agents and XSS_NAME in agents)
    status, _ = http("POST", f"/v1/agents/{agents['mail-triage']}/badge", {"mode": "ial0"})
    check("a badge issued through the API", status in (200, 201), str(status))
    go("#/overview")
    go("#/agents")
    mail_row = f"#agents-table tr[data-agent='{agents['mail-triage']}']"
    until("the agent's latest badge is shown", lambda: "IAL-0" in text(mail_row))
    shot("03-agents")
    css(f"{mail_row} button.revoke-badge").click()
    until("the badge is shown revoked", lambda: "revoked" in text(f"{mail_row} td:nth-child(4)"))
    status, badge_status = http("GET", f"/v1/agents/{agents['mail-triage']}/status", token=None)
    xss_row = f"#agents-table tr[data-agent='{agents[XSS_NAME]}']"
    css(f"{xss_row} button.disable").click()
    until("the XSS-named agent is shown disabled", lambda: "disabled" in text(f"{xss_row} td:nth-child(3)"))
    status, registry = http("GET", f"/v1/agents/{agents[XSS_NAME]}")
    check("disabled in the registry too", registry and registry.get("status") == "disabled", str(registry))

    print("console-e2e: live feed", file=sys.stderr)
    passport, jti, session_id = issue_and_start(agents["mail-triage"], ADMIN, max_calls=10)
    go("#/feed")
    until("feed connected", lambda: attribute("#view-feed", "data-feed") == "live")
    first = evaluate(session_id, "read_file", {"path": "/inbox/1"})
    check("PERMIT through the API", first["decision"] == "PERMIT")
    row = until("the decision appears in the feed", lambda: driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr[data-decision=PERMIT]"))
    if row:
        lag = int(row[0].get_attribute("data-lag"))
        # A measured number, not an assertion (issue 24: a timed bound in a test fails on a busy
        # machine, not on a slow console). Measured in the page (the row's creation time minus the
        # decision's), so WebDriver's polling does not count; ~140 ms on an idle 2-core machine.
        measured("feed lag (decision → row on the page)", lag, "ms")
    evil = evaluate(session_id, XSS_NAME, {"to": "<script>alert(2)</script>"})
    check("DENY through the API", evil["decision"] == "DENY")
    until("the DENY appears with its tool name as text",
          lambda: XSS_NAME in texts("#feed-rows tr[data-decision=DENY] td.tool"))
    check("no <img> in the feed", driver.find_elements(By.CSS_SELECTOR, "#feed-rows img") == [] and no_alert())
    Select(css("#feed-outcome")).select_by_value("DENY")
    css("#feed-apply").click()
    until("filtered feed reconnected", lambda: attribute("#view-feed", "data-feed") == "live")
    evaluate(session_id, "read_file", {"path": "/inbox/2"})
    evaluate(session_id, "delete_everything")
    until("DENY filter shows the DENY", lambda: driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr[data-decision=DENY]"))
    check("DENY filter hides the PERMIT", driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr[data-decision=PERMIT]") == [])
    Select(css("#feed-outcome")).select_by_value("")
    css("#feed-apply").click()
    until("unfiltered feed reconnected", lambda: attribute("#view-feed", "data-feed") == "live")
    for i in range(3):
        evaluate(session_id, "read_file", {"path": f"/inbox/{i + 3}"})
    until("three more decisions", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr")) >= 3)

    print("console-e2e: approvals", file=sys.stderr)
    pay = {"agent_id": agents["mail-triage"], "mission": "pay invoices", "tools": {"pay": {
        "arguments": {"amount": {"one_of": ["10", "5000"]}, "payee": {"not_one_of": ["nobody"]}, "account": {"optional": {"not_one_of": [0]}}},
        "requires_approval": {"when": {"amount": {"one_of": ["5000"]}}, "approvers": ["user:alice"], "ttl_s": 600}}}}
    status, issued = http("POST", "/issue", {"mission": pay, "ttl_s": 3600})
    check("a passport whose large payments need alice", status == 200, str(issued))
    status, pay_session = http("POST", "/session/start", {"token": issued["token"]}, token=None)
    # The payee hides a RIGHT-TO-LEFT OVERRIDE (issue 23, finding 6): shown as an escape, never applied.
    payee = "<b>mallory</b>\u202eNABI"
    # The account is an integer past 2^53 (finding 3): the approver must see its exact digits.
    asked = evaluate(pay_session["session_id"], "pay", {"amount": "5000", "payee": payee, "account": 1234567890123456789})
    check("a large payment needs approval", asked["decision"] == "APPROVAL_REQUIRED" and asked.get("approval_id"), str(asked))
    until("APPROVAL_REQUIRED in the feed", lambda: driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr[data-decision=APPROVAL_REQUIRED]"))
    go("#/approvals")
    card = f"article[data-approval='{asked.get('approval_id')}']"
    until("the pending approval is listed", lambda: driver.find_elements(By.CSS_SELECTOR, card))
    shown_text = text(f"{card} pre.arguments") or "{}"
    check("the bidi override is shown as \\u202E, not applied", "\u202e" not in shown_text and "\\u202E" in shown_text, repr(shown_text))
    shown = json.loads(shown_text)
    check("with the exact arguments, markup as text", shown == {"amount": "5000", "payee": payee, "account": 1234567890123456789}, str(shown))
    check("an integer past 2^53 is shown with its exact digits", "1234567890123456789" in shown_text, repr(shown_text))
    check("no <b> element made from an argument", driver.find_elements(By.CSS_SELECTOR, f"{card} b") == [])
    shot("06-approvals")
    css(f"{card} button.grant").click()
    until("granted approvals leave the list", lambda: not driver.find_elements(By.CSS_SELECTOR, card))
    other = evaluate(pay_session["session_id"], "pay", {"amount": "5000", "payee": payee, "account": 1234567890123456790})
    check("an approval for account …789 does not cover account …790", other["decision"] == "APPROVAL_REQUIRED", str(other))
    again = evaluate(pay_session["session_id"], "pay", {"amount": "5000", "payee": payee, "account": 1234567890123456789})
    check("after the grant the same call is permitted", again["decision"] == "PERMIT", str(again))
    go("#/feed")
    until("feed reconnected after approvals", lambda: attribute("#view-feed", "data-feed") == "live")
    # A feed opened now starts with the workspace's latest decisions (rows; its totals count from now).
    until("the latest decisions are shown on opening",
          lambda: {"PERMIT", "DENY", "APPROVAL_REQUIRED"} <= set(driver.execute_script(
              "return Array.from(document.querySelectorAll('#feed-rows tr'), r => r.dataset.decision)")))
    check("totals count from opening", "0 permit · 0 deny" in text("#feed-totals"))
    shot("05-decision-feed")

    print("console-e2e: sessions and delegation", file=sys.stderr)
    status, child = http("POST", "/delegate", {"parent_token": passport, "child_agent_id": "summariser", "child_mission": "summarise",
                                               "child_allowed_tools": ["read_file"], "child_max_tool_calls": 3}, token=None)
    check("delegated a child passport", status == 200, str(child))
    status, child_started = http("POST", "/session/start", {"token": child["child_token"]}, token=None)
    evaluate(child_started["session_id"], "read_file", {"path": "/inbox/1"})
    go("#/sessions")
    until("parent session listed", lambda: driver.find_elements(By.CSS_SELECTOR, f"#sessions-table tr[data-jti='{jti}']"))
    child_jti = child["child_claims"]["jti"]
    until("child session listed under it", lambda: driver.find_elements(By.CSS_SELECTOR, f"#sessions-table tr.depth-1[data-jti='{child_jti}']"))
    gauge = text(f"#sessions-table tr[data-jti='{jti}'] .gauge-cell")
    check("budget gauge shows used / max and the reservation", "/ 10" in gauge and "+3 reserved" in gauge, gauge)
    shot("04-sessions")

    print("console-e2e: receipts", file=sys.stderr)
    go(f"#/receipts?jti={jti}")
    until("receipts listed", lambda: len(driver.find_elements(By.CSS_SELECTOR, "#receipts-table tbody tr")) >= 5)
    css("#receipts-verify").click()
    until("chain verified in the browser", lambda: attribute("#chain-result", "data-state") == "valid")
    check("every receipt marked valid",
          all(r.get_attribute("data-verified") == "valid" for r in driver.find_elements(By.CSS_SELECTOR, "#receipts-table tbody tr")))
    shot("07-receipts-verified")
    css("#receipts-download").click()
    expected = f"receipts-{jti}.ndjson"
    until("NDJSON downloaded", lambda: os.path.exists(os.path.join(downloads, expected)))
    status, ndjson, _ = http("GET", f"/receipts?jti={jti}", raw=True)
    if os.path.exists(os.path.join(downloads, expected)):
        with open(os.path.join(downloads, expected)) as f:
            check("the download is the server's NDJSON, byte for byte", f.read() == ndjson)
    lines = [json.loads(line) for line in ndjson.splitlines() if line]
    header, payload, signature = lines[1]["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["decision"] = "PERMIT" if claims["decision"] == "DENY" else "DENY"
    lines[1]["jwt"] = ".".join([header, b64url(json.dumps(claims, separators=(",", ":")).encode()), signature])
    tampered = os.path.join(tempfile.mkdtemp(), "tampered.ndjson")
    with open(tampered, "w") as f:
        f.write("".join(json.dumps(line) + "\n" for line in lines))
    css("#receipts-file").send_keys(tampered)
    until("tampered chain flagged", lambda: attribute("#chain-result", "data-state") == "invalid")
    flagged = [r.get_attribute("data-index") for r in driver.find_elements(By.CSS_SELECTOR, "#receipts-table tbody tr[data-verified=invalid]")]
    check("the altered receipt (and the link after it) are the ones flagged", flagged[:1] == ["1"] and "0" not in flagged, str(flagged))
    check("the page says which receipt fails", "#1" in css("#chain-result").text)
    shot("08-receipts-tampered")

    print("console-e2e: revoke", file=sys.stderr)
    go("#/sessions")
    button = until("revoke button", lambda: driver.find_elements(By.CSS_SELECTOR, f"#sessions-table tr[data-jti='{jti}'] button.revoke"))
    if button:
        button[0].click()
    until("the session is marked revoked", lambda: driver.find_elements(By.CSS_SELECTOR, f"#sessions-table tr[data-jti='{jti}'][data-state=revoked]"))
    until("its child too", lambda: driver.find_elements(By.CSS_SELECTOR, f"#sessions-table tr[data-jti='{child_jti}'][data-state=revoked]"))
    status, body = http("POST", "/evaluate", {"session_id": session_id, "tool_name": "read_file"}, token=None)
    check("the revoked session's next call is refused by the server", status in (401, 403), f"{status} {body}")

    print("console-e2e: overview and IAM", file=sys.stderr)
    go("#/overview")
    until("overview counts", lambda: driver.find_elements(By.ID, "stat-decisions"))
    check("overview counts this hour's decisions", css("#stat-decisions .value").text not in ("", "0"))
    shot("02-overview")
    go("#/iam")
    until("IAM view", lambda: driver.find_elements(By.ID, "api-key-form"))
    css("#api-key-name").send_keys("console-made")
    css("#api-key-create").click()
    key = ""
    secret = until("the new key is shown once", lambda: driver.find_elements(By.ID, "api-key-plaintext"))
    if secret:
        key = secret[0].text
        status, whoami = http("POST", "/api/v1/iam", {"operation": "whoami"}, token=key)
        check("the shown key authenticates as alice", status == 200 and whoami["user"]["username"] == "alice", str(whoami))
    check("a writer is told users are not hers to list", "Not permitted" in css("#iam-users").text)
    shot("09-iam")

    print("console-e2e: workspace isolation", file=sys.stderr)
    css("#signout").click()
    until("signed out", lambda: driver.find_elements(By.ID, "signin-form"))
    check("bob signed in", sign_in("bob", "correct horse battery 2") is not None)
    go("#/agents")
    until("bob's agents view", lambda: driver.find_elements(By.ID, "agents-list"))
    until("bob's agents listed", lambda: "No agents" in text("#agents-list"))
    check("bob sees none of default's agents", "mail-triage" not in css("#agents-list").text)
    go("#/sessions")
    until("bob's sessions view", lambda: "No sessions" in text("#sessions-list"))
    go("#/feed")
    until("bob's feed connected", lambda: attribute("#view-feed", "data-feed") == "live")
    _, _, other = issue_and_start("default-agent", ADMIN)
    evaluate(other, "read_file", {"path": "/secret/default"})
    _, _, own = issue_and_start("beta-agent", BOB)
    evaluate(own, "read_file", {"path": "/beta"})
    until("bob's own decision arrives", lambda: driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr[data-agent=beta-agent]"))
    check("default's decision (made first) never reached bob's feed",
          driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr[data-agent=default-agent]") == [])
    status, _ = http("GET", f"/receipts?jti={jti}", token=BOB)
    check("bob cannot read default's receipts through the API either", status in (403, 404), str(status))
    status, body = http("GET", "/api/v1/console/sessions", token=BOB)
    check("bob's session listing holds only beta", status == 200 and all(s["agent_id"] == "beta-agent" for s in body["sessions"]))

    print("console-e2e: 1,000 decisions a second for 10 s", file=sys.stderr)
    css("#signout").click()
    until("signed out again", lambda: driver.find_elements(By.ID, "signin-key-form"))
    css("#signin-apikey").send_keys(key)
    css("#signin-key-submit").click()
    until("alice signed in with her API key", lambda: text("#who").startswith("alice"))
    go("#/feed")
    until("alice's feed connected", lambda: attribute("#view-feed", "data-feed") == "live")
    # A second feed that never reads: its buffer fills on the server, and nothing may slow down.
    dead = socket.create_connection((HOST, PORT))
    dead.sendall(f"GET /api/v1/console/decisions HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {ADMIN}\r\n\r\n".encode())
    driver.execute_script("""
        window.__gaps = []; let last = performance.now();
        window.__probe = setInterval(() => { const now = performance.now(); window.__gaps.push(now - last); last = now; }, 50);""")
    sessions = [issue_and_start(f"load-{i}", ADMIN, tools=("read_file",))[2] for i in range(10)]
    rate, seconds, workers = 1000, 10, 10
    permits = [0] * workers
    errors = []

    def load(index):
        connection = httpclient.HTTPConnection(HOST, PORT, timeout=30)
        body = json.dumps({"session_id": sessions[index], "tool_name": "read_file", "arguments": {"path": "/x"}})
        start = time.monotonic()
        per_worker = rate / workers
        n = 0
        while time.monotonic() - start < seconds:
            delay = start + n / per_worker - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            connection.request("POST", "/evaluate", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            data = response.read()
            if response.status != 200:
                errors.append(response.status)
            elif json.loads(data)["decision"] == "PERMIT":
                permits[index] += 1
            n += 1

    threads = [threading.Thread(target=load, args=(i,)) for i in range(workers)]
    began = time.monotonic()
    for t in threads:
        t.start()
    responsive = []
    while any(t.is_alive() for t in threads):
        asked = time.monotonic()
        driver.execute_script("return document.querySelectorAll('#feed-rows tr').length")
        responsive.append(time.monotonic() - asked)
        time.sleep(0.5)
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    total = sum(permits)
    print(f"  load: {total} PERMITs in {elapsed:.1f} s, {len(errors)} errors", file=sys.stderr)
    measured(f"decisions a second offered to the page (target {rate}/s)", round(total / elapsed), "/s")
    measured("slowest WebDriver script answer during the load", round(max(responsive) * 1000), "ms")
    check("every evaluation answered 200 while a feed was not reading", not errors, str(errors[:5]))
    expected_total = total
    until("the page's totals count every decision, shown or sampled",
          lambda: f"{expected_total} permit" in text("#feed-totals"), timeout=20)
    gaps = driver.execute_script("clearInterval(window.__probe); return window.__gaps")
    longest = max(gaps) if gaps else 0
    # "Does not freeze", measured: the longest stall of a 50 ms timer in the page (~150 ms on an idle
    # machine). Printed, not asserted: the browser shares two cores with the server and the load.
    measured(f"page timer, longest gap over {len(gaps)} ticks (50 ms interval)", round(longest), "ms")
    check("the page timer ran throughout the load (it ticked)", len(gaps) >= 5, f"({len(gaps)} ticks)")
    check("the page keeps a bounded number of rows", len(driver.find_elements(By.CSS_SELECTOR, "#feed-rows tr")) <= 500)
    print(f"  totals line: {css('#feed-totals').text}", file=sys.stderr)
    shot("10-feed-under-load")
    dead.close()

    print("console-e2e: a revoked credential ends the console session", file=sys.stderr)
    _, keys = http("POST", "/api/v1/iam", {"operation": "list-api-keys"}, token=key)
    key_id = next(k["id"] for k in keys["api_keys"] if k["name"] == "console-made")
    status, _ = http("POST", "/api/v1/iam", {"operation": "revoke-api-key", "key_id": key_id}, token=key)
    check("alice revoked the key she signed in with", status == 200)
    # The server ends the open feed at its next credential check; the page's reconnect is refused
    # and the console drops its token and says why — with no click from the operator.
    until("the console returns to sign-in by itself, saying why", lambda: "revoked" in text("#signin-error"))
    go("#/sessions")
    check("and stays there (no view renders without a credential)",
          driver.find_elements(By.ID, "signin-form") and not driver.find_elements(By.ID, "sessions-list"))

    # The 401 and 403 answers this run provokes on purpose are logged as network errors; anything
    # else (a CSP violation, an exception in the page) is a failure.
    severe = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE" and entry.get("source") != "network"]
    check("no page errors (no CSP violation, no exception)", not severe, json.dumps(severe[:3]))
finally:
    driver.quit()

with open(os.path.join(ARTIFACTS, "measurements.json"), "w") as out:
    json.dump(measurements, out, indent=1)
print(f"console-e2e: {passed} checks passed, {len(failures)} failed; screenshots in {ARTIFACTS}", file=sys.stderr)
if failures:
    print("failed: " + "; ".join(failures), file=sys.stderr)
    sys.exit(1)
