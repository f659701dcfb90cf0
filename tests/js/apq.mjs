// Apollo Client with its persisted query link against the service at process.argv[2].
// Prints one JSON line: every HTTP exchange, in order, and the data each query returned.
import { createHash } from "node:crypto";
import { ApolloClient, HttpLink, InMemoryCache, gql } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";

const [url, outdialId] = process.argv.slice(2);
const exchanges = [];

async function recordingFetch(input, init) {
  const response = await fetch(input, init);
  const body = await response.clone().json();
  const sent = init.method === "GET" ? new URL(input).searchParams.get("query") : JSON.parse(init.body).query;
  exchanges.push({
    method: init.method,
    sentQuery: typeof sent === "string",
    status: response.status,
    code: body.errors?.[0]?.extensions?.code ?? null,
    cacheControl: response.headers.get("cache-control"),
  });
  return response;
}

function client(useGETForHashedQueries) {
  const persisted = new PersistedQueryLink({
    sha256: (text) => createHash("sha256").update(text).digest("hex"),
    useGETForHashedQueries,
  });
  const http = new HttpLink({ uri: `${url}/graphql`, fetch: recordingFetch });
  return new ApolloClient({ link: persisted.concat(http), cache: new InMemoryCache() });
}

const COUNTS = gql`
  query Counts($outdialId: ID!) {
    outdialtargetCounts(outdialId: $outdialId) { total }
  }
`;
const PROGRESS = gql`
  query Progress($outdialId: ID!) {
    outdialtargetCounts(outdialId: $outdialId) { idle progressing done }
  }
`;

async function run(apollo, query, label) {
  const data = [];
  for (let n = 0; n < 3; n++) {
    const result = await apollo.query({ query, variables: { outdialId }, fetchPolicy: "network-only" });
    data.push(result.data.outdialtargetCounts);
  }
  return { label, data };
}

const results = [await run(client(false), COUNTS, "post"), await run(client(true), PROGRESS, "get")];
process.stdout.write(JSON.stringify({ exchanges, results }) + "\n");
