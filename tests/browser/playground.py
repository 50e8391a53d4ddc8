"""The playground in a real browser (Debian's headless Chromium, driven by
Playwright): the page renders GraphiQL from this server alone, a sign-in typed
into the editor runs and shows a token, and no request goes to another host.

Usage: python3 tests/browser/playground.py <path to the kassa binary> <output dir>
"""

import json
import os
import subprocess
import sys
import tempfile
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

kassa, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
work = tempfile.mkdtemp()
env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
env.update(
    DATABASE_URL=f"sqlite://{work}/kassa.db?mode=rwc",
    KASSA_BIND="127.0.0.1:0",
    RUST_LOG="warn",
)


def admin(*args):
    done = subprocess.run([kassa, "admin", *args], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


# A merchant and an owner made by the command line, so the server starts at
# once (an empty embedded database would first load the demo).
merchant = admin("create-merchant", "--name", "Browser Shop")
admin("create-user", "--merchant", merchant["id"], "--login", "owner@browser",
      "--password", "BrowserOwner2026", "--role", "OWNER")
server = subprocess.Popen([kassa, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    base = json.loads(server.stdout.readline())["listening"]
    origin = urlparse(base).netloc
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("request", lambda r: requests.append(r.url))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/graphql")
        page.wait_for_selector(".graphiql-container", timeout=20000)
        editor = page.locator(".graphiql-query-editor .CodeMirror").first
        editor.click()
        page.keyboard.press("Control+A")
        page.keyboard.press("Delete")
        page.keyboard.insert_text(
            'mutation { login(login: "owner@browser", password: "BrowserOwner2026") { token errors { code } } }'
        )
        page.locator(".graphiql-execute-button").click()
        # (a locator wait: the page's CSP rightly refuses the eval that
        # wait_for_function would need)
        page.locator(".graphiql-response", has_text="kss_").wait_for(timeout=20000)
        page.screenshot(path=os.path.join(out, "playground.png"))
        response = page.locator(".graphiql-response").inner_text()
        browser.close()
    assert '"token"' in response and "kss_" in response, response
    assert not errors, errors
    foreign = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != origin]
    assert not foreign, f"requests to other hosts: {foreign}"
    print(f"playground: rendered, signed in, {len(requests)} requests all to {origin}; screenshot in {out}/playground.png")
finally:
    server.terminate()
    server.wait()
