"""The memory soak (issue 20): a fresh `kassa serve` on an empty embedded
database (so with the demo data), a bounded mixed load from Node
(soak.mjs), then idle; fails when the server's memory does not come back.

Usage: python3 tests/clients/soak.py <path to the kassa binary> [seconds]
(after `npm ci` in tests/clients; .ci/run runs the short form, 120 s)
"""

import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
binary = sys.argv[1]
seconds = sys.argv[2] if len(sys.argv) > 2 else "120"
db = tempfile.mkdtemp()
env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
env.update(DATABASE_URL=f"sqlite://{db}/kassa.db?mode=rwc", KASSA_BIND="127.0.0.1:0", RUST_LOG="warn",
           KASSA_LOGIN_RATE="100000", KASSA_ACTIVATION_RATE="100000")
server = subprocess.Popen([binary, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
try:
    started = json.loads(server.stdout.readline())
    demo = started["demo"]
    ingest = next(k for s, k in demo["api_keys"] if s == "INGEST")
    done = subprocess.run(
        ["node", os.path.join(here, "soak.mjs")],
        env={**os.environ, "KASSA_URL": started["listening"], "KASSA_PID": str(server.pid),
             "KASSA_INGEST_KEY": ingest, "KASSA_PLUGIN_KEY": demo["plugin_key"], "SOAK_SECONDS": seconds},
        capture_output=True, text=True, timeout=int(seconds) + 300,
    )
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    if done.returncode != 0:
        sys.exit("the soak failed")
finally:
    server.terminate()
    server.wait()
