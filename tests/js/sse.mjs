// The npm graphql-sse client against the service at process.argv[2], in the mode argv[3]
// ("distinct" or "single"), with the bearer token argv[4], on the outdial argv[5].
// Everything goes over SSE: create a target, subscribe to its outdial, mark it PROGRESSING and
// report it DONE (each causing a status event), count the outdial. Prints one JSON line.
import { createClient } from "graphql-sse";

const [url, mode, token, outdialId] = process.argv.slice(2);
const client = createClient({
  url: `${url}/graphql`,
  headers: { authorization: `Bearer ${token}` },
  singleConnection: mode === "single",
  retryAttempts: 0,
});

function once(query, variables) {
  return new Promise((resolve, reject) => {
    let result;
    client.subscribe({ query, variables }, {
      next: (value) => (result = value),
      error: reject,
      complete: () => resolve(result),
    });
  });
}

async function activeSubscriptions() {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("outdial_subscriptions_active "));
  return Number(line.split(" ")[1]);
}

async function untilActive(count) {
  const deadline = Date.now() + 10_000;
  while ((await activeSubscriptions()) !== count) {
    if (Date.now() > deadline) throw new Error(`subscriptions never reached ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const created = await once(
  `mutation Create($input: CreateOutdialtargetInput!) { createOutdialtarget(input: $input) { id status } }`,
  { input: { outdialId, destination0: { type: "TEL", target: "+821100000001" } } },
);
const id = created.data.createOutdialtarget.id;

const events = [];
const subscription = client.iterate({
  query: `subscription Watch($outdialId: ID) {
    outdialtargetStatusChanged(outdialId: $outdialId) { previousStatus status target { id } } }`,
  variables: { outdialId },
});
const received = (async () => {
  for await (const event of subscription) {
    events.push(event.data.outdialtargetStatusChanged);
    if (events.length === 2) break; // ends the subscription, as a client stops watching
  }
})();
await untilActive(1);

const marked = await once(
  `mutation Mark($id: ID!) { markOutdialtargetProgressing(id: $id, destinationIndex: 0) { status } }`,
  { id },
);
const reported = await once(
  `mutation Report($id: ID!) { updateOutdialtargetStatus(id: $id, status: DONE) { status } }`,
  { id },
);
await received;
await untilActive(0);
const counted = await once(
  `query Count($outdialId: ID!) { outdialtargetCounts(outdialId: $outdialId) { total done } }`,
  { outdialId },
);
client.dispose();
console.log(JSON.stringify({ created, id, marked, reported, events, counted }));
