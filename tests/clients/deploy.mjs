// The deployment recipe (deploy/nginx.conf) seen by a client: two Kassa
// instances on one PostgreSQL + Redis behind nginx. Run by deploy/check.py,
// which starts the instances and nginx and restarts the instances when this
// script asks (a line "RESTART" on stdout, answered by a line on stdin).
//
// Environment: KASSA_PROXY (http://host:port of nginx), KASSA_A and
// KASSA_B (each instance directly), KASSA_LOGIN, KASSA_PASSWORD,
// KASSA_INGEST_KEY, KASSA_WALLET (a paytm wallet), KASSA_LOGIN_RATE (login
// calls per minute per client address, per instance), KASSA_OTHER_CLIENT
// (a second loopback address this machine can connect from).
// Prints one JSON line and exits 0 when every check held.

import assert from "node:assert/strict";
import http from "node:http";
import readline from "node:readline";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const proxy = env("KASSA_PROXY");
const direct = [env("KASSA_A"), env("KASSA_B")];

/** POST /graphql with node:http (so the local address can be chosen). */
const post = (base, query, variables = {}, { bearer, from, headers = {} } = {}) =>
  new Promise((resolve, reject) => {
    const body = JSON.stringify({ query, variables });
    const target = new URL(`${base}/graphql`);
    const req = http.request(
      {
        host: target.hostname, port: target.port, path: target.pathname, method: "POST",
        localAddress: from, agent: false,
        headers: {
          "content-type": "application/json", "content-length": Buffer.byteLength(body),
          ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...headers,
        },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (text += c));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode, headers: res.headers, body: JSON.parse(text) });
          } catch {
            resolve({ status: res.statusCode, headers: res.headers, body: { raw: text } });
          }
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });

const LOGIN = `mutation SignIn($login: String!, $password: String!) { login(login: $login, password: $password) { token errors { code } } }`;
const INGEST = `mutation Ingest($i: [IngestTransactionInput!]!) { ingestTransactions(input: $i) { results { outcome } } }`;
const deposit = (number) => ({ paymentSystem: "paytm", walletIdentifier: env("KASSA_WALLET"), direction: "INCOMING",
  amount: "150.00", currency: "INR", transactionNumber: number, occurredAt: new Date().toISOString() });

// 1. Sign-in through the proxy; the request id nginx gave the request comes back.
const signedIn = await post(proxy, LOGIN, { login: env("KASSA_LOGIN"), password: env("KASSA_PASSWORD") });
assert.equal(signedIn.status, 200, JSON.stringify(signedIn));
assert.deepEqual(signedIn.body.data.login.errors, [], JSON.stringify(signedIn.body));
const token = signedIn.body.data.login.token;
assert.match(signedIn.headers["x-request-id"] ?? "", /^[0-9a-f]{32}$/, "nginx's $request_id reaches Kassa and comes back");

// 2. A subscription held through the proxy receives events made through
// each instance directly: one of them is necessarily the other instance.
const events = [];
const closes = [];
let wake = () => {};
const ws = createWsClient({
  url: proxy.replace(/^http/, "ws") + "/graphql/ws",
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  // a restarting instance closes with 1012: reconnect (to the other one) and go on
  retryAttempts: 20,
  retryWait: () => new Promise((r) => setTimeout(r, 200)),
  shouldRetry: () => true,
  on: { closed: (e) => closes.push(e.code) },
});
ws.subscribe(
  { query: "subscription Live { transactionEvents { kind transaction { transactionNumber } } }" },
  {
    next: (r) => {
      if (r.data) events.push(r.data.transactionEvents);
      wake();
    },
    error: (e) => events.push({ error: String(e?.code ?? e) }),
    complete: () => {},
  },
);
const waitFor = (number, what) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`)), 15000);
    const check = () => {
      if (events.some((e) => e.transaction?.transactionNumber === number)) {
        clearTimeout(timer);
        resolve();
      }
    };
    wake = check;
    check();
  });
await new Promise((r) => setTimeout(r, 500));
const run = Date.now();
for (const [i, base] of direct.entries()) {
  const number = `DEPLOY-${run}-${i}`;
  const made = await post(base, INGEST, { i: [deposit(number)] }, { bearer: env("KASSA_INGEST_KEY") });
  assert.equal(made.body.data?.ingestTransactions.results[0].outcome, "CREATED", JSON.stringify(made.body));
  await waitFor(number, `the event made on instance ${i}`);
}

// 3. The login rate limit is keyed by the client's address as nginx saw it:
// a client that claims other addresses in X-Forwarded-For is still limited,
// and another client through the same proxy is not.
const rate = Number(env("KASSA_LOGIN_RATE"));
let limited = 0;
const answers = [];
for (let n = 0; n < 2 * rate + 2; n++) {
  const r = await post(proxy, LOGIN, { login: "nobody@nowhere", password: "wrong" },
    { from: "127.0.0.1", headers: { "x-forwarded-for": `10.9.${n}.1` } });
  answers.push(r.body);
  if (r.body.errors?.some((e) => e.extensions?.code === "RATE_LIMITED")) limited += 1;
}
assert.ok(limited >= 2, `a client rotating X-Forwarded-For was limited ${limited} times: ${JSON.stringify(answers)}`);
const other = await post(proxy, LOGIN, { login: "nobody@nowhere", password: "wrong" }, { from: env("KASSA_OTHER_CLIENT") });
assert.ok(!other.body.errors?.some((e) => e.extensions?.code === "RATE_LIMITED"), JSON.stringify(other.body));

// 4. A rolling restart under load: every request answered, the subscription
// follows (1012 → reconnect) and still receives events afterwards.
let stop = false;
let answered = 0;
const failures = [];
const worker = async () => {
  while (!stop) {
    try {
      const r = await post(proxy, "query Me { me { login } }", {}, { bearer: token });
      if (r.status !== 200 || r.body.errors || r.body.data?.me?.login !== env("KASSA_LOGIN")) {
        failures.push({ status: r.status, body: r.body });
      } else {
        answered += 1;
      }
    } catch (e) {
      failures.push({ error: String(e) });
    }
  }
};
const workers = Array.from({ length: 4 }, worker);
await new Promise((r) => setTimeout(r, 300));
const lines = readline.createInterface({ input: process.stdin });
const restarted = new Promise((resolve) => lines.once("line", resolve));
console.log("RESTART");
await restarted;
await new Promise((r) => setTimeout(r, 300));
stop = true;
await Promise.all(workers);
assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed requests of ${answered + failures.length}`);
assert.ok(answered > 50, `only ${answered} requests answered during the restart`);
assert.ok(closes.includes(1012), `the subscription saw its instance restart: ${JSON.stringify(closes)}`);
const after = `DEPLOY-${run}-after`;
const made = await post(proxy, INGEST, { i: [deposit(after)] }, { bearer: env("KASSA_INGEST_KEY") });
assert.equal(made.body.data?.ingestTransactions.results[0].outcome, "CREATED", JSON.stringify(made.body));
await waitFor(after, "an event after the rolling restart");
assert.ok(!events.some((e) => e.error), JSON.stringify(events));
await ws.dispose();
lines.close();
console.log(JSON.stringify({ ok: true, answeredDuringRestart: answered, limited, closes }));
