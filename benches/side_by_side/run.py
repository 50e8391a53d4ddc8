#!/usr/bin/env python3
"""Kassa and PostGraphile 4 side by side on one PostgreSQL database (issue 19).

    python3 benches/side_by_side/run.py        # after `cargo build --release`

Creates the database `kassa_sxs` (1,000,000 transactions over 10 merchants,
written by SQL after `kassa migrate`), starts the release `kassa serve` and
PostGraphile 4 (`npm ci` here: postgraphile + postgraphile-plugin-connection-filter,
`--disable-default-mutations`) on it, and runs the same four reads of one
merchant's Transactions page through wrk, interleaved (Kassa, PostGraphile,
Kassa, PostGraphile, …): first page, filtered page, next page by cursor, and
the count. Kassa is called with a merchant API key; PostGraphile without
authentication. The bare-SQL floor of the first page through pgbench runs in
the first page's rounds (after Kassa and PostGraphile, both idle then).
Prints req/s, p50 and p99 for both and the ratio, Kassa's own CPU per
node (a 500-row page against a 1-row page), and the 1-row page's rate
against the floor: the fixed cost of a request with one round trip, which
bounds what a page of any size reaches.

Environment: SXS_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test,
the server to create the database on), SXS_ROWS (1000000), SXS_SECONDS (10 per
run), SXS_ROUNDS (2), SXS_CONNECTIONS (16), SXS_REUSE=1 to keep a filled database,
SXS_SSLMODE (disable): how all three clients connect. PostGraphile's client
(node-postgres) uses no TLS unless told to, while sqlx and libpq prefer it on a
server that offers it (Debian's PostgreSQL does); on loopback TLS cost Kassa a
seventh of its CPU per page, so by default nobody uses it.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KASSA = os.path.join(ROOT, "target", "release", "kassa")

BASE = os.environ.get("SXS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")
ROWS = int(os.environ.get("SXS_ROWS", "1000000"))
SECONDS = int(os.environ.get("SXS_SECONDS", "10"))
ROUNDS = int(os.environ.get("SXS_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("SXS_CONNECTIONS", "16"))
MERCHANTS = int(os.environ.get("SXS_MERCHANTS", "10"))
SYSTEMS = ["paytm", "upi", "bkash", "easypaisa"]
SSLMODE = os.environ.get("SXS_SSLMODE", "disable")
DB_URL = BASE.rsplit("/", 1)[0] + f"/kassa_sxs?sslmode={SSLMODE}"

# The same columns on both sides.
KASSA_NODE = "id paymentSystem { code } direction amount currency transactionNumber createdAt label orderId activatedAt postbackStatus"
PG_NODE = "id paymentSystem direction amountMinor currency transactionNumber createdAt label orderId activatedAt postbackStatus"


def psql(url, sql):
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qc", sql], check=True,
                   stdout=subprocess.DEVNULL)


def kassa(*args):
    out = subprocess.run([KASSA, *args], check=True, capture_output=True, text=True,
                         env={**os.environ, "DATABASE_URL": DB_URL}).stdout
    return json.loads(out.strip().splitlines()[-1])


def fill():
    psql(BASE, "DROP DATABASE IF EXISTS kassa_sxs")
    psql(BASE, "CREATE DATABASE kassa_sxs")
    kassa("migrate")
    merchants = []
    for i in range(MERCHANTS):
        m = kassa("admin", "create-merchant", "--name", f"Side by side {i}")["id"]
        merchants.append(m)
        for s in SYSTEMS:
            kassa("admin", "create-wallet", "--merchant", str(m), "--payment-system", s,
                  "--identifier", f"sxs-{m}-{s}")
    started = time.time()
    # Each merchant gets ROWS / 10, spread over its wallets and interleaved
    # in time (ids in time order, one second apart up to now); a third activated.
    psql(DB_URL, f"""
        WITH ws AS (SELECT row_number() OVER (ORDER BY w.id) - 1 AS k, w.*, ps.currency, ps.country
                    FROM wallets w JOIN payment_systems ps ON ps.code = w.payment_system),
             n AS (SELECT count(*) AS c FROM ws)
        INSERT INTO transactions (merchant_id, payment_system, wallet_id, wallet_identifier,
            direction, amount_minor, currency, commission_minor, transaction_number, counterparty,
            created_at, ingested_at, label, order_id, activated_at, type, originality, country,
            postback_status)
        SELECT ws.merchant_id, ws.payment_system, ws.id, ws.identifier, 'INCOMING',
               10000 + (g::bigint * 7919) % 500000, ws.currency, 0, 'sxs-' || g, 'payer ' || (g % 5000),
               now() - (({ROWS} - g) || ' seconds')::interval, now(), 'user-' || (g % 20000), 'order-' || g,
               CASE WHEN g % 3 = 0 THEN now() - (({ROWS} - g) || ' seconds')::interval + interval '1 minute' END,
               'MANUAL', 'NORMAL', ws.country,
               CASE WHEN g % 3 = 0 THEN 'SENT' ELSE 'STOCKPILING_NOT_FOUND' END
        FROM generate_series(1, {ROWS}) AS g, n, ws
        WHERE ws.k = g % n.c
        ORDER BY g""")
    psql(DB_URL, "VACUUM ANALYZE transactions")
    print(f"filled {ROWS:,} transactions over {MERCHANTS} merchants in {time.time() - started:.1f} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, body, headers, timeout=60):
    deadline = time.time() + timeout
    while True:
        try:
            return post(url, body, headers)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


def post(url, body, headers):
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=30) as r:
        out = json.loads(r.read())
    if out.get("errors"):
        raise RuntimeError(f"{url}: {out['errors']}")
    return out["data"]


def cpu_seconds(pid):
    """User + system CPU time of a process so far (/proc/<pid>/stat)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, body, headers, tmp, count=False):
    script = os.path.join(tmp, "post.lua")
    lines = ['wrk.method = "POST"', f"wrk.body = [==[{json.dumps(body)}]==]",
             'wrk.headers["content-type"] = "application/json"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    open(script, "w").write("\n".join(lines) + "\n")
    out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency",
                          "-s", script, url], check=True, capture_output=True, text=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures against {url}:\n{out}")

    def ms(label):
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        v = float(m.group(1))
        return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v

    if count:
        return int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, ms("50"), ms("99")


def pgbench(tmp, merchant):
    script = os.path.join(tmp, "page.sql")
    # Kassa's first page as Kassa runs it: the columns KASSA_NODE's fields
    # read with the id and merchant (service::page_select), in the
    # entity's order, of the 21 rows it reads (20 + one to know whether a
    # next page exists), newest first, the merchant matched by a list, the
    # page size written in (pagination::Owner).
    open(script, "w").write(
        "SELECT id, merchant_id, payment_system, direction, amount_minor, currency, "
        "transaction_number, created_at, label, order_id, activated_at, postback_status "
        "FROM transactions WHERE merchant_id IN (:merchant, :merchant) "
        "ORDER BY merchant_id DESC, id DESC LIMIT 21;\n")
    out = subprocess.run(["pgbench", "-n", "-M", "prepared", f"-c{CONNECTIONS}", "-j2",
                          f"-T{SECONDS}", "-D", f"merchant={merchant}", "-f", script, DB_URL],
                         check=True, capture_output=True, text=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def main():
    for tool in ("wrk", "pgbench", "psql", "npm"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed (apt-get install wrk postgresql-client nodejs npm)")
    if not os.path.exists(KASSA):
        sys.exit("build Kassa first: cargo build --release")
    if not os.path.isdir(os.path.join(HERE, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    if os.environ.get("SXS_REUSE") != "1":
        fill()
    merchant = int(subprocess.run(["psql", DB_URL, "-Atc", "SELECT min(id) FROM merchants"],
                                  check=True, capture_output=True, text=True).stdout)
    key = kassa("admin", "create-api-key", "--scope", "MERCHANT", "--merchant", str(merchant))["key"]
    tmp = tempfile.mkdtemp(prefix="kassa-sxs-")
    kport, gport = free_port(), free_port()
    procs = []
    try:
        procs.append(subprocess.Popen(
            [KASSA, "serve"], stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "kassa.log"), "w"),
            env={**os.environ, "DATABASE_URL": DB_URL, "KASSA_BIND": f"127.0.0.1:{kport}",
                 "RUST_LOG": "warn"}))
        procs.append(subprocess.Popen(
            [os.path.join(HERE, "node_modules", ".bin", "postgraphile"), "-c", DB_URL,
             "--schema", "public", "--host", "127.0.0.1", "--port", str(gport),
             "--disable-default-mutations", "--append-plugins",
             "postgraphile-plugin-connection-filter", "--disable-query-log"],
            cwd=HERE, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "pg.log"), "w"),
            env={**os.environ, "NODE_ENV": "production"}))
        kurl, gurl = f"http://127.0.0.1:{kport}/graphql", f"http://127.0.0.1:{gport}/graphql"
        auth = {"authorization": f"Bearer {key}"}

        def kq(args, sel):
            return {"query": f"{{ transactions{args} {{ {sel} }} }}"}

        def gq(args, sel):
            return {"query": f"{{ allTransactions{args} {{ {sel} }} }}"}

        page_k = f"edges {{ cursor node {{ {KASSA_NODE} }} }} pageInfo {{ hasNextPage endCursor }}"
        page_g = f"edges {{ cursor node {{ {PG_NODE} }} }} pageInfo {{ hasNextPage endCursor }}"
        mine = f"condition: {{ merchantId: \"{merchant}\" }}"
        first_k = wait_http(kurl, kq("(first: 20)", page_k), auth)
        first_g = wait_http(gurl, gq(f"(first: 20, orderBy: ID_DESC, {mine})", page_g), {})
        after_k = first_k["transactions"]["pageInfo"]["endCursor"]
        after_g = first_g["allTransactions"]["pageInfo"]["endCursor"]
        workloads = [
            ("first page", kq("(first: 20)", page_k),
             gq(f"(first: 20, orderBy: ID_DESC, {mine})", page_g)),
            ("filtered page", kq("(first: 20, filter: { paymentSystems: [\"bkash\"], status: ACTIVATED })", page_k),
             gq(f"(first: 20, orderBy: ID_DESC, filter: {{ merchantId: {{ equalTo: \"{merchant}\" }}, "
                "paymentSystem: { in: [\"bkash\"] }, activatedAt: { isNull: false } })", page_g)),
            ("next page by cursor", kq(f"(first: 20, after: \"{after_k}\")", page_k),
             gq(f"(first: 20, orderBy: ID_DESC, {mine}, after: \"{after_g}\")", page_g)),
            ("count", kq("(first: 1)", "totalCount"), gq(f"({mine})", "totalCount")),
        ]
        # both answer every workload, with the same rows
        for name, k, g in workloads:
            a, b = post(kurl, k, auth)["transactions"], post(gurl, g, {})["allTransactions"]
            if "edges" in a:
                ids = lambda p: [e["node"]["id"] for e in p["edges"]]
                assert ids(a) == ids(b), f"{name}: Kassa {ids(a)[:3]}… PostGraphile {ids(b)[:3]}…"
            else:
                assert a["totalCount"] == b["totalCount"], name
        print(f"{CONNECTIONS} connections, {SECONDS} s per run, {ROUNDS} rounds, interleaved; best run of each")
        print(f"{'workload':<22}{'Kassa req/s':>12}{'p50':>8}{'p99':>8}  {'PostGraphile':>13}{'p50':>8}{'p99':>8}  {'ratio':>6}")
        rows = []
        floors = []
        for name, k, g in workloads:
            ks, gs = [], []
            for _ in range(ROUNDS):
                ks.append(wrk(kurl, k, auth, tmp))
                gs.append(wrk(gurl, g, {}, tmp))
                if name == "first page":
                    # the floor in the same rounds (the servers idle meanwhile):
                    # this machine's speed drifts by a third within minutes
                    floors.append(pgbench(tmp, merchant))
            kb, gb = max(ks), max(gs)
            if name == "first page":
                first_runs = ks
            rows.append((name, kb, gb))
            print(f"{name:<22}{kb[0]:>12.0f}{kb[1]:>6.1f}ms{kb[2]:>6.1f}ms  {gb[0]:>13.0f}{gb[1]:>6.1f}ms{gb[2]:>6.1f}ms  {kb[0] / gb[0]:>5.2f}×")
        # Kassa's own CPU per node: a 500-row page against a 1-row page
        # (same query otherwise), CPU of the Kassa process alone (PostgreSQL
        # and wrk are other processes) divided by the requests wrk completed.
        per, rate = {}, {}
        for n in (1, 500):
            body = kq(f"(first: {n})", page_k)
            post(kurl, body, auth)
            before = cpu_seconds(procs[0].pid)
            done = wrk(kurl, body, auth, tmp, count=True)
            per[n] = (cpu_seconds(procs[0].pid) - before) / done
            rate[n] = done / SECONDS
        node_us = (per[500] - per[1]) / 499 * 1e6
        print(f"Kassa CPU per request: 1-row page {per[1] * 1e6:.0f} µs, 500-row page "
              f"{per[500] * 1e6:.0f} µs → {node_us:.2f} µs per node (12 fields, an edge and a cursor)")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
    floor = max(floors)
    first = rows[0][1][0]
    print(f"bare SQL (pgbench, the first page's SELECT, prepared, in the first page's rounds): "
          f"{floor:.0f} tx/s (runs: {', '.join(f'{f:.0f}' for f in floors)}); "
          f"Kassa's first page at {100 * first / floor:.0f} % of it "
          f"(runs: {', '.join(f'{k[0]:.0f}' for k in first_runs)} req/s); "
          f"round by round (each run against the floor measured right after it): "
          f"{', '.join(f'{100 * k[0] / f:.0f}' for k, f in zip(first_runs, floors))} %")
    # What a request costs before its rows: the same page of one row (one
    # round trip, nearly nothing to write) bounds what any page can reach.
    print(f"fixed cost: Kassa's 1-row page {rate[1]:.0f} req/s, {100 * rate[1] / floor:.0f} % of "
          f"the floor, at {per[1] * 1e6:.0f} µs of Kassa's CPU per request")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
