"""Starting a real `kassa` process for the tests that drive it from outside
(the browser and the JavaScript clients): a fresh database on the chosen
backend, the command line, and `kassa serve` on a free port."""

import json
import os
import subprocess
import tempfile

PG_URL = os.environ.get("KASSA_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("KASSA_TEST_REDIS_URL")


class Kassa:
    """One database (SQLite file, or a PostgreSQL database of its own when
    KASSA_TEST_DATABASE_URL is set) and the servers started on it."""

    def __init__(self, binary, name, **env):
        self.binary = binary
        self.servers = []
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        self.env.update(KASSA_BIND="127.0.0.1:0", RUST_LOG="warn")
        self.pg_db = None
        if PG_URL:
            self.pg_db = f"kassa_t_{name}_{os.getpid()}"
            self._psql(f'DROP DATABASE IF EXISTS "{self.pg_db}"')
            self._psql(f'CREATE DATABASE "{self.pg_db}"')
            self.env["DATABASE_URL"] = PG_URL.rsplit("/", 1)[0] + "/" + self.pg_db
            if REDIS_URL:
                self.env["REDIS_URL"] = REDIS_URL
                self.env["KASSA_EVENTS_CHANNEL"] = f"kassa:test:{self.pg_db}"
        else:
            self.dir = tempfile.mkdtemp()
            self.env["DATABASE_URL"] = f"sqlite://{self.dir}/kassa.db?mode=rwc"
        self.env.update(env)

    def _psql(self, sql):
        subprocess.run(["psql", PG_URL, "-qc", sql], check=True, capture_output=True)

    def run(self, *args):
        """A command's JSON answer."""
        done = subprocess.run([self.binary, *args], env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"kassa {' '.join(args)}: {done.stderr}")
        return json.loads(done.stdout)

    def serve(self, **env):
        """Starts `kassa serve` (with `env` on top) and returns its base URL."""
        server = subprocess.Popen(
            [self.binary, "serve"], env={**self.env, **env},
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.servers.append(server)
        return json.loads(server.stdout.readline())["listening"]

    def close(self):
        for server in self.servers:
            server.terminate()
            server.wait()
        if self.pg_db:
            self._psql(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
