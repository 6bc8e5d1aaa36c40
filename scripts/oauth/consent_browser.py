"""Sign-in and consent in a real browser: Debian's headless Chromium driven by Selenium walks Tessera's
authorization pages once, as a person would, and a loopback HTTP server of ours plays the client's
redirect URI. Saves the consent page to docs/images/oauth-consent.png.

Checks what only a browser shows: the pages work under their own CSP (styles by nonce, no script),
form-action lets the approve's redirect reach the client, the code arrives with state and iss, and the
pages refuse to be framed. Environment: see common.py (CHROMIUM, CHROMEDRIVER override the paths).
"""
import http.server
import os
import secrets
import threading
import time
import urllib.parse

from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from common import (ENDPOINT, ISSUER, PASSWORD, USERNAME, authorize_url, check, ensure_template, ensure_user, free_port, json_of, pkce, redeem,
                    register, summary)

SHOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "images", "oauth-consent.png")
received = []
FRAME_TARGET = {}


class Client(http.server.BaseHTTPRequestHandler):
    """The OAuth client's redirect URI (and a page that tries to frame the sign-in page)."""

    def do_GET(self):
        if self.path.startswith("/frame"):
            body = f'<!doctype html><title>framing</title><iframe id="f" src="{FRAME_TARGET["url"]}" width="600" height="400"></iframe>'
        elif self.path.startswith("/callback"):
            received.append(self.path)
            body = "<!doctype html><title>Example MCP Client</title><p>Signed in. You can close this window.</p>"
        else:
            body = ""
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def main():
    check("browser: the person exists", ensure_user())
    ensure_template("time.read", {"allowed_tools": ["get_time"]}, description="Read the clock")
    ensure_template("echo.write", {"tools": {"echo": {"arguments": {"text": {"regex": "^[a-z ]{1,32}$"}}}}, "max_tool_calls": 50},
                    description="Echo lowercase text", ttl_s=600)
    port = free_port()
    callback = f"http://127.0.0.1:{port}/callback"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Client)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    response, client = register(client_name="Example MCP Client", redirect_uris=[callback], client_uri="https://client.example")
    check("browser: the client registered", response.status_code == 201, response.text[:300])
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(16)
    url = authorize_url(client["client_id"], callback, challenge, state=state, scope="time.read echo.write offline_access")
    FRAME_TARGET["url"] = url

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1000,1200",
                     "--force-device-scale-factor=1"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")), options=options)
    wait = WebDriverWait(driver, 20)
    try:
        driver.get(url)
        check("browser: the sign-in page", "Sign in" in driver.title and driver.find_elements(By.ID, "password"), driver.title)
        driver.find_element(By.NAME, "username").send_keys(USERNAME)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        try:
            approve = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "button[name=decision][value=approve]"))
        except TimeoutException:
            check("browser: signed in, the consent page is shown", False, driver.page_source[:500])
            return
        text = driver.find_element(By.TAG_NAME, "body").text
        missing = [t for t in ["Example MCP Client", "time.read", "echo.write", "get_time", "echo", ENDPOINT, f"127.0.0.1:{port}", USERNAME] if t not in text]
        check("browser: the consent page names client, person, redirect host, resource, scopes and tools", not missing, f"missing {missing}")
        color = approve.value_of_css_property("background-color")
        check("browser: the page's styles apply under its CSP (nonce)", color.replace(" ", "") in ("rgb(31,136,61)", "rgba(31,136,61,1)"), color)
        scripts = driver.execute_script("return document.scripts.length")
        check("browser: the page runs no script", scripts == 0, scripts)
        height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
        driver.set_window_size(1000, min(max(int(height) + 40, 600), 2400))
        os.makedirs(os.path.dirname(SHOT), exist_ok=True)
        driver.save_screenshot(SHOT)
        check("browser: screenshot saved to docs/images/oauth-consent.png", os.path.getsize(SHOT) > 10_000, SHOT)
        violations = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e.get("message", "")]
        check("browser: no CSP violation while signing in and consenting", not violations, violations[:2])

        driver.find_element(By.CSS_SELECTOR, "button[name=decision][value=approve]").click()
        try:
            WebDriverWait(driver, 20).until(lambda d: received)
        except TimeoutException:
            logs = [e["message"] for e in driver.get_log("browser")]
            check("browser: approve redirects to the client (form-action allows it)", False, f"{driver.current_url} {logs[:3]}")
            return
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(received[-1]).query))
        check("browser: the client's redirect URI received code, state and iss", query.get("code") and query.get("state") == state
              and query.get("iss") == ISSUER, received[-1])
        check("browser: nothing in the URL fragment", "#" not in driver.current_url, driver.current_url)
        token = redeem(client["client_id"], query.get("code", ""), verifier, callback)
        body = json_of(token) or {}
        check("browser: the code redeems (scope time.read echo.write, ttl = the shorter template's 600 s, a refresh token)",
              token.status_code == 200 and set(body.get("scope", "").split()) - {"offline_access"} == {"time.read", "echo.write"}
              and body.get("expires_in") == 600 and body.get("refresh_token"), token.text[:300])

        # A page of another origin framing the sign-in page gets nothing.
        driver.get_log("browser")
        driver.get(f"http://127.0.0.1:{port}/frame")
        time.sleep(2)
        framed = ""
        try:
            driver.switch_to.frame(driver.find_element(By.ID, "f"))
            framed = driver.execute_script("return document.body ? document.body.innerText : ''") or ""
        except WebDriverException as error:
            framed = f"(no access: {type(error).__name__})"
        finally:
            driver.switch_to.default_content()
        logs = " ".join(e["message"] for e in driver.get_log("browser"))
        check("browser: the sign-in page refuses to be framed (frame-ancestors 'none' / X-Frame-Options)",
              "Sign in to Tessera" not in framed and ("frame-ancestors" in logs or "X-Frame-Options" in logs or "refused" in framed.lower()
                                                      or "blocked" in framed.lower() or framed.startswith("(no access")), f"{framed[:200]} | {logs[:300]}")
        console(driver, body.get("refresh_token", ""), client["client_id"])
    finally:
        driver.quit()
        server.shutdown()


def console(driver, refresh_token, client_id):
    """The console's OAuth view: templates visible and creatable/deletable, the grant just made
    visible and revocable (its refresh token then dead), clients listed for administrators only."""
    wait = WebDriverWait(driver, 20)

    def settled(condition):
        # The console re-renders a table after an action: an element read mid-render is stale.
        try:
            return condition()
        except WebDriverException:
            return False

    def until(what, condition):
        try:
            return wait.until(lambda d: settled(condition))
        except TimeoutException:
            check(what, False, driver.find_element(By.TAG_NAME, "body").text[:400])
            return None

    driver.get(f"{ISSUER}/console")
    if not until("console: sign-in form", lambda: driver.find_elements(By.ID, "signin-form")):
        return
    driver.find_element(By.ID, "signin-username").send_keys(USERNAME)
    driver.find_element(By.ID, "signin-password").send_keys(PASSWORD)
    driver.find_element(By.ID, "signin-submit").click()
    if not until("console: signed in", lambda: driver.find_elements(By.ID, "overview-body")):
        return
    driver.execute_script("location.hash = '#/oauth'")
    rows = until("console: the OAuth view lists the templates", lambda: driver.find_elements(By.CSS_SELECTOR, "#templates-table tr[data-template='time.read']"))
    check("console: templates are visible with their tools", rows and "get_time" in rows[0].text, rows[0].text if rows else "")
    driver.find_element(By.ID, "template-name").send_keys("console.made")
    driver.find_element(By.ID, "template-resources").send_keys("time")
    driver.find_element(By.ID, "template-mission").send_keys('{"allowed_tools":["get_time"],"max_tool_calls":7}')
    driver.find_element(By.ID, "template-create").click()
    made = until("console: a template created from the form appears", lambda: driver.find_elements(By.CSS_SELECTOR, "tr[data-template='console.made']"))
    check("console: template created from the form (and served by the API)", made and json_of(__import__("common").api("GET", "/mission-templates/console.made")) is not None, "")
    if made:
        made[0].find_element(By.CSS_SELECTOR, "button.delete-template").click()
        check("console: template deleted from the console", until("template row gone", lambda: not driver.find_elements(By.CSS_SELECTOR, "tr[data-template='console.made']")) is not None
              and __import__("common").api("GET", "/mission-templates/console.made").status_code == 404, "")
    grant_rows = until("console: the grant just approved is listed", lambda: [r for r in driver.find_elements(By.CSS_SELECTOR, "#grants-table tr[data-grant]") if client_id in r.text])
    if grant_rows:
        check("console: the grant names its scopes", "time.read" in grant_rows[0].text and "echo.write" in grant_rows[0].text, grant_rows[0].text)
        grant_rows[0].find_element(By.CSS_SELECTOR, "button.revoke-grant").click()
        until("console: the revoked grant disappears", lambda: not [r for r in driver.find_elements(By.CSS_SELECTOR, "#grants-table tr[data-grant]") if client_id in r.text])
        refreshed = __import__("common").token_request({"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id})
        check("console: after revoking in the console, the grant's refresh token is dead (invalid_grant)",
              refreshed.status_code == 400 and (json_of(refreshed) or {}).get("error") == "invalid_grant", refreshed.text[:200])
    clients = until("console: the clients section answers", lambda: driver.find_elements(By.ID, "oauth-clients") and "Registered OAuth clients" in driver.find_element(By.ID, "oauth-clients").text)
    check("console: registered clients are for administrators (a writer is told so)", clients and "administrators" in driver.find_element(By.ID, "oauth-clients").text,
          driver.find_element(By.ID, "oauth-clients").text[:200])


main()
summary()
