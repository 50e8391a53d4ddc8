// Standard tools load the schema from the server (issue 20): graphql-js's
// own introspection query with every option on is answered, the schema it
// builds is the one checked in (schema.graphql), and with introspection off
// the same query is refused.
import { readFileSync } from "node:fs";
import {
  buildClientSchema, buildSchema, getIntrospectionQuery, lexicographicSortSchema, printSchema,
} from "graphql";

const url = process.env.KASSA_URL + "/graphql";
const query = getIntrospectionQuery({
  descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true,
  schemaDescription: true, inputValueDeprecation: true,
});
const ask = async (base) => {
  const r = await fetch(base + "/graphql", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, operationName: "IntrospectionQuery" }),
  });
  return r.json();
};
const fail = (msg) => { console.error(msg); process.exit(1); };

const body = await ask(process.env.KASSA_URL);
if (body.errors) fail("introspection refused: " + JSON.stringify(body.errors));
const served = printSchema(lexicographicSortSchema(buildClientSchema(body.data)));
const checkedIn = printSchema(lexicographicSortSchema(buildSchema(readFileSync(process.env.KASSA_SCHEMA, "utf8"))));
if (served !== checkedIn) {
  const a = served.split("\n"), b = checkedIn.split("\n");
  const i = a.findIndex((line, n) => line !== b[n]);
  fail(`the served schema differs from schema.graphql at line ${i + 1}:\n  served:     ${a[i]}\n  checked in: ${b[i]}`);
}
console.log(`introspection: graphql-js getIntrospectionQuery (every option) answered; ${a_len(served)} lines, identical to schema.graphql`);
function a_len(s) { return s.split("\n").length; }

if (process.env.KASSA_URL_CLOSED) {
  const closed = await ask(process.env.KASSA_URL_CLOSED);
  if (!closed.errors || closed.data?.__schema) fail("introspection off, yet answered: " + JSON.stringify(closed).slice(0, 200));
  console.log("introspection off: refused (" + closed.errors[0].message + ")");
}
