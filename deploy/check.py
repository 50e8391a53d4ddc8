"""The deployment recipe, run: two `kassa serve` instances on one PostgreSQL
database and Redis, behind nginx configured by deploy/nginx.conf (only its
@…@ placeholders rewritten to loopback ports), and a client
(tests/clients/deploy.mjs) that signs in, holds a subscription, meets the
rate limit and rides a rolling restart of both instances.

    python3 deploy/check.py target/debug/kassa

Needs KASSA_TEST_DATABASE_URL and KASSA_TEST_REDIS_URL (as in .ci/run),
nginx (Debian's `nginx`) and `npm ci` done in tests/clients."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from kassa_proc import Kassa  # noqa: E402

LOGIN_RATE = 3
# nginx connects to the instances from this address, the only one they
# trust for X-Forwarded-For; clients connect to nginx from 127.0.0.1 and
# OTHER_CLIENT (all of 127/8 is loopback on Linux).
PROXY_FROM = "127.0.0.2"
OTHER_CLIENT = "127.0.0.3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready")


def main(binary):
    binary = os.path.abspath(binary)
    if not os.environ.get("KASSA_TEST_DATABASE_URL") or not os.environ.get("KASSA_TEST_REDIS_URL"):
        sys.exit("deploy/check.py needs KASSA_TEST_DATABASE_URL and KASSA_TEST_REDIS_URL")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    tmp = tempfile.mkdtemp(prefix="kassa-deploy-")
    ports = {"A": free_port(), "B": free_port(), "proxy": free_port()}
    with Kassa(binary, "deploy") as kassa:
        merchant = kassa.run("admin", "create-merchant", "--name", "Deploy Shop")["id"]
        login, password = "owner@deploy.example", "deploy-check-password-1"
        kassa.run("admin", "create-user", "--merchant", str(merchant), "--login", login,
                  "--password", password, "--role", "OWNER")
        ingest = kassa.run("admin", "create-api-key", "--scope", "INGEST", "--merchant", str(merchant))["key"]
        wallet = "deploy-wallet-1"
        kassa.run("admin", "create-wallet", "--merchant", str(merchant), "--payment-system", "paytm",
                  "--identifier", wallet)
        env = {
            **kassa.env,
            "KASSA_TRUSTED_PROXIES": f"{PROXY_FROM}/32",
            "KASSA_LOGIN_RATE": str(LOGIN_RATE),
            "KASSA_LOG_FORMAT": "json",
            "RUST_LOG": "info,sqlx=warn",
        }
        procs = {}
        logs = {}

        def start(name):
            logs[name] = open(os.path.join(tmp, f"kassa-{name}.log"), "a")
            procs[name] = subprocess.Popen(
                [binary, "serve"], env={**env, "KASSA_BIND": f"127.0.0.1:{ports[name]}"},
                stdout=subprocess.DEVNULL, stderr=logs[name])
            wait_ready(f"http://127.0.0.1:{ports[name]}")

        def stop(name):
            procs[name].send_signal(signal.SIGTERM)
            procs[name].wait(timeout=30)

        with open(os.path.join(HERE, "nginx.conf")) as f:
            site = (f.read().replace("@KASSA_A@", f"127.0.0.1:{ports['A']}")
                    .replace("@KASSA_B@", f"127.0.0.1:{ports['B']}")
                    .replace("@LISTEN@", f"127.0.0.1:{ports['proxy']}"))
        site = site.replace("proxy_http_version 1.1;", f"proxy_http_version 1.1;\n    proxy_bind {PROXY_FROM};")
        def write_site(drained=None):
            text = site
            if drained:
                # out of rotation: nginx sends it nothing new after a reload
                addr = f"127.0.0.1:{ports[drained]}"
                text = text.replace(f"server {addr} ", f"server {addr} down ")
            with open(os.path.join(tmp, "site.conf"), "w") as f:
                f.write(text)

        write_site()
        with open(os.path.join(tmp, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {tmp}/nginx-access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    include {tmp}/site.conf;
}}
""")
        proxy = None
        try:
            start("A")
            start("B")
            proxy = subprocess.Popen([nginx, "-p", tmp, "-c", f"{tmp}/nginx.conf"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            wait_ready(f"http://127.0.0.1:{ports['proxy']}")
            client = subprocess.Popen(
                ["node", os.path.join(ROOT, "tests", "clients", "deploy.mjs")],
                cwd=os.path.join(ROOT, "tests", "clients"),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                env={**os.environ,
                     "KASSA_PROXY": f"http://127.0.0.1:{ports['proxy']}",
                     "KASSA_A": f"http://127.0.0.1:{ports['A']}",
                     "KASSA_B": f"http://127.0.0.1:{ports['B']}",
                     "KASSA_LOGIN": login, "KASSA_PASSWORD": password,
                     "KASSA_INGEST_KEY": ingest, "KASSA_WALLET": wallet,
                     "KASSA_LOGIN_RATE": str(LOGIN_RATE), "KASSA_OTHER_CLIENT": OTHER_CLIENT})
            line = client.stdout.readline()
            if line.strip() == "RESTART":
                # One instance at a time (the README's recipe): take it out of
                # nginx's rotation and reload (old workers finish what they
                # carry), stop it (its sockets close with 1012), start it,
                # put it back, reload. Stopping an instance nginx still sends
                # to would race its keep-alive connections: a request written
                # to a connection the instance is closing fails with 502, and
                # nginx does not retry a POST on another instance.
                for name in ("A", "B"):
                    write_site(drained=name)
                    proxy.send_signal(signal.SIGHUP)
                    time.sleep(1.0)
                    stop(name)
                    start(name)
                    write_site()
                    proxy.send_signal(signal.SIGHUP)
                    time.sleep(1.0)
                client.stdin.write("restarted\n")
                client.stdin.flush()
                line = client.stdout.readline()
            code = client.wait(timeout=60)
            if code != 0:
                raise SystemExit(f"deploy check failed (exit {code}): {line}")
            result = json.loads(line)
            # the instances' logs are JSON lines carrying nginx's request ids
            with open(os.path.join(tmp, "kassa-A.log")) as f:
                lines = [json.loads(l) for l in f if l.strip()]
            assert any("request_id" in json.dumps(l) for l in lines), "no request id in the JSON logs"
            print(json.dumps({"deploy": "ok", **result}))
        except BaseException:
            for name in ("kassa-A.log", "kassa-B.log", "nginx-error.log"):
                path = os.path.join(tmp, name)
                if os.path.exists(path):
                    with open(path) as f:
                        sys.stderr.write(f"--- {name} (last lines)\n" + "".join(f.readlines()[-20:]))
            raise
        finally:
            if proxy:
                proxy.terminate()
                proxy.wait()
            for name, p in procs.items():
                if p.poll() is None:
                    p.terminate()
                    p.wait()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
