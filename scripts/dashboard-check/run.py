#!/usr/bin/env python3
"""A real-browser check of the admin dashboard (`/dashboard`).

Usage: run.py <path-to-safeapi-bridge-binary> <screenshot-dir>

Starts the binary on a free 127.0.0.1 port in a temporary data dir, seeds an app, three users
and a few proxied calls through the built-in mock provider over HTTP, then drives headless
Chromium (Debian's chromium + chromium-driver) through Selenium: sign in through the form, the
overview's charts, creating an app (its once-only secret), deactivating a user, verifying the
audit chain, signing out. It fails on any CSP violation or JavaScript error in the console, and
if the admin key ever shows up in localStorage, sessionStorage, document.cookie or the URL.
Screenshots land in <screenshot-dir> (failure.png too when a step fails); the server is always
stopped. Exit 0 when every check passes, 1 on a failed check, 2 on bad usage.
"""

import json
import os
import secrets
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
APP_ID = "dashboard.check"
USERS = ["dash-user-1", "dash-user-2", "dash-user-3"]
WAIT = 20  # seconds for any one browser condition


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def step(message):
    print(f"  - {message}", flush=True)


# ---------- HTTP through urllib (never through a proxy: everything is on 127.0.0.1) ----------
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(base, method, path, body=None, headers=None, timeout=15):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        req.add_header(name, value)
    try:
        with OPENER.open(req, timeout=timeout) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def http_json(base, method, path, body=None, headers=None, expect=(200,)):
    status, _, raw = http(base, method, path, body, headers)
    try:
        data = json.loads(raw) if raw else None
    except ValueError:
        data = raw.decode(errors="replace")
    check(status in expect, f"{method} {path} answered {status}, expected {expect}: {data}")
    return data


# ---------- the server ----------
def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(binary, port, data_dir, admin_key):
    env = dict(os.environ)
    env.update({
        "PORT": str(port), "DATA_DIR": data_dir, "ADMIN_API_KEY": admin_key,
        "LOG_LEVEL": "warning", "DEFAULT_DAILY_QUOTA": "1000",
    })
    log = open(os.path.join(data_dir, "server.log"), "wb")
    proc = subprocess.Popen([binary], cwd=data_dir, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    log.close()
    return proc


def wait_health(base, proc, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        check(proc.poll() is None, f"the server exited with status {proc.returncode} before /health answered")
        try:
            status, _, _ = http(base, "GET", "/health", timeout=2)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.25)
    raise CheckFailed(f"/health did not answer 200 within {seconds} s")


def stop_server(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ---------- seed data through the API ----------
def seed(base, admin_key):
    admin = {"X-Admin-Key": admin_key}
    created = http_json(base, "POST", "/admin/apps", {"name": "Dashboard check", "appId": APP_ID}, admin, expect=(201,))
    secret = created["appSecret"]
    calls = 0
    for n, user in enumerate(USERS, start=1):
        token = http_json(base, "POST", "/auth/token", {"userId": user, "appId": APP_ID, "appSecret": secret})["token"]
        bearer = {"Authorization": "Bearer " + token}
        for i in range(n + 1):
            body = {"endpoint": "/chat/completions", "model": "mock-model",
                    "messages": [{"role": "user", "content": f"hello number {i} from {user}"}]}
            http_json(base, "POST", "/api/mock/proxy", body, bearer)
            calls += 1
        if n == 1:  # one failing call: a chat without messages is the mock provider's own 400
            http_json(base, "POST", "/api/mock/proxy", {"endpoint": "/chat/completions", "model": "mock-model"}, bearer, expect=(400,))
            calls += 1
    # The usage writer records calls in the background: wait until the analytics see them all.
    deadline = time.time() + 30
    while True:
        total = http_json(base, "GET", "/analytics/overview", headers=admin)["totalRequests"]
        if total >= calls:
            return {"calls": calls}
        check(time.time() < deadline, f"the analytics show {total} requests of the {calls} seeded after 30 s")
        time.sleep(0.5)


# ---------- the browser ----------
def make_driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        check(os.path.exists(path), f"{path} is missing: apt-get install -y chromium chromium-driver")
    opts = Options()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--window-size=1400,1000", "--disable-dev-shm-usage",
                "--disable-gpu", "--no-proxy-server", "--no-first-run", "--disable-extensions"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=opts)


class Browser:
    def __init__(self, driver, base, shots):
        self.driver, self.base, self.shots = driver, base, shots
        self.console = []

    def wait(self, condition, message, seconds=WAIT):
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait
        try:  # a row re-rendered between two look-ups is stale: look again
            return WebDriverWait(self.driver, seconds, ignored_exceptions=(StaleElementReferenceException,)).until(condition)
        except TimeoutException:
            raise CheckFailed(f"timed out after {seconds} s: {message}") from None

    def css(self, selector, root=None):
        from selenium.webdriver.common.by import By
        return (root or self.driver).find_elements(By.CSS_SELECTOR, selector)

    def visible(self, selector, message=None):
        def found(_):
            for el in self.css(selector):
                if el.is_displayed():
                    return el
            return False
        return self.wait(found, message or f"{selector} visible")

    def view_ready(self, name):
        def ready(_):
            view = self.css("#view")
            if not view or not view[0].is_displayed():
                return False
            state = view[0].get_attribute("data-state")
            if view[0].get_attribute("data-view") == name and state == "error":
                raise CheckFailed(f"the {name} view failed: {view[0].text}")
            return view[0].get_attribute("data-view") == name and state == "ready"
        self.wait(ready, f"the {name} view loaded")

    def nav(self, name):
        self.css(f'#nav a[data-view="{name}"]')[0].click()
        self.view_ready(name)

    def screenshot(self, name):
        path = os.path.join(self.shots, name)
        self.driver.save_screenshot(path)
        step(f"screenshot {path}")

    def collect_console(self):
        try:
            self.console.extend(self.driver.get_log("browser"))
        except Exception:  # noqa: BLE001 - a driver without logs: nothing to collect
            pass

    def accept_confirm(self, message):
        from selenium.webdriver.support import expected_conditions as EC
        alert = self.wait(EC.alert_is_present(), message, seconds=5)
        text = alert.text
        alert.accept()
        return text

    def fetch_status(self, path):
        return self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], {credentials: 'same-origin', cache: 'no-store'})"
            ".then(r => done(r.status), e => done('error: ' + e));", path)

    def assert_key_not_exposed(self, admin_key, when):
        found = self.driver.execute_script(
            "const all = s => { const o = {}; for (let i = 0; i < s.length; i++) { const k = s.key(i); o[k] = s.getItem(k); } return JSON.stringify(o); };"
            "return {localStorage: all(localStorage), sessionStorage: all(sessionStorage), cookie: document.cookie, url: location.href};")
        for where, text in found.items():
            check(admin_key not in (text or ""), f"the admin key appears in {where} {when}")
        check(not found["localStorage"].strip("{}") and not found["sessionStorage"].strip("{}"),
              f"the dashboard wrote to web storage {when}: {found['localStorage']} {found['sessionStorage']}")


def console_problems(entries):
    """CSP violations and JavaScript errors; expected 401s of the session probe are fine."""
    problems = []
    for e in entries:
        msg, level, source = e.get("message", ""), e.get("level", ""), e.get("source", "")
        if "Content Security Policy" in msg or "Refused to" in msg:
            problems.append(msg)
        elif source == "network":
            if level == "SEVERE" and not ("/dashboard/session" in msg and "401" in msg):
                problems.append(msg)
        elif level == "SEVERE" or "Uncaught" in msg:
            problems.append(msg)
    return problems


def browser_checks(b, admin_key, shots):
    d = b.driver

    step("the page and its Content-Security-Policy")
    status, headers, _ = http(b.base, "GET", "/dashboard")
    check(status == 200, f"GET /dashboard answered {status}")
    csp = {k.lower(): v for k, v in headers.items()}.get("content-security-policy", "")
    check("script-src 'self'" in csp and "default-src 'none'" in csp, f"/dashboard has no strict CSP: {csp!r}")
    d.get(b.base + "/dashboard")
    b.visible("#signin-form", "the sign-in form shows on a fresh page")

    step("sign in through the form")
    field = b.visible("#admin-key")
    check(field.get_attribute("type") == "password", "the admin key field is not a password field")
    check(field.get_attribute("autocomplete") == "off", "the admin key field allows autocomplete")
    field.send_keys(admin_key)
    b.css("#signin-submit")[0].click()
    b.view_ready("overview")
    check(b.css("#admin-key")[0].get_attribute("value") == "", "the password field still holds the key after sign-in")
    b.assert_key_not_exposed(admin_key, "after sign-in")

    step("overview charts")
    series = b.css("svg.chart .series")
    check(len(series) >= 1, "the overview shows no chart series although calls were seeded")
    check(len(b.css("svg.chart")) >= 3, "the overview has fewer than three charts")
    tiles = b.css(".tile-value")
    check(tiles and tiles[0].text.strip() not in ("", "0"), f"the requests tile shows {tiles[0].text if tiles else None!r}")
    b.screenshot("overview.png")
    b.collect_console()

    step("apps: create one and see its secret once")
    b.nav("apps")
    form = b.css("form.create-form")[0]
    b.css('input[name="name"]', form)[0].send_keys("Selenium app")
    b.css('input[name="appId"]', form)[0].send_keys("selenium.app")
    b.css("button.create-app", form)[0].click()
    box = b.visible(".secret-box", "the once-only secret box after creating an app")
    secret = b.css(".secret-box .secret")[0].text.strip()
    check(secret.startswith("sab_app_"), f"the secret box shows {secret!r}, not an app secret")
    b.wait(lambda _: b.css('[data-app-id="selenium.app"]'), 'the row [data-app-id="selenium.app"]')
    b.assert_key_not_exposed(admin_key, "on the apps view")
    check(secret not in d.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie + location.href"),
          "the app secret was stored")
    b.screenshot("apps.png")
    b.css("button.dismiss", box)[0].click()
    b.wait(lambda _: not b.css(".secret-box"), "the secret box goes away when dismissed")
    app = http_json(b.base, "GET", "/admin/apps/selenium.app", headers={"X-Admin-Key": admin_key})
    check(app["name"] == "Selenium app", f"the server has the app as {app}")
    b.collect_console()

    step("users: deactivate one")
    user = USERS[1]
    b.nav("users")
    row = f'tr[data-user-id="{user}"]'
    b.wait(lambda _: b.css(row + " button.deactivate"), f"{row} with a .deactivate button")
    b.css(row + " button.deactivate")[0].click()
    text = b.accept_confirm("a confirm() before deactivating")
    check(user in text, f"the confirm does not name the user: {text!r}")
    b.wait(lambda _: b.css(row) and b.css(row)[0].get_attribute("data-active") == "false" and "Inactive" in b.css(row)[0].text,
           f"{row} shows the user inactive")
    server_user = http_json(b.base, "GET", "/admin/users/" + user, headers={"X-Admin-Key": admin_key})
    check(server_user["active"] is False, f"the server still has {user} active: {server_user}")
    b.screenshot("users.png")
    b.collect_console()

    step("audit log: verify the chain")
    b.nav("audit")
    check(b.css("tr[data-seq]"), "the audit log lists no entries after admin changes")
    b.css("button.verify-chain")[0].click()
    verdict = b.visible(".verdict", "the chain's verdict")
    check("valid" in verdict.get_attribute("class").split(), f"the audit chain of a fresh server is not valid: {verdict.text}")
    b.screenshot("audit.png")
    b.collect_console()

    step("sign out")
    b.css("#sign-out")[0].click()
    b.visible("#signin-form", "the sign-in form after signing out")
    check(not b.css("#view")[0].is_displayed(), "the admin view is still shown after signing out")
    status = b.fetch_status("/dashboard/session")
    check(status == 401, f"GET /dashboard/session answers {status} after signing out, not 401")
    b.assert_key_not_exposed(admin_key, "after signing out")
    b.collect_console()

    problems = console_problems(b.console)
    check(not problems, "the browser console shows CSP violations or JS errors:\n    " + "\n    ".join(problems))


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    binary, shots = os.path.abspath(argv[1]), os.path.abspath(argv[2])
    if not os.access(binary, os.X_OK):
        print(f"dashboard-check: {binary} is not an executable file", file=sys.stderr)
        return 2
    os.makedirs(shots, exist_ok=True)
    admin_key = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="dashboard-check-")
    base = f"http://127.0.0.1:{port}"
    server = driver = browser = None
    ok = False
    try:
        print(f"dashboard-check: {binary} on {base}", flush=True)
        server = start_server(binary, port, data_dir, admin_key)
        wait_health(base, server)
        step("seeding an app, 3 users and proxied calls through the mock provider")
        seeded = seed(base, admin_key)
        step(f"{seeded['calls']} calls recorded")
        driver = make_driver()
        browser = Browser(driver, base, shots)
        browser_checks(browser, admin_key, shots)
        ok = True
    except CheckFailed as err:
        print(f"dashboard-check: FAILED: {err}", file=sys.stderr)
    except Exception as err:  # noqa: BLE001 - any other failure is a failed check, reported plainly
        print(f"dashboard-check: FAILED: {type(err).__name__}: {err}", file=sys.stderr)
    finally:
        if driver is not None:
            if not ok:
                try:
                    driver.save_screenshot(os.path.join(shots, "failure.png"))
                    print(f"  screenshot {os.path.join(shots, 'failure.png')}", file=sys.stderr)
                    browser.collect_console()
                    for e in browser.console[-20:]:
                        print(f"  console {e.get('level')} {e.get('source')}: {e.get('message')}", file=sys.stderr)
                except Exception:  # noqa: BLE001
                    pass
            try:
                driver.quit()
            except Exception:  # noqa: BLE001
                pass
        if server is not None:
            stop_server(server)
        if not ok:
            try:
                with open(os.path.join(data_dir, "server.log"), errors="replace") as log:
                    tail = log.read()[-3000:]
                if tail:
                    print("  server log (tail):\n" + tail, file=sys.stderr)
            except OSError:
                pass
        shutil.rmtree(data_dir, ignore_errors=True)
    print("dashboard-check: passed" if ok else "dashboard-check: FAILED", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
