// The graphql-http server audit (GraphQL over HTTP spec) against a running service.
//
//   GRAPHQL_HTTP_DIR=<dir holding node_modules/graphql-http> node scripts/graphql-http-audit.mjs URL
//
// AUDIT_TOKEN, when set, is sent as a bearer token. Prints every audit that did not pass and
// a last line of JSON counts; exits 1 when a MUST or a SHOULD audit failed.
import { createRequire } from "node:module";
import path from "node:path";

const [url] = process.argv.slice(2);
if (!url || !process.env.GRAPHQL_HTTP_DIR) {
  console.error("usage: GRAPHQL_HTTP_DIR=<dir> node scripts/graphql-http-audit.mjs URL");
  process.exit(2);
}
const require = createRequire(path.join(process.env.GRAPHQL_HTTP_DIR, "package.json"));
const { auditServer } = require("graphql-http");

const token = process.env.AUDIT_TOKEN;
const fetchFn = token
  ? (input, init = {}) =>
      fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } })
  : fetch;

const results = await auditServer({ url, fetchFn });
const counts = {};
for (const result of results) {
  const level = result.name.split(" ")[0];
  counts[level] ??= { passed: 0, failed: 0 };
  counts[level][result.status === "ok" ? "passed" : "failed"] += 1;
  if (result.status !== "ok") {
    console.log(`${result.status} ${result.id} ${result.name}: ${result.reason}`);
  }
}
console.log(JSON.stringify(counts));
const failed = (level) => counts[level]?.failed ?? 0;
process.exit(failed("MUST") + failed("SHOULD") > 0 ? 1 : 0);
