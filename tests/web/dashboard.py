"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver,
driven by selenium), for tests/docker_dashboard.rs.

Each subcommand is one scenario a person goes through in the browser; it asserts what
they would see and exits non-zero with a message when something is not so, then prints
one JSON line of what it saw. Tokens come from the environment (never argv), and
screenshots go to SCREENSHOTS.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL = os.environ["PORTAL_URL"]
SHOTS = os.environ.get("SCREENSHOTS", "target/screenshots")
WAIT = 30


def browser(javascript=True):
    opts = webdriver.ChromeOptions()
    if not javascript:
        opts.add_argument("--blink-settings=scriptEnabled=false")
    opts.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for a in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,860", "--no-first-run", "--disable-extensions"]:
        opts.add_argument(a)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    return webdriver.Chrome(service=service, options=opts)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def wait_for(driver, what, cond, timeout=WAIT):
    try:
        # A page that is being replaced (a form posted, a redirect) is looked at again.
        ignored = [NoSuchElementException, StaleElementReferenceException]
        return WebDriverWait(driver, timeout, poll_frequency=0.2, ignored_exceptions=ignored).until(cond)
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}; the page shows:\n{body_text(driver)}")


def body_text(driver):
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except Exception as e:  # noqa: BLE001 - only for the failure message
        return f"(no body: {e})"


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def sign_in(driver, token):
    driver.get(URL + "/")
    field = wait_for(driver, "the sign-in form", lambda d: d.find_element(By.ID, "token"))
    field.send_keys(token)
    driver.find_element(By.ID, "signin").click()
    wait_for(driver, "the signed-in page", lambda d: d.find_elements(By.ID, "signout"))


def cell(driver, server, name):
    rows = driver.find_elements(By.CSS_SELECTOR, f'#servers tr[data-server="{server}"] td.{name}')
    return rows[0].text if rows else None


def session_cookie(driver):
    c = driver.get_cookie("portal_session")
    check(c is not None, "the browser holds no portal_session cookie after signing in")
    return c


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(method, path, cookie=None, form=None, token=None):
    """(status, location, body) of one request outside the browser."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(URL + path, data=data, method=method)
    if cookie:
        req.add_header("Cookie", f"portal_session={cookie}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=30) as r:
            return r.status, r.headers.get("Location"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Location"), e.read().decode()


def user(args):
    """A user signs in, sees their servers, sets a secret, enables a server and watches
    it turn running without a reload, reads its log (the secret masked), and enables
    another with two values of a list parameter."""
    user_id, server, listed, secret = args
    token = os.environ["USER_TOKEN"]
    d = browser()
    try:
        sign_in(d, token)
        check(d.current_url.endswith(f"/ui/users/{user_id}"), f"signed in at {d.current_url}")
        c = session_cookie(d)
        check(c.get("httpOnly") is True, f"the session cookie is not HttpOnly: {c}")
        check(c.get("sameSite") == "Strict", f"the session cookie is not SameSite=Strict: {c}")
        servers = [e.get_attribute("data-server") for e in d.find_elements(By.CSS_SELECTOR, "#servers tbody tr")]
        check(server in servers, f"{server} is not among the servers shown: {servers}")
        sources = {e.get_attribute("data-server"): e.find_element(By.CSS_SELECTOR, ".source").text
                   for e in d.find_elements(By.CSS_SELECTOR, "#servers tbody tr")}
        check(cell(d, server, "state") == "disabled", f"{server} is not disabled at first: {cell(d, server, 'state')}")
        shot(d, "servers")

        # Search by name narrows the list.
        d.find_element(By.ID, "search").send_keys(server)
        d.find_element(By.CSS_SELECTOR, "form.filters button").click()
        wait_for(d, "the filtered list", lambda d: "q=" in d.current_url)
        shown = [e.get_attribute("data-server") for e in d.find_elements(By.CSS_SELECTOR, "#servers tbody tr")]
        check(shown == [server], f"searching {server!r} shows {shown}")

        # The secret, through the server's write-only form.
        d.find_element(By.CSS_SELECTOR, f'#servers a[href$="/servers/{server}"]').click()
        wait_for(d, "the server's page", lambda d: d.find_elements(By.CSS_SELECTOR, "form.secret"))
        form = d.find_element(By.CSS_SELECTOR, "form.secret")
        form.find_element(By.NAME, "value").send_keys(secret)
        form.find_element(By.TAG_NAME, "button").click()
        wait_for(d, "the secret set", lambda d: "set" in d.find_element(By.CSS_SELECTOR, "form.secret span").text
                 and "not set" not in d.find_element(By.CSS_SELECTOR, "form.secret span").text)
        check(secret not in d.page_source, "the secret's value is in the page")
        snippet = d.find_element(By.ID, "snippet").text
        check(f"/mcp/{server}" in snippet, f"the MCP snippet names no URL of {server}: {snippet}")

        # Enable from the list; the page is not reloaded, the state turns running.
        d.get(URL + f"/ui/users/{user_id}")
        d.execute_script("window.__stayed = true;")
        d.find_element(By.CSS_SELECTOR, f'#servers tr[data-server="{server}"] button.enable').click()
        wait_for(d, f"{server} running", lambda d: cell(d, server, "state") == "running")
        check(d.execute_script("return window.__stayed === true;"), "the page was reloaded to show the new state")
        wait_for(d, "the Disable button", lambda d: d.find_element(
            By.CSS_SELECTOR, f'#servers tr[data-server="{server}"] button.disable').is_displayed())
        notice = d.find_element(By.ID, "live-notice").text
        shot(d, "servers-running")

        # The log, live, with the secret masked.
        d.find_element(By.CSS_SELECTOR, f'#servers a[href$="/servers/{server}"]').click()
        wait_for(d, "the log following", lambda d: d.find_element(By.ID, "log").get_attribute("data-live"))
        wait_for(d, "the log's lines", lambda d: "mcp-echo:" in d.find_element(By.ID, "log").text)
        log = d.find_element(By.ID, "log").text
        check(secret not in log, "the secret's value is in the log")
        check("****" in log, f"the log masks nothing: {log}")
        shot(d, "server")

        # The settings form of a server with a list parameter: several values, kept.
        d.get(URL + f"/ui/users/{user_id}/servers/{listed}")
        d.find_element(By.ID, "p.paths").send_keys("docs\nnotes")
        d.find_element(By.CSS_SELECTOR, "#settings button").click()
        wait_for(d, f"{listed} enabled", lambda d: d.find_elements(By.ID, "live-notice")
                 and f"{listed} enabled" in d.find_element(By.ID, "live-notice").text)
        d.refresh()
        kept = d.find_element(By.ID, "p.paths").get_attribute("value")
        check(kept.splitlines() == ["docs", "notes"], f"the list parameter reads {kept!r} after enabling")
        print(json.dumps({"servers": servers, "sources": sources, "notice": notice, "log": log.splitlines()}))
    finally:
        d.quit()


def admin(args):
    """An admin uploads a new revision of a catalog, sees the diff, rolls it back, and
    looks at the users, containers and audit pages."""
    name, user_id, added = args
    token = os.environ["ADMIN_TOKEN"]
    revision2 = sys.stdin.read()
    d = browser()
    try:
        sign_in(d, token)
        d.get(URL + "/ui/admin/catalogs")
        wait_for(d, "the catalogs table", lambda d: d.find_elements(By.CSS_SELECTOR, f'#catalogs tr[data-catalog="{name}"]'))
        d.find_element(By.ID, "name").send_keys(name)
        area = d.find_element(By.ID, "content")
        d.execute_script("arguments[0].value = arguments[1];", area, revision2)
        d.find_element(By.CSS_SELECTOR, "#upload button").click()
        wait_for(d, "the catalog's history", lambda d: d.find_elements(By.ID, "revisions"))
        notice = d.find_element(By.CSS_SELECTOR, ".notice").text
        check("revision 2" in notice, f"the upload says: {notice}")
        diff = d.find_element(By.ID, "diff").text
        check(any(l.startswith("+") and added in l for l in diff.splitlines()),
              f"the diff shows no added line with {added}:\n{diff}")
        shot(d, "catalog-diff")

        d.get(URL + f"/ui/users/{user_id}")
        check(d.find_elements(By.CSS_SELECTOR, f'#servers tr[data-server="{added}"]'),
              f"the user's catalog lacks {added} after the upload")

        d.get(URL + f"/ui/admin/catalogs/{name}")
        d.find_element(By.CSS_SELECTOR, '#revisions tr[data-revision="1"] button.rollback').click()
        wait_for(d, "the rollback", lambda d: "again" in d.find_element(By.CSS_SELECTOR, ".notice").text)
        current = d.find_element(By.CSS_SELECTOR, "#revisions tr.current").get_attribute("data-revision")
        check(current == "1", f"revision {current} is current after rolling back to 1")
        d.get(URL + f"/ui/users/{user_id}")
        check(not d.find_elements(By.CSS_SELECTOR, f'#servers tr[data-server="{added}"]'),
              f"the user's catalog still has {added} after the rollback")

        d.get(URL + "/ui/admin/users")
        row = d.find_element(By.CSS_SELECTOR, f'#users tr[data-user="{user_id}"]')
        bars = [e.text for e in row.find_elements(By.CSS_SELECTOR, ".usage .label")]
        check(any(b.startswith("containers 1/") for b in bars), f"the usage bars of {user_id}: {bars}")
        shot(d, "users")
        d.get(URL + "/ui/admin/containers")
        memory = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#containers td.memory")]
        check(any("MiB" in m for m in memory), f"no container shows its memory in use: {memory}")
        shot(d, "containers")
        d.get(URL + "/ui/admin/audit?action=catalog.rollback")
        actions = [e.text for e in d.find_elements(By.CSS_SELECTOR, "#audit td.action")]
        check(actions and set(actions) == {"catalog.rollback"}, f"the audit filter shows {actions}")
        shot(d, "audit")
        print(json.dumps({"notice": notice, "diff": diff.splitlines(), "bars": bars, "audit": actions}))
    finally:
        d.quit()


def sessions(args):
    """A user cannot open another user's pages; a form without its CSRF token is
    refused; the buttons work without JavaScript; signing out and revoking the token
    each end the session."""
    user_id, other, server = args
    token, admin_token = os.environ["USER_TOKEN"], os.environ["ADMIN_TOKEN"]
    d = browser()
    try:
        sign_in(d, token)
        d.get(URL + f"/ui/users/{other}")
        heading = d.find_element(By.TAG_NAME, "h1").text
        check(heading.startswith("403"), f"another user's page shows {heading!r}")
        shot(d, "forbidden")
        cookie = session_cookie(d)["value"]
        status, _, _ = http("GET", f"/ui/users/{other}/servers/{server}", cookie=cookie)
        check(status == 403, f"another user's server page answers {status}")
        status, _, _ = http("GET", f"/api/v1/users/{other}/servers/{server}/logs", cookie=cookie)
        check(status == 403, f"another user's log stream answers {status} to the session")
        status, _, _ = http("GET", f"/api/v1/events?user={other}", cookie=cookie)
        check(status == 403, f"another user's event stream answers {status} to the session")
        req = urllib.request.Request(URL + f"/api/v1/events?user={user_id}", headers={"Cookie": f"portal_session={cookie}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            check(r.status == 200 and r.headers.get("Content-Type", "").startswith("text/event-stream"),
                  f"the user's own event stream answers {r.status} {r.headers.get('Content-Type')}")
            first = r.readline().decode()
            check(first.startswith("event:"), f"the user's own event stream begins with {first!r}")

        enable = f"/ui/users/{user_id}/servers/{server}/enable"
        status, _, body = http("POST", enable, cookie=cookie, form={})
        check(status == 403, f"a form without its CSRF token answers {status}")
        status, _, _ = http("POST", enable, cookie=cookie, form={"csrf": "0" * 64})
        check(status == 403, f"a form with a wrong CSRF token answers {status}")
        d.get(URL + f"/ui/users/{user_id}")
        csrf = d.find_element(By.NAME, "csrf").get_attribute("value")
        status, location, _ = http("POST", f"/ui/users/{user_id}/servers/{server}/disable",
                                   cookie=cookie, form={"csrf": csrf})
        check(status == 303, f"the same form with its CSRF token answers {status}")
        status, _, _ = http("POST", f"/api/v1/users/{user_id}/servers/{server}/enable", cookie=cookie)
        check(status == 401, f"an API route that changes things takes the session cookie ({status})")

        # Without JavaScript the same buttons post and come back with the outcome.
        plain = browser(javascript=False)
        try:
            sign_in(plain, token)
            plain.find_element(By.CSS_SELECTOR, 'tr[data-server="quiet"] button.enable').click()
            wait_for(plain, "the notice", lambda p: "quiet enabled" in p.find_element(By.CSS_SELECTOR, ".notice").text)
            check(cell(plain, "quiet", "state") == "running", f"quiet shows {cell(plain, 'quiet', 'state')} after enabling")
            check(not plain.find_elements(By.ID, "live-notice"), "the script ran in the browser without JavaScript")
        finally:
            plain.quit()

        d.find_element(By.ID, "signout").click()
        wait_for(d, "the sign-in form", lambda d: d.find_elements(By.ID, "token"))
        d.get(URL + f"/ui/users/{user_id}")
        check(d.find_elements(By.ID, "token"), "the user's page still shows after signing out")
        status, location, _ = http("GET", f"/ui/users/{user_id}", cookie=cookie)
        check(status == 303 and location == "/", f"the old session answers {status} {location}")

        sign_in(d, token)
        status, _, tokens = http("GET", "/api/v1/admin/tokens", token=admin_token)
        check(status == 200, f"listing tokens answers {status}")
        ids = [t["id"] for t in json.loads(tokens) if t["user"] == user_id]
        check(len(ids) == 1, f"the user has tokens {ids}")
        status, _, _ = http("DELETE", f"/api/v1/admin/tokens/{ids[0]}", token=admin_token)
        check(status == 200, f"revoking the token answers {status}")
        d.get(URL + f"/ui/users/{user_id}")
        check(d.find_elements(By.ID, "token"), "the session outlived its revoked token")
        shot(d, "signin")
        print(json.dumps({"forbidden": heading}))
    finally:
        d.quit()


if __name__ == "__main__":
    try:
        {"user": user, "admin": admin, "sessions": sessions}[sys.argv[1]](sys.argv[2:])
    except AssertionError as e:
        print(f"dashboard.py {sys.argv[1]}: {e}", file=sys.stderr)
        sys.exit(1)
