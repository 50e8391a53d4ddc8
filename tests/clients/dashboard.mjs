// A frontend team's app against a running Kassa, with the libraries such
// apps use: urql over HTTP, graphql-ws for the live feed. It signs in, pages
// the Transactions page with cursors, and keeps a transactionEvents
// subscription with nested fields open while deposits arrive and activate.
//
// Environment: KASSA_URL (http://host:port), KASSA_LOGIN, KASSA_PASSWORD,
// KASSA_INGEST_KEY, KASSA_PLUGIN_KEY, KASSA_WALLET (a paytm wallet of the
// merchant). Prints one JSON line and exits 0 when every check held.

import assert from "node:assert/strict";
import { Client, fetchExchange, subscriptionExchange, gql } from "@urql/core";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const url = env("KASSA_URL");
const wsUrl = url.replace(/^http/, "ws") + "/graphql/ws";

// One HTTP client for the public sign-in; the signed-in one carries the token.
const anonymous = new Client({ url: `${url}/graphql`, exchanges: [fetchExchange] });

const LOGIN = gql`
  mutation SignIn($login: String!, $password: String!) {
    login(login: $login, password: $password) { token user { login role } errors { code message } }
  }
`;
const signedIn = await anonymous.mutation(LOGIN, { login: env("KASSA_LOGIN"), password: env("KASSA_PASSWORD") }).toPromise();
assert.equal(signedIn.error, undefined, String(signedIn.error));
assert.deepEqual(signedIn.data.login.errors, []);
const token = signedIn.data.login.token;
assert.match(token, /^kss_/);

// Close codes the app must act on (README, "Connecting a frontend").
const closes = [];
const ws = createWsClient({
  url: wsUrl,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${token}` },
  retryAttempts: 0,
  on: { closed: (event) => closes.push(event.code) },
});

const client = new Client({
  url: `${url}/graphql`,
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription(request) {
        const input = { ...request, query: request.query || "" };
        return {
          subscribe(sink) {
            const unsubscribe = ws.subscribe(input, sink);
            return { unsubscribe };
          },
        };
      },
    }),
  ],
  fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  requestPolicy: "network-only",
});

const post = async (query, variables, bearer) => {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = await response.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
};
const INGEST = `mutation Ingest($i: [IngestTransactionInput!]!) { ingestTransactions(input: $i) { results { outcome errors { code message } } } }`;
const deposit = (number, amount) => ({ paymentSystem: "paytm", walletIdentifier: env("KASSA_WALLET"), direction: "INCOMING",
  amount, currency: "INR", transactionNumber: number, occurredAt: new Date().toISOString() });
const run = Date.now();
const history = await post(INGEST, { i: Array.from({ length: 20 }, (_, n) => deposit(`NODE-${run}-${n}`, `${100 + n}.00`)) }, env("KASSA_INGEST_KEY"));
assert.ok(history.ingestTransactions.results.every((r) => r.outcome === "CREATED"), JSON.stringify(history));

// 1. Page the Transactions page with cursors: no row twice, in order.
const PAGE = gql`
  query TransactionsPage($after: String) {
    transactions(first: 7, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id amount currency createdAt status paymentSystem { code } }
    }
  }
`;
const seen = new Set();
let after = null;
let pages = 0;
let total = 0;
do {
  const page = await client.query(PAGE, { after }).toPromise();
  assert.equal(page.error, undefined, String(page.error));
  const t = page.data.transactions;
  total = t.totalCount;
  for (const node of t.nodes) {
    assert.ok(!seen.has(node.id), `transaction ${node.id} on two pages`);
    seen.add(node.id);
    assert.match(node.amount, /^\d+\.\d+$/, "amounts are decimal strings");
  }
  pages += 1;
  after = t.pageInfo.hasNextPage ? t.pageInfo.endCursor : null;
} while (after);
assert.equal(total, 20);
assert.equal(seen.size, 20, "every row once over the pages");
assert.equal(pages, 3);

// 2. Hold a subscription with nested fields while deposits arrive.
const LIVE = gql`
  subscription LiveDeposits {
    transactionEvents {
      kind
      transaction {
        id transactionNumber amount status label
        paymentSystem { code name }
        stockpiling { id status accumulated minimum transactionCount transactions(first: 5) { id } }
        postbacks { id kind status }
      }
    }
  }
`;
const events = [];
let wake = () => {};
const live = client.subscription(LIVE, {}).subscribe((result) => {
  if (result.error) events.push({ error: String(result.error) });
  else events.push(result.data.transactionEvents);
  wake();
});
const waitFor = (predicate, what) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(events)}`)), 15000);
    const check = () => {
      const found = events.find(predicate);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    wake = check;
    check();
  });
// (give the socket a moment to subscribe before the first event)
await new Promise((r) => setTimeout(r, 500));

const number = `NODE-${run}-live`;
const ingested = await post(INGEST, { i: [deposit(number, "2500.00")] }, env("KASSA_INGEST_KEY"));
assert.equal(ingested.ingestTransactions.results[0].outcome, "CREATED", JSON.stringify(ingested));
const created = await waitFor((e) => e.kind === "CREATED" && e.transaction?.transactionNumber === number, "CREATED");
assert.equal(created.transaction.status, "NOT_ACTIVATED");
assert.equal(created.transaction.paymentSystem.code, "paytm");

const activatedNow = await post(
  `mutation Activate($i: ActivateDepositInput!) { activateDeposit(input: $i) { outcome } }`,
  { i: { pluginKey: env("KASSA_PLUGIN_KEY"), paymentSystem: "paytm", transactionNumber: number, label: "node-payer" } },
);
assert.equal(activatedNow.activateDeposit.outcome, "ACTIVATED");
const activated = await waitFor((e) => e.kind === "ACTIVATED" && e.transaction?.transactionNumber === number, "ACTIVATED");
assert.equal(activated.transaction.label, "node-payer");
assert.ok(activated.transaction.stockpiling, "the stockpiling resolves in the event");
assert.ok(activated.transaction.stockpiling.transactionCount >= 1);
assert.ok(Array.isArray(activated.transaction.postbacks));
assert.ok(!events.some((e) => e.error), JSON.stringify(events));

live.unsubscribe();
await ws.dispose();
console.log(JSON.stringify({ ok: true, pages, rowsSeen: seen.size, totalCount: total, events: events.length, closes }));
