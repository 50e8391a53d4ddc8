"""Runs the JavaScript client (dashboard.mjs: urql + graphql-ws on Node)
against a real server with a merchant made by the command line, on SQLite, or on PostgreSQL +
Redis when KASSA_TEST_DATABASE_URL / KASSA_TEST_REDIS_URL are set.

Usage: python3 tests/clients/run.py <path to the kassa binary>
(after `npm ci` in tests/clients)
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kassa_proc import Kassa  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
with Kassa(sys.argv[1], "node") as kassa:
    merchant = kassa.run("admin", "create-merchant", "--name", "Node Shop", "--timezone", "Asia/Kolkata")
    owner = {"login": "owner@node", "password": "NodeOwner2026x"}
    kassa.run("admin", "create-user", "--merchant", merchant["id"], "--login", owner["login"],
              "--password", owner["password"], "--role", "OWNER")
    ingest_key = kassa.run("admin", "create-api-key", "--scope", "INGEST", "--merchant", merchant["id"])["key"]
    kassa.run("admin", "create-wallet", "--merchant", merchant["id"], "--payment-system", "paytm",
              "--identifier", "9876500001")
    url = kassa.serve()
    done = subprocess.run(
        ["node", os.path.join(here, "dashboard.mjs")],
        env={**os.environ, "KASSA_URL": url, "KASSA_LOGIN": owner["login"], "KASSA_PASSWORD": owner["password"],
             "KASSA_INGEST_KEY": ingest_key, "KASSA_PLUGIN_KEY": merchant["plugin_key"], "KASSA_WALLET": "9876500001"},
        capture_output=True, text=True, timeout=120,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    backend = "PostgreSQL + Redis" if "postgres" in kassa.env["DATABASE_URL"] else "SQLite"
    if done.returncode != 0:
        sys.exit(f"the JavaScript client failed on {backend}")
    # Standard tools: graphql-js's own introspection query builds the
    # checked-in schema; with introspection off it is refused.
    closed = kassa.serve(KASSA_INTROSPECTION="0")
    schema = os.path.join(os.path.dirname(os.path.dirname(here)), "schema.graphql")
    tools = subprocess.run(
        ["node", os.path.join(here, "introspection.mjs")],
        env={**os.environ, "KASSA_URL": url, "KASSA_URL_CLOSED": closed, "KASSA_SCHEMA": schema},
        capture_output=True, text=True, timeout=120,
    )
    sys.stdout.write(tools.stdout)
    sys.stderr.write(tools.stderr)
    if tools.returncode != 0:
        sys.exit(f"graphql-js introspection failed on {backend}")
    print(f"JavaScript client (urql + graphql-ws, Node {subprocess.check_output(['node', '--version'], text=True).strip()}): passed on {backend}")
