"""A web app on another origin, in a real browser (Debian's headless
Chromium, driven by Playwright): a page served from its own local origin
calls the API over fetch (with the Authorization header, so with a CORS
preflight) and opens the WebSocket. Against a server that lists the page's
origin in KASSA_CORS_ORIGINS both work; against one that does not, the
browser blocks both.

Usage: python3 tests/browser/cross_origin.py <path to the kassa binary> <output dir>
"""

import http.server
import json
import os
import sys
import threading

from playwright.sync_api import sync_playwright

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kassa_proc import Kassa  # noqa: E402

kassa_binary, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

APP = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>partner app</title></head>
<body><pre id="out">running</pre>
<script>
const api = new URLSearchParams(location.search).get("api");
const report = (result) => { document.getElementById("out").textContent = JSON.stringify(result); };
(async () => {
  const result = { origin: location.origin };
  let token = null;
  try {
    const login = await fetch(api + "/graphql", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: 'mutation { login(login: "owner@partner", password: "PartnerOwner2026") { token } }' }),
    }).then((r) => r.json());
    token = login.data.login.token;
    const me = await fetch(api + "/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer " + token, "x-kassa-csrf": "1" },
      body: JSON.stringify({ query: "{ me { login } }" }),
    }).then((r) => r.json());
    result.fetch = me.data.me.login;
  } catch (e) {
    result.fetch = "blocked: " + e.name;
  }
  result.socket = await new Promise((resolve) => {
    const ws = new WebSocket(api.replace(/^http/, "ws") + "/graphql/ws", "graphql-transport-ws");
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init", payload: token ? { authorization: "Bearer " + token } : {} }));
    ws.onmessage = (m) => { resolve(JSON.parse(m.data).type); ws.close(); };
    ws.onerror = () => resolve("refused");
    setTimeout(() => resolve("timeout"), 5000);
  });
  report(result);
})();
</script></body></html>"""


class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = APP.encode()
        self.send_response(200)
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# The partner's app on its own origin: localhost, another port.
site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
threading.Thread(target=site.serve_forever, daemon=True).start()
app_origin = f"http://localhost:{site.server_address[1]}"

with Kassa(kassa_binary, "cors") as kassa:
    merchant = kassa.run("admin", "create-merchant", "--name", "Partner Shop")
    kassa.run("admin", "create-user", "--merchant", merchant["id"], "--login", "owner@partner",
              "--password", "PartnerOwner2026", "--role", "OWNER")
    listed = kassa.serve(KASSA_CORS_ORIGINS=f"https://other.example, {app_origin}")
    unlisted = kassa.serve()
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        for name, api in (("listed", listed), ("unlisted", unlisted)):
            page = browser.new_page()
            page.goto(f"{app_origin}/app.html?api={api}")
            page.locator("#out", has_text="{").wait_for(timeout=20000)
            results[name] = json.loads(page.locator("#out").inner_text())
            page.screenshot(path=os.path.join(out, f"cross-origin-{name}.png"))
            page.close()
        browser.close()
site.shutdown()

assert results["listed"] == {"origin": app_origin, "fetch": "owner@partner", "socket": "connection_ack"}, results
assert results["unlisted"] == {"origin": app_origin, "fetch": "blocked: TypeError", "socket": "refused"}, results
print(f"cross-origin: {app_origin} calls a server that lists it (fetch and WebSocket) and is blocked by one that does not: {results}")
