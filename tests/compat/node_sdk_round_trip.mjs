// The official Descope Node SDK's way to edit an app, for many apps at once: load it, spread
// it, change one field, update, load again.
//
//   node node_sdk_round_trip.mjs < input.json > results.json
//
// input (stdin): {baseUrl, projectId, managementKey, cases: [{id, change}]}
// output (stdout): [{loaded, updated, reloaded}] — each what the SDK resolved to ({ok, code,
// data, error}); test_node_round_trip.py asserts on them.

import DescopeClient from '@descope/node-sdk';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const { baseUrl, projectId, managementKey, cases } = JSON.parse(Buffer.concat(chunks).toString());

const silent = Object.fromEntries(['log', 'debug', 'info', 'warn', 'error'].map((l) => [l, () => {}]));
const apps = DescopeClient({ projectId, managementKey, baseUrl, logger: silent }).management
  .outboundApplication;

const outcome = ({ ok, code, data, error }) => ({ ok, code, data, error });
const results = [];
for (const { id, change } of cases) {
  const loaded = outcome(await apps.loadApplication(id));
  const updated = outcome(await apps.updateApplication({ ...loaded.data, ...change }));
  const reloaded = outcome(await apps.loadApplication(id));
  results.push({ loaded, updated, reloaded });
}
process.stdout.write(JSON.stringify(results));
