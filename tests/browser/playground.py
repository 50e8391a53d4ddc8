"""The playground in a real browser (Debian's headless Chromium, driven by
Playwright): the page renders GraphiQL from this server alone with every
example of playground/ as a tab; the sign-in tab runs as it stands and shows
a token; the live-events tab, signed with that token in the header editor,
receives an event the test causes; no request goes to another host.

Usage: python3 tests/browser/playground.py <path to the kassa binary> <output dir>
"""

import json
import os
import re
import sys
import urllib.request
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kassa_proc import Kassa  # noqa: E402

kassa_binary, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
examples = sorted(f for f in os.listdir("playground") if f.endswith(".graphql"))
LAUNCH = dict(
    executable_path="/usr/bin/chromium",
    headless=True,
    args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync"],
)


def post(base, query, variables, bearer):
    request = urllib.request.Request(
        f"{base}/graphql", method="POST",
        data=json.dumps({"query": query, "variables": variables}).encode(),
        headers={"content-type": "application/json", "authorization": f"Bearer {bearer}"},
    )
    with urllib.request.urlopen(request) as response:
        body = json.load(response)
    assert "errors" not in body, body
    return body["data"]


def editor_text(page, selector, text):
    """Replaces the text of the CodeMirror editor under `selector`."""
    page.locator(selector).first.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(text)


with Kassa(kassa_binary, "browser") as kassa:
    # The demo's sign-in, made by the command line (the sign-in tab runs as
    # it stands); the server starts at once on a database that is not empty.
    merchant = kassa.run("admin", "create-merchant", "--name", "Browser Shop")
    kassa.run("admin", "create-user", "--merchant", merchant["id"], "--login", "owner@demo",
              "--password", "DemoOwner2026", "--role", "OWNER")
    ingest_key = kassa.run("admin", "create-api-key", "--scope", "INGEST", "--merchant", merchant["id"])["key"]
    kassa.run("admin", "create-wallet", "--merchant", merchant["id"], "--payment-system", "paytm",
              "--identifier", "9876500001")
    base = kassa.serve()
    origin = urlparse(base).netloc
    requests = []
    with sync_playwright() as p:
        browser = p.chromium.launch(**LAUNCH)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.on("websocket", lambda ws: requests.append(ws.url))
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/graphql")
        page.wait_for_selector(".graphiql-container", timeout=20000)
        tabs = page.locator(".graphiql-tab")
        tabs.first.wait_for(timeout=20000)
        assert tabs.count() == len(examples), f"{tabs.count()} tabs for {len(examples)} examples"
        page.screenshot(path=os.path.join(out, "playground-tabs.png"))

        # 1. The first tab is the sign-in, ready to run.
        tabs.first.click()
        page.locator(".graphiql-execute-button").click()
        # (a locator wait: the page's CSP rightly refuses the eval that
        # wait_for_function would need)
        page.locator(".graphiql-response", has_text="kss_").wait_for(timeout=20000)
        signed_in = page.locator(".graphiql-response").inner_text()
        token = re.search(r"kss_[A-Za-z0-9_\-]+", signed_in).group(0)

        # 2. The live-events tab, signed in through the header editor.
        tabs.nth(examples.index("15-live-events.graphql")).click()
        page.get_by_role("button", name="Headers").click()
        editor_text(page, ".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror",
                    json.dumps({"Authorization": f"Bearer {token}"}))
        page.locator(".graphiql-execute-button").click()
        page.wait_for_timeout(1500)
        number = "BROWSER-LIVE-1"
        result = post(base, "mutation($i: [IngestTransactionInput!]!) { ingestTransactions(input: $i) { results { outcome } } }",
                      {"i": [{"paymentSystem": "paytm", "walletIdentifier": "9876500001", "direction": "INCOMING",
                              "amount": "250.00", "currency": "INR", "transactionNumber": number,
                              "occurredAt": "2026-11-20T08:00:00Z"}]}, ingest_key)
        assert result["ingestTransactions"]["results"][0]["outcome"] == "CREATED", result
        page.locator(".graphiql-response", has_text="250.00").wait_for(timeout=20000)
        live = page.locator(".graphiql-response").inner_text()
        page.screenshot(path=os.path.join(out, "playground.png"))
        browser.close()
    assert '"kind": "CREATED"' in live and '"errors"' not in live, live
    assert not errors, errors
    foreign = [u for u in requests if urlparse(u).scheme in ("http", "https", "ws", "wss") and urlparse(u).netloc != origin]
    assert not foreign, f"requests to other hosts: {foreign}"
    sockets = [u for u in requests if u.startswith("ws")]
    assert sockets, "the subscription went over the page's own WebSocket"
    print(f"playground: {len(examples)} tabs, signed in, live event received over {sockets[0]}; "
          f"{len(requests)} requests all to {origin}; screenshots in {out}/")
