#!/usr/bin/env python3
"""CSV export benchmark (issue 16): one merchant with 1,000,000 transactions
(written by SQL, as benches/side_by_side does), the release `kassa serve` on
it, one `exportTransactions` and its download; prints rows per second and
the server's resident memory before, at its peak during, and after.

    cargo build --release && python3 benches/export.py

Environment: SXS_DATABASE_URL (the server to create `kassa_sxs` on),
SXS_ROWS (1000000), SXS_REUSE=1 to keep an already filled database.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "side_by_side"))
os.environ.setdefault("SXS_MERCHANTS", "1")
import run as sxs  # noqa: E402


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main():
    if os.environ.get("SXS_REUSE") != "1":
        sxs.fill()
    merchant = int(subprocess.run(["psql", sxs.DB_URL, "-Atc", "SELECT min(id) FROM merchants"],
                                  check=True, capture_output=True, text=True).stdout)
    key = sxs.kassa("admin", "create-api-key", "--scope", "MERCHANT", "--merchant", str(merchant))["key"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sxs.KASSA, "serve"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "DATABASE_URL": sxs.DB_URL, "KASSA_BIND": f"127.0.0.1:{port}", "RUST_LOG": "warn"})
    try:
        api = f"http://127.0.0.1:{port}"
        made = sxs.wait_http(f"{api}/graphql", {"query": "mutation { exportTransactions { url } }"},
                             {"authorization": f"Bearer {key}"})
        url = made["exportTransactions"]["url"]
        time.sleep(1)
        before = rss_mib(server.pid)
        peak = [before]
        done = threading.Event()

        def watch():
            while not done.is_set():
                peak[0] = max(peak[0], rss_mib(server.pid))
                time.sleep(0.05)

        threading.Thread(target=watch, daemon=True).start()
        started = time.time()
        lines = 0
        size = 0
        with urllib.request.urlopen(url, timeout=600) as r:
            while True:
                chunk = r.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                lines += chunk.count(b"\n")
        took = time.time() - started
        done.set()
        time.sleep(1)
        after = rss_mib(server.pid)
        rows = lines - 1
        print(f"export of {rows:,} transactions ({size / 1e6:.0f} MB of CSV) in {took:.1f} s = "
              f"{rows / took:,.0f} rows/s; server RSS {before:.0f} MiB before, peak {peak[0]:.0f} MiB, "
              f"{after:.0f} MiB after")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
