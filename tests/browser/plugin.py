"""The payer's plugin page in a real browser (Debian's headless Chromium,
driven by Playwright), framed by the installation snippet on a shop page
served from another local origin, against a real `kassa serve`:

- a system is picked, `payTo` shows one of the merchant's active wallets;
- a number the payment system has not reported yet waits (delayed
  activation on) and turns "activated" live when the test ingests it, and
  the success redirect follows;
- a deposit below the minimum shows the remaining amount;
- the DARK and CUSTOM themes apply (computed style), English and Russian;
- an unknown plugin key shows a sentence, not a blank page;
- the page loads nothing from any host but Kassa, under a strict policy.

Usage: python3 tests/browser/plugin.py <path to the kassa binary> <output dir>
"""

import http.server
import json
import os
import sys
import threading
import urllib.request
import uuid

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kassa_proc import Kassa  # noqa: E402

kassa_binary, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
SHOTS = os.path.join(out, "plugin")
os.makedirs(SHOTS, exist_ok=True)

SHOP = {"snippet": ""}


class Shop(http.server.BaseHTTPRequestHandler):
    """The merchant's site: a page with the pasted snippet, and its success
    and fail pages."""

    def do_GET(self):
        if self.path.startswith("/shop"):
            body = f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>shop</title></head><body><h1>My shop</h1>{SHOP['snippet']}</body></html>"
        else:
            body = f"<!DOCTYPE html><html><body><p id='landed'>{self.path}</p></body></html>"
        data = body.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


shop = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Shop)
threading.Thread(target=shop.serve_forever, daemon=True).start()
shop_origin = f"http://localhost:{shop.server_address[1]}"


def gql(api, query, variables=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"{api}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(), headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.loads(r.read())
    assert not body.get("errors"), body
    return body["data"]


def upload_css(api, token, css):
    """updatePluginAppearance(theme: CUSTOM, customCss: <file>) as a GraphQL multipart request."""
    boundary = uuid.uuid4().hex
    operations = json.dumps({
        "query": "mutation($i: UpdatePluginAppearanceInput!) { updatePluginAppearance(input: $i) { errors { code message } } }",
        "variables": {"i": {"theme": "CUSTOM", "customCss": None}},
    })
    parts = [
        ("operations", None, operations.encode()),
        ("map", None, json.dumps({"0": ["variables.i.customCss"]}).encode()),
        ("0", "theme.css", css.encode()),
    ]
    body = b""
    for name, filename, data in parts:
        body += f"--{boundary}\r\n".encode()
        if filename:
            body += f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: text/css\r\n\r\n'.encode()
        else:
            body += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    req = urllib.request.Request(f"{api}/graphql", data=body, headers={
        "content-type": f"multipart/form-data; boundary={boundary}",
        "authorization": f"Bearer {token}", "x-kassa-csrf": "1"})
    with urllib.request.urlopen(req, timeout=30) as r:
        answer = json.loads(r.read())
    assert not answer.get("errors") and not answer["data"]["updatePluginAppearance"]["errors"], answer


with Kassa(kassa_binary, "plugin") as kassa:
    merchant = kassa.run("admin", "create-merchant", "--name", "Chai Shop")
    mid = merchant["id"]
    kassa.run("admin", "create-user", "--merchant", mid, "--login", "owner@chai", "--password", "ChaiOwner-2026", "--role", "OWNER")
    wallets = ["9000000001", "9000000002"]
    for w in wallets:
        kassa.run("admin", "create-wallet", "--merchant", mid, "--payment-system", "paytm", "--identifier", w)
    kassa.run("admin", "create-wallet", "--merchant", mid, "--payment-system", "bkash", "--identifier", "01700000001")
    ingest_key = kassa.run("admin", "create-api-key", "--scope", "INGEST")["key"]
    platform_key = kassa.run("admin", "create-api-key", "--scope", "PLATFORM")["key"]
    # The snippet's address is KASSA_PUBLIC_URL, by default the bind address:
    # a fixed port, so that the snippet names the server that runs.
    import socket
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    api = kassa.serve(KASSA_BIND=f"127.0.0.1:{port}")
    owner = gql(api, 'mutation { login(login: "owner@chai", password: "ChaiOwner-2026") { token } }')["login"]["token"]
    gql(api, "mutation($m: ID!) { setDelayedAutoActivation(merchantId: $m, enabled: true) { errors { code } } }", {"m": str(mid)}, platform_key)
    settings = gql(api, """mutation($i: UpdateSystemSettingsInput!) { updateSystemSettings(input: $i) { errors { code field message } } }""",
                   {"i": {"afterPaymentAction": "REDIRECT", "successUrl": f"{shop_origin}/paid", "failUrl": f"{shop_origin}/not-paid",
                          "minimumDeposits": [{"currency": "INR", "amount": "500"}]}}, owner)
    assert not settings["updateSystemSettings"]["errors"], settings
    gql(api, "mutation { updatePluginAppearance(input: { theme: DARK }) { errors { code } } }", None, owner)
    snippet = gql(api, "{ pluginInstallation { snippet } }", None, owner)["pluginInstallation"]["snippet"]
    # The merchant adds its own success page to the snippet's query (on its own origin).
    SHOP["snippet"] = snippet.replace("{USER_ID}", "payer-7").replace("{ORDER_ID}", "order-1").replace(
        "lang=en", f"lang=en&amp;success_url={shop_origin}/paid-here")

    def ingest(number, amount, wallet):
        r = gql(api, "mutation($i: [IngestTransactionInput!]!) { ingestTransactions(input: $i) { results { outcome activated errors { code } } } }",
                {"i": [{"paymentSystem": "paytm", "walletIdentifier": wallet, "direction": "INCOMING", "amount": amount, "currency": "INR",
                        "transactionNumber": number, "occurredAt": "2026-11-30T08:00:00Z"}]}, ingest_key)
        return r["ingestTransactions"]["results"][0]

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        page = browser.new_page(viewport={"width": 420, "height": 760})
        requested = []
        page.on("request", lambda r: requested.append(r.url))
        failures = []
        page.on("console", lambda m: failures.append(m.text) if m.type == "error" else None)
        page.goto(f"{shop_origin}/shop")
        frame = page.frame_locator("iframe")
        plugin = lambda: next(f for f in page.frames if "/plugin" in f.url)  # noqa: E731

        # The systems, in the DARK theme.
        try:
            frame.locator("button.system").first.wait_for(timeout=20000)
        except Exception:
            page.screenshot(path=os.path.join(SHOTS, "failed.png"))
            print("console:", failures, "frames:", [f.url for f in page.frames], "snippet:", SHOP["snippet"])
            raise
        names = frame.locator("button.system").all_inner_texts()
        assert any("Paytm" in n for n in names) and any("bKash" in n for n in names), names
        bg = plugin().evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(21, 24, 30)", f"DARK theme: body background {bg}"
        page.screenshot(path=os.path.join(SHOTS, "1-systems-dark.png"))

        # A deposit below the minimum (500 INR): the payment system reported
        # it already; the page shows what is still needed.
        frame.locator("button.system", has_text="Paytm").click()
        pay_to = frame.locator("#pay-to").inner_text()
        assert pay_to in wallets, f"payTo {pay_to!r} is not one of the merchant's paytm wallets"
        assert "500" in frame.locator("#minimum").inner_text()
        assert ingest("CHAI-1", "120", pay_to)["outcome"] == "CREATED"
        frame.locator("#number").fill("CHAI-1")
        frame.locator("#submit").click()
        frame.locator("#outcome", has_text="below the minimum").wait_for(timeout=10000)
        detail = frame.locator("#detail").inner_text()
        assert "120.00 of 500.00 INR" in detail and "380.00 INR more" in detail, detail
        page.screenshot(path=os.path.join(SHOTS, "2-stockpiling.png"))

        # A number not reported yet: WAITING, then activated live when the
        # payment system reports it, then the success redirect.
        frame.locator("#again").click()
        frame.locator("#number").fill("CHAI-2")
        frame.locator("#submit").click()
        frame.locator("#outcome", has_text="Waiting for the payment system").wait_for(timeout=10000)
        page.screenshot(path=os.path.join(SHOTS, "3-waiting.png"))
        result = ingest("CHAI-2", "400", pay_to)
        assert result["activated"] is True, result
        frame.locator("#outcome", has_text="Payment received").wait_for(timeout=10000)
        assert "400.00 INR" in frame.locator("#detail").inner_text()
        page.screenshot(path=os.path.join(SHOTS, "4-activated.png"))
        page.wait_for_function("() => [...document.querySelectorAll('iframe')].some(f => { try { return f.contentWindow.location.pathname === '/paid-here' } catch (e) { return false } })", timeout=10000)

        # Not known and already activated: sentences, no redirect to success.
        page.goto(f"{shop_origin}/shop")
        frame = page.frame_locator("iframe")
        frame.locator("button.system", has_text="Paytm").click()
        frame.locator("#number").fill("CHAI-1")
        frame.locator("#submit").click()
        frame.locator("#outcome", has_text="Already credited").wait_for(timeout=10000)
        page.wait_for_function("() => [...document.querySelectorAll('iframe')].some(f => { try { return f.contentWindow.location.pathname === '/not-paid' } catch (e) { return false } })", timeout=10000)

        # Every request went to Kassa or to the shop page itself, nowhere else.
        hosts = {u.split("/")[2] for u in requested if u.startswith("http")}
        assert hosts <= {api.split("/")[2], shop_origin.split("/")[2]}, hosts
        csp = page.request.get(f"{api}/plugin").headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp, csp

        # The CUSTOM theme loads the merchant's stylesheet from Kassa; Russian.
        upload_css(api, owner, "body { background: rgb(1, 2, 3) !important; } h1 { color: rgb(250, 200, 0); }")
        ru = browser.new_page(viewport={"width": 420, "height": 760})
        ru.goto(f"{api}/plugin?plugin_key={merchant['plugin_key']}&label=payer-8&lang=ru")
        ru.locator("button.system").first.wait_for(timeout=20000)
        ru.wait_for_function("() => getComputedStyle(document.body).backgroundColor === 'rgb(1, 2, 3)'", timeout=10000)
        assert ru.locator("#systems h2").inner_text() == "Выберите, как вы оплатили"
        ru.screenshot(path=os.path.join(SHOTS, "5-custom-ru.png"))

        # An unknown plugin key, and a link without one: a sentence for the payer.
        bad = browser.new_page()
        bad.goto(f"{api}/plugin?plugin_key=kpk_nobody&label=u1")
        bad.locator("#notice", has_text="plugin key is unknown").wait_for(timeout=10000)
        bad.goto(f"{api}/plugin")
        bad.locator("#notice", has_text="missing part of its address").wait_for(timeout=10000)
        bad.screenshot(path=os.path.join(SHOTS, "6-unknown-key.png"))

        # The light theme, for the README.
        gql(api, "mutation { updatePluginAppearance(input: { theme: LIGHT }) { errors { code } } }", None, owner)
        light = browser.new_page(viewport={"width": 420, "height": 620})
        light.goto(f"{api}/plugin?plugin_key={merchant['plugin_key']}&label=payer-9&wallet_type=paytm")
        light.locator("#pay-to").wait_for(timeout=20000)
        # Opened on its own (a link someone sent), the query's success_url is
        # not followed: only the framing page's own origin is.
        light.goto(f"{api}/plugin?plugin_key={merchant['plugin_key']}&label=payer-9&wallet_type=paytm&success_url=https://evil.example/")
        light.locator("#pay-to").wait_for(timeout=20000)
        assert light.evaluate("fromQuery('success_url')") is None
        assert light.locator("#pay-to").inner_text() in wallets
        light.screenshot(path=os.path.join(SHOTS, "7-pay-light.png"))
        browser.close()
    assert not [f for f in failures if "Content Security Policy" in f], failures
shop.shutdown()
print(f"plugin page: framed on {shop_origin}, stockpiling, live activation and redirect, DARK/CUSTOM themes, Russian, unknown key — screenshots in {SHOTS}")
