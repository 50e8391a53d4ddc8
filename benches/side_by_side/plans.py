#!/usr/bin/env python3
"""How PostgreSQL plans the Withdrawals page (issue 19): the unfiltered page's
statement as Kassa runs it (every column, the merchant matched by a list,
newest first, the page size written in), first page and next page by cursor,
through pgbench with the prepared statement planned three ways
(`plan_cache_mode` auto, force_generic_plan, force_custom_plan).

    python3 benches/side_by_side/plans.py     # after run.py has filled kassa_sxs

Adds 200,000 withdrawals over the 10 merchants of `kassa_sxs` (once; written
by SQL) and prints tx/s per statement and mode. Kassa reads an unfiltered
page on connections that force the generic plan (`db::Plans::Generic`,
`withdrawals::service::owner`); PostgreSQL's own choice (auto) is what a
filtered page gets. Environment: as run.py (SXS_DATABASE_URL, SXS_SECONDS,
SXS_CONNECTIONS, SXS_SSLMODE).
"""

import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (the same database and settings)


def q(sql):
    return subprocess.run(["psql", run.DB_URL, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                          check=True, capture_output=True, text=True).stdout.strip()


def main():
    if int(q("SELECT count(*) FROM withdrawals")) < 200_000:
        q("INSERT INTO withdrawals (merchant_id, payment_system, currency, amount_minor, recipient,"
          " fields, status, request_kind, created_at, postback_status)"
          " SELECT m.id, (ARRAY['paytm','upi','bkash','easypaisa'])[1 + g % 4], 'INR',"
          " (g * 7919) % 100000 + 100, 'r-' || g, '[]', (ARRAY['NEW','APPROVED','REJECTED'])[1 + g % 3],"
          " 'API', timestamptz '2026-01-01' + g * interval '37 seconds', 'NOT_SENT'"
          " FROM (SELECT id FROM merchants ORDER BY id LIMIT 10) m, generate_series(1, 20000) g")
        q("ANALYZE withdrawals")
    merchant = int(q("SELECT min(merchant_id) FROM withdrawals"))
    # the cursor of the third page
    cursor = int(q(f"SELECT id FROM withdrawals WHERE merchant_id = {merchant} ORDER BY id DESC OFFSET 40 LIMIT 1"))
    columns = q("SELECT string_agg(format('%I.%I', 'withdrawals', attname), ', ' ORDER BY attnum)"
                " FROM pg_attribute WHERE attrelid = 'withdrawals'::regclass AND attnum > 0 AND NOT attisdropped")
    tail = "ORDER BY merchant_id DESC, id DESC LIMIT 21;\n"
    statements = {
        "first page": f"SELECT {columns} FROM withdrawals WHERE merchant_id IN (:m, :m) {tail}",
        "next page by cursor": f"SELECT {columns} FROM withdrawals WHERE merchant_id IN (:m, :m) AND id < :c {tail}",
    }
    tmp = tempfile.mkdtemp(prefix="kassa-plans-")
    print(f"{run.CONNECTIONS} connections, {run.SECONDS} s per run; tx/s")
    print(f"{'statement':<22}{'auto':>10}{'generic':>10}{'custom':>10}")
    for name, sql in statements.items():
        script = os.path.join(tmp, "page.sql")
        open(script, "w").write(sql)
        tps = []
        for mode in ("auto", "force_generic_plan", "force_custom_plan"):
            out = subprocess.run(
                ["pgbench", "-n", "-M", "prepared", f"-c{run.CONNECTIONS}", "-j2", f"-T{run.SECONDS}",
                 "-D", f"m={merchant}", "-D", f"c={cursor}", "-f", script, run.DB_URL],
                check=True, capture_output=True, text=True,
                env={**os.environ, "PGOPTIONS": f"-c plan_cache_mode={mode}"}).stdout
            tps.append(float(re.search(r"tps = ([\d.]+)", out).group(1)))
        print(f"{name:<22}" + "".join(f"{t:>10.0f}" for t in tps))


if __name__ == "__main__":
    main()
