// Runs the README's Apollo Client recipe (the module at argv[2]) against the live service.
// A query, forward paging through relayStylePagination, a subscription event caused by a
// mutation over HTTP, destinations read back whole; the same reads on a cache without the
// Address policy, to show what it keeps. Prints one JSON line.
import { pathToFileURL } from "node:url";
import { ApolloClient, InMemoryCache, gql } from "@apollo/client";
import { WebSocket } from "ws";

const [recipePath, url, token, outdialId] = process.argv.slice(2);
const recipe = await import(pathToFileURL(recipePath).href);

const httpOperations = []; // what went over HTTP: the operation name and its `after`
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const { operationName, variables } = JSON.parse(init.body);
  httpOperations.push({ operationName, after: variables?.after ?? null });
  return realFetch(input, init);
};

const CREATE = gql`
  mutation Create($inputs: [CreateOutdialtargetInput!]!) {
    createOutdialtargets(inputs: $inputs) { id }
  }
`;
const DETAILS = gql`
  query Details($id: ID!) {
    outdialtarget(id: $id) { id destination0 { targetName name detail } }
  }
`;
const MARK = gql`
  mutation Mark($id: ID!) {
    markOutdialtargetProgressing(id: $id, destinationIndex: 0) { id status }
  }
`;
const IDLE = gql`
  mutation Idle($id: ID!) {
    updateOutdialtargetStatus(id: $id, status: IDLE) { id status }
  }
`;
const WHOLE = gql`
  fragment Whole on Outdialtarget { status destination0 { type target targetName name detail } }
`;

const destination = (n) => ({
  type: "TEL",
  target: `+8211000000${n}`,
  targetName: `Customer ${n}`,
  name: "mobile",
  detail: "after 18:00",
});

function whole(apollo, id) {
  return apollo.readFragment({ id: apollo.cache.identify({ __typename: "Outdialtarget", id }), fragment: WHOLE });
}

// Pages forward as a table would: each loadMore once the watched query shows the last page.
async function pageThrough(apollo) {
  const watched = apollo.watchQuery({ query: recipe.TARGETS, variables: { outdialId, first: 2 } });
  let shown = 0;
  let grew = () => {};
  const subscription = watched.subscribe(({ data, dataState }) => {
    if (dataState === "complete" && data.outdialtargets.edges.length > shown) {
      shown = data.outdialtargets.edges.length;
      grew();
    }
  });
  const rendered = () => new Promise((resolve, reject) => {
    grew = resolve;
    setTimeout(() => reject(new Error(`the list stayed at ${shown} targets`)), 5000);
  });
  await rendered();
  let pages = 1;
  for (let more = recipe.loadMore(watched); more && pages < 10; more = recipe.loadMore(watched)) {
    const merged = rendered();
    await more;
    await merged;
    pages += 1;
  }
  subscription.unsubscribe();
  return { pages, ...watched.getCurrentResult().data.outdialtargets };
}

// The first event of the subscription, caused by changing the target over HTTP; the first
// change may reach the service before the subscription does, so it is tried a few times.
async function statusEvent(apollo, id) {
  const events = [];
  let heard = () => {};
  const subscription = apollo
    .subscribe({ query: recipe.STATUS_CHANGED, variables: { outdialId } })
    .subscribe(({ data, error }) => {
      events.push(error ? { error: error.message } : data.outdialtargetStatusChanged);
      heard();
    });
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      const waiting = new Promise((resolve) => {
        heard = resolve;
        setTimeout(resolve, 1000);
      });
      const [mutation, caused] = attempt % 2 === 0 ? [MARK, "PROGRESSING"] : [IDLE, "IDLE"];
      await apollo.mutate({ mutation, variables: { id } });
      await waiting;
      if (events.length) return { caused, ...events[0] };
    }
    throw new Error("no status event");
  } finally {
    subscription.unsubscribe();
  }
}

const client = recipe.outdialClient({ url, token, webSocketImpl: WebSocket });
const inputs = [0, 1, 2, 3, 4].map((n) => ({ outdialId, destination0: destination(n) }));
const created = (await client.mutate({ mutation: CREATE, variables: { inputs } })).data.createOutdialtargets;
const page = await pageThrough(client);
const first = page.edges[0].node.id;
await client.query({ query: DETAILS, variables: { id: first } });
const before = whole(client, first);
const event = await statusEvent(client, first);
const after = whole(client, first);

const { Address, ...withoutAddress } = recipe.typePolicies;
const control = new ApolloClient({ link: client.link, cache: new InMemoryCache({ typePolicies: withoutAddress }) });
await control.query({ query: recipe.TARGETS, variables: { outdialId, first: 2 } });
await control.query({ query: DETAILS, variables: { id: first } });

const report = {
  created: created.map((target) => target.id),
  page: {
    pages: page.pages,
    ids: page.edges.map((edge) => edge.node.id),
    totalCount: page.totalCount,
    hasNextPage: page.pageInfo.hasNextPage,
    cursors: page.edges.map((edge) => edge.cursor),
  },
  httpOperations,
  before,
  event,
  after,
  withoutAddressPolicy: whole(control, first),
};
process.stdout.write(JSON.stringify(report) + "\n");
process.exit(0);
