// The official Descope Node SDK's untouched paths over connections that carry metadata (set by
// the test through outbound's own API): re-upload, fetch, batch upload, API keys. The SDK knows
// nothing of metadata; the test checks afterwards that every call worked and kept it.
//
//   node node_sdk_metadata.mjs < input.json > results.json
//
// input: {baseUrl, projectId, managementKey, appId, keyAppId, userId, tenantId, batchUser, keyUser}

import DescopeClient from '@descope/node-sdk';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const { baseUrl, projectId, managementKey, appId, keyAppId, userId, tenantId, batchUser, keyUser } =
  input;
const quiet = Object.fromEntries(['log', 'debug', 'info', 'warn', 'error'].map((l) => [l, () => {}]));
const apps = DescopeClient({ projectId, managementKey, baseUrl, logger: quiet }).management
  .outboundApplication;

const steps = {};
async function step(name, call) {
  try {
    const { ok, code, data, error } = await call();
    steps[name] = { ok, code, data, error };
  } catch (exc) {
    steps[name] = { thrown: `${exc?.name}: ${exc?.message}` };
  }
}

await step('uploadUserToken', () =>
  apps.uploadUserToken({ appId, userId, accessToken: 'node-user', scopes: ['read'] }),
);
await step('fetchToken', () => apps.fetchToken(appId, userId));
await step('fetchTokenByScopes', () => apps.fetchTokenByScopes(appId, userId, ['read']));
await step('uploadTenantToken', () =>
  apps.uploadTenantToken({ appId, tenantId, accessToken: 'node-tenant' }),
);
await step('fetchTenantToken', () => apps.fetchTenantToken(appId, tenantId));
await step('batchUploadUserTokens', () =>
  apps.batchUploadUserTokens([{ appId, userId: batchUser, accessToken: 'node-batch' }]),
);
await step('uploadUserApiKey', () => apps.uploadUserApiKey(keyAppId, keyUser, 'node-key'));
await step('fetchUserApiKey', () => apps.fetchToken(keyAppId, keyUser));
await step('listAppsWithUserToken', () => apps.listAppsWithUserToken(userId));
process.stdout.write(JSON.stringify({ steps }));
