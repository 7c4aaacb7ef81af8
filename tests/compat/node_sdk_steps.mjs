// Drive the official Descope Node SDK (@descope/node-sdk, pinned in package.json) through every
// outbound-application method against a live outbound server, in one process.
//
//   node node_sdk_steps.mjs < input.json > results.json
//
// input (stdin, so the management key and test secrets never reach a command line):
//   {baseUrl, projectId, managementKey, run, downProviderTokenUrl,
//    secrets: {clientSecret, access, refresh, ...}}
// output (stdout): one JSON object {steps: {name: Result}, logged: [...]} where Result is what
// the SDK resolved to — {ok, code, data?, error?, retries} — or {thrown: "..."} when the call
// threw.
// The Python test (test_node_sdk.py) asserts on it; this script asserts nothing itself, so a
// wire incompatibility shows up there as a readable diff, not as a crash here.

import DescopeClient from '@descope/node-sdk';

const input = JSON.parse(await readStdin());
const { baseUrl, projectId, managementKey, run, secrets } = input;

// What the SDK logs: it logs every request and response when given a logger, the failed ones
// at `error` level, and a failed license handshake as a warning. Request logs carry the
// management key in their headers, so only the title, URL, method and status are kept.
const logged = [];
const kept = /^(Request|Response)$|^(Url|Method|Status): /;
const logger = Object.fromEntries(
  ['log', 'debug', 'info', 'warn', 'error'].map((level) => [
    level,
    (...args) =>
      logged.push({
        level,
        lines: String(args[0])
          .split('\n')
          .filter((line) => kept.test(line)),
      }),
  ]),
);

const descope = DescopeClient({ projectId, managementKey, baseUrl, logger });
const apps = descope.management.outboundApplication;

const steps = {};

// Record what one SDK call resolved to. `response` (the fetch Response) is not data.
async function step(name, call) {
  try {
    const { ok, code, data, error, response } = await call();
    // the SDK retries 503 and a few Cloudflare codes itself, and counts it on the response
    steps[name] = { ok, code, data, error, retries: response?.retries ?? 0 };
  } catch (exc) {
    steps[name] = { thrown: `${exc?.name}: ${exc?.message}` };
  }
  return steps[name];
}

const unique = (prefix) => `${prefix}-${run}-${Math.random().toString(16).slice(2, 10)}`;
const inAnHour = Math.floor(Date.now() / 1000) + 3600;

// -- applications ------------------------------------------------------------------------

const appId = unique('gcal');
const appName = unique('Calendar');
await step('createApplication', () =>
  apps.createApplication({
    id: appId,
    name: appName,
    description: "the user's calendar",
    clientId: 'client-123',
    clientSecret: secrets.clientSecret,
    authorizationUrl: 'https://provider.example/authorize',
    authorizationUrlParams: [{ key: 'hd', value: 'example.com' }],
    tokenUrl: 'https://provider.example/token',
    tokenUrlParams: [{ key: 'audience', value: 'api' }],
    revocationUrl: 'https://provider.example/revoke',
    defaultScopes: ['calendar.read'],
    defaultRedirectUrl: 'https://app.example/connected',
    pkce: true,
    accessType: 'offline',
    prompt: ['consent', 'select_account'],
    useDcr: false,
    dcrUrl: '',
  }),
);

// An app that registers its own client (RFC 7591) at the first connect, as the SDK sends it.
const dcrAppId = unique('mcp');
const dcrName = unique('MCP');
await step('createDcrApplication', () =>
  apps.createApplication({
    id: dcrAppId,
    name: dcrName,
    discoveryUrl: 'https://mcp.example/.well-known/oauth-authorization-server',
    defaultScopes: ['tools'],
    useDcr: true,
    dcrUrl: 'https://mcp.example/register',
  }),
);
await step('loadDcrApplication', () => apps.loadApplication(dcrAppId));
await step('updateDcrApplication', () =>
  apps.updateApplication({
    id: dcrAppId,
    name: dcrName,
    discoveryUrl: 'https://mcp.example/.well-known/oauth-authorization-server',
    useDcr: true,
    dcrUrl: 'https://mcp.example/oauth/register',
  }),
);
await step('loadDcrApplicationAfterUpdate', () => apps.loadApplication(dcrAppId));
// useDcr, dcrUrl and resource are kept when an update omits them (the official Python SDK
// cannot send them); an explicit false and "" switch registration off.
await step('updateDcrApplicationOff', () =>
  apps.updateApplication({
    id: dcrAppId,
    name: dcrName,
    tokenUrl: 'https://mcp.example/token',
    useDcr: false,
    dcrUrl: '',
  }),
);
await step('createDcrApplicationByTemplate', () =>
  apps.createApplicationByTemplate({
    templateId: 'linear-mcp',
    id: unique('dcr-tpl'),
    overrides: { name: unique('Linear MCP'), useDcr: true, dcrUrl: 'https://idp.example/reg' },
  }),
);
await step('createApplicationDuplicateId', () =>
  apps.createApplication({ id: appId, name: unique('Other') }),
);
await step('createApplicationDuplicateName', () => apps.createApplication({ name: appName }));
await step('createApplicationWithoutName', () => apps.createApplication({ description: 'x' }));
await step('loadApplication', () => apps.loadApplication(appId));
await step('loadAllApplications', () => apps.loadAllApplications());
await step('updateApplication', () =>
  apps.updateApplication({
    id: appId,
    name: appName,
    description: 'renamed',
    tokenUrl: 'https://provider.example/token',
  }),
);
await step('loadApplicationAfterUpdate', () => apps.loadApplication(appId));
await step('updateApplicationUnknown', () =>
  apps.updateApplication({ id: unique('missing'), name: unique('Missing') }),
);

const templated = unique('github');
await step('createApplicationByTemplate', () =>
  apps.createApplicationByTemplate({
    templateId: 'github',
    id: templated,
    clientId: 'gh-client',
    clientSecret: secrets.clientSecret,
    overrides: { name: unique('GitHub'), defaultScopes: ['repo'] },
  }),
);
await step('createApplicationByUnknownTemplate', () =>
  apps.createApplicationByTemplate({ templateId: 'no-such-template' }),
);

// -- user tokens -------------------------------------------------------------------------

const user = unique('user');
await step('uploadUserToken', () =>
  apps.uploadUserToken({
    appId,
    userId: user,
    accessToken: secrets.access,
    refreshToken: secrets.refresh,
    accessTokenExpiry: inAnHour,
    scopes: ['calendar.read', 'calendar.write'],
    externalIdentifier: 'work',
    idToken: 'header.payload.sig',
    grantedBy: 'admin@example.com',
  }),
);
await step('fetchToken', () => apps.fetchToken(appId, user));
await step('fetchTokenWithRefreshToken', () =>
  apps.fetchToken(appId, user, undefined, { withRefreshToken: true }),
);
await step('fetchTokenByScopes', () => apps.fetchTokenByScopes(appId, user, ['calendar.read']));
await step('fetchTokenByScopesNotGranted', () =>
  apps.fetchTokenByScopes(appId, user, ['gmail.send']),
);
await step('fetchTokenUnknownUser', () => apps.fetchToken(appId, unique('nobody')));
await step('fetchTokenUnknownApp', () => apps.fetchToken(unique('missing'), user));
await step('uploadUserTokenWithoutTokens', () => apps.uploadUserToken({ appId, userId: user }));
await step('listAppsWithUserToken', () => apps.listAppsWithUserToken(user));

// a user's token inside a tenant is another connection than the one outside
const tenantUser = unique('user');
const userTenant = unique('tenant');
await step('uploadUserTokenInTenant', () =>
  apps.uploadUserToken({
    appId,
    userId: tenantUser,
    tenantId: userTenant,
    accessToken: 'in-tenant',
    scopes: ['calendar.read'],
  }),
);
await step('uploadUserTokenOutsideTenant', () =>
  apps.uploadUserToken({ appId, userId: tenantUser, accessToken: 'no-tenant' }),
);
await step('fetchTokenInTenant', () => apps.fetchToken(appId, tenantUser, userTenant));
await step('fetchTokenByScopesInTenant', () =>
  apps.fetchTokenByScopes(appId, tenantUser, ['calendar.read'], undefined, userTenant),
);
await step('listAppsWithUserTokenInTenant', () =>
  apps.listAppsWithUserToken(tenantUser, userTenant),
);
await step('listAppsWithUserTokenOtherTenant', () =>
  apps.listAppsWithUserToken(tenantUser, unique('tenant')),
);

// -- tenant tokens -----------------------------------------------------------------------

const tenant = unique('tenant');
await step('uploadTenantToken', () =>
  apps.uploadTenantToken({
    appId,
    tenantId: tenant,
    accessToken: secrets.tenantAccess,
    accessTokenExpiry: inAnHour,
    scopes: ['admin'],
  }),
);
await step('fetchTenantToken', () => apps.fetchTenantToken(appId, tenant));
await step('fetchTenantTokenByScopes', () => apps.fetchTenantTokenByScopes(appId, tenant, ['admin']));
await step('fetchTenantTokenByScopesNotGranted', () =>
  apps.fetchTenantTokenByScopes(appId, tenant, ['superuser']),
);

// -- API keys ----------------------------------------------------------------------------

const keyAppId = unique('stripe');
await step('createApiKeyApplication', () =>
  apps.createApplication({ id: keyAppId, name: unique('Stripe') }),
);
const keyUser = unique('user');
const keyTenant = unique('tenant');
await step('uploadUserApiKey', () => apps.uploadUserApiKey(keyAppId, keyUser, secrets.userApiKey));
await step('uploadTenantApiKey', () =>
  apps.uploadTenantApiKey(keyAppId, keyTenant, secrets.tenantApiKey),
);
await step('fetchUserApiKey', () => apps.fetchToken(keyAppId, keyUser));
await step('fetchTenantApiKey', () => apps.fetchTenantToken(keyAppId, keyTenant));

// -- batch uploads: all or nothing -------------------------------------------------------

const batchUsers = [unique('user'), unique('user'), unique('user')];
await step('batchUploadUserTokens', () =>
  apps.batchUploadUserTokens(
    batchUsers.map((userId) => ({ appId, userId, accessToken: `tok-${userId}` })),
  ),
);
await step('fetchBatchUploadedTokens', async () => {
  const answers = await Promise.all(batchUsers.map((userId) => apps.fetchToken(appId, userId)));
  const failed = answers.find((answer) => !answer.ok);
  return failed ?? { ok: true, code: 200, data: answers.map((answer) => answer.data.accessToken) };
});
const lateUser = unique('user');
await step('batchUploadUserTokensWithFailures', () =>
  apps.batchUploadUserTokens([
    { appId, userId: lateUser, accessToken: 'fine' },
    { appId: 'no-such-app', userId: lateUser, accessToken: 'x' },
    { appId, userId: lateUser }, // neither token
  ]),
);
await step('fetchAfterFailedBatch', () => apps.fetchToken(appId, lateUser));
const batchTenants = [unique('tenant'), unique('tenant')];
await step('batchUploadTenantTokens', () =>
  apps.batchUploadTenantTokens(
    batchTenants.map((tenantId) => ({ appId, tenantId, refreshToken: `r-${tenantId}` })),
  ),
);
await step('batchUploadTenantTokensWithFailures', () =>
  apps.batchUploadTenantTokens([{ appId: 'no-such-app', tenantId: batchTenants[0], accessToken: 'x' }]),
);

// -- what the server answers is accepted back -------------------------------------------

// The SDK's documented way to edit an app: load it, spread it, change a field, update. The
// loaded object carries what the server answers ("templateId": "", "tenantId": "",
// "callbackUrl", "hasClientSecret", a derived "appType"…), and all of it goes back.
async function spreadUpdate(label, id, change) {
  const loaded = await step(`spreadLoad_${label}`, () => apps.loadApplication(id));
  await step(`spreadUpdate_${label}`, () => apps.updateApplication({ ...loaded.data, ...change }));
  await step(`spreadReload_${label}`, () => apps.loadApplication(id));
}
await spreadUpdate('plain', appId, { description: 'changed' });
await spreadUpdate('byTemplateWithOverrides', templated, { defaultScopes: ['repo', 'read:org'] });
const shopApp = unique('shopify');
await step('createApplicationByTemplateWithValues', () =>
  apps.createApplicationByTemplate({
    templateId: 'shopify',
    id: shopApp,
    values: { shop: 'my-store' },
    overrides: { name: unique('Shop'), prompt: ['login'] },
  }),
);
await spreadUpdate('byTemplateWithValues', shopApp, { description: 'my store' });
// an app of API keys whose type was derived: the derived type is read-only, so adding a token
// URL makes it an OAuth app
await spreadUpdate('derivedApiKeyType', keyAppId, { tokenUrl: 'https://provider.example/token' });
const outboundOnly = unique('tenant-app');
await step('createApplicationWithOutboundFields', () =>
  apps.createApplication({
    id: outboundOnly,
    name: unique('Tenant app'),
    tenantId: unique('tenant'),
    appType: 'oauth',
    tokenEndpointAuthMethod: 'client_secret_post',
    refreshMargin: 600,
    discoveryUrl: 'https://provider.example/.well-known/openid-configuration',
  }),
);
await spreadUpdate('outboundFields', outboundOnly, { name: unique('Renamed') });

// A fetched token, spread into an upload (as a migration to another vault would): accepted.
const spreadUser = unique('user');
await step('uploadTokenToSpread', () =>
  apps.uploadUserToken({
    appId,
    userId: spreadUser,
    accessToken: 'spread-access',
    refreshToken: 'spread-refresh',
    accessTokenExpiry: inAnHour,
    scopes: ['calendar.read'],
  }),
);
const toSpread = await step('fetchTokenToSpread', () =>
  apps.fetchToken(appId, spreadUser, undefined, { withRefreshToken: true }),
);
await step('uploadSpreadToken', () =>
  apps.uploadUserToken({ ...toSpread.data, scopes: ['calendar.read', 'calendar.write'] }),
);
await step('fetchSpreadToken', () =>
  apps.fetchToken(appId, spreadUser, undefined, { withRefreshToken: true }),
);
const spreadTenant = unique('tenant');
await step('uploadTenantTokenToSpread', () =>
  apps.uploadTenantToken({ appId, tenantId: spreadTenant, accessToken: 'spread-tenant' }),
);
const tenantToSpread = await step('fetchTenantTokenToSpread', () =>
  apps.fetchTenantToken(appId, spreadTenant),
);
await step('uploadSpreadTenantToken', () =>
  apps.uploadTenantToken({ ...tenantToSpread.data, accessToken: 'spread-tenant-2' }),
);
await step('fetchSpreadTenantToken', () => apps.fetchTenantToken(appId, spreadTenant));

// -- deleting tokens ---------------------------------------------------------------------

const fetched = steps.fetchToken.data;
await step('deleteTokenById', () => apps.deleteTokenById(fetched?.id ?? 'missing'));
await step('fetchTokenAfterDeleteById', () => apps.fetchToken(appId, user));
await step('deleteTokenByIdAgain', () => apps.deleteTokenById(fetched?.id ?? 'missing'));
await step('listAppsWithUserTokenAfterDelete', () => apps.listAppsWithUserToken(user));

// two apps, two users: delete by (app, user), by app alone, by user alone
const secondAppId = unique('drive');
await step('createSecondApplication', () =>
  apps.createApplication({
    id: secondAppId,
    name: unique('Drive'),
    tokenUrl: 'https://provider.example/token',
  }),
);
const owner = unique('user');
const bystander = unique('user');
for (const id of [appId, secondAppId]) {
  for (const who of [owner, bystander]) {
    await apps.uploadUserToken({ appId: id, userId: who, accessToken: `tok-${who}` });
  }
}
await step('listAppsBeforeDeleteUserTokens', () => apps.listAppsWithUserToken(owner));
await step('deleteUserTokens', () => apps.deleteUserTokens(appId, owner));
await step('listAppsAfterDeleteUserTokens', () => apps.listAppsWithUserToken(owner));
await step('listBystanderAppsAfterDeleteUserTokens', () => apps.listAppsWithUserToken(bystander));
// The SDK puts both arguments in the query string, an omitted one as the text "undefined"
// (`appId=…&userId=undefined`); outbound reads that as omitted, as the SDK's signature means.
await step('deleteUserTokensOfApp', () => apps.deleteUserTokens(secondAppId));
await step('listAppsAfterDeleteUserTokensOfApp', () => apps.listAppsWithUserToken(owner));
await step('listBystanderAppsAfterDeleteUserTokensOfApp', () =>
  apps.listAppsWithUserToken(bystander),
);
await step('deleteUserTokensWithoutAppId', () => apps.deleteUserTokens(undefined, bystander));
await step('listBystanderAppsAfterDeleteUserTokensWithoutAppId', () =>
  apps.listAppsWithUserToken(bystander),
);
await step('deleteUserTokensWithoutEither', () => apps.deleteUserTokens());

// -- deleting applications ---------------------------------------------------------------

await step('deleteApplication', () => apps.deleteApplication(appId));
await step('loadDeletedApplication', () => apps.loadApplication(appId));
await step('loadAllApplicationsAfterDelete', () => apps.loadAllApplications());
await step('fetchTokenOfDeletedApplication', () => apps.fetchToken(appId, bystander));

// -- a provider that is down ------------------------------------------------------------

// The token is expired, so fetching it means refreshing at a provider that answers 503.
const downAppId = unique('down');
await step('createApplicationOfDownProvider', () =>
  apps.createApplication({
    id: downAppId,
    name: unique('Down'),
    clientId: 'client-down',
    clientSecret: secrets.clientSecret,
    tokenUrl: input.downProviderTokenUrl,
  }),
);
await step('uploadExpiredTokenOfDownProvider', () =>
  apps.uploadUserToken({
    appId: downAppId,
    userId: owner,
    accessToken: 'expired',
    refreshToken: secrets.refresh,
    accessTokenExpiry: Math.floor(Date.now() / 1000) - 60,
  }),
);
await step('fetchTokenOfDownProvider', () => apps.fetchToken(downAppId, owner));

// -- authentication ----------------------------------------------------------------------

const stranger = DescopeClient({ projectId, managementKey: secrets.wrongKey, baseUrl, logger });
await step('loadAllApplicationsWithWrongKey', () =>
  stranger.management.outboundApplication.loadAllApplications(),
);
await step('fetchTokenWithWrongKey', () =>
  stranger.management.outboundApplication.fetchToken(secondAppId, owner),
);

// Each client's license handshake runs in the background from its construction: wait for
// both answers (a second at most) so the log is complete.
const handshakes = () =>
  logged.filter(
    (entry) => entry.lines[0] === 'Response' && entry.lines.some((l) => l.endsWith('/v1/mgmt/license')),
  ).length;
for (let waited = 0; handshakes() < 2 && waited < 1000; waited += 10) {
  await new Promise((resolve) => setTimeout(resolve, 10));
}
process.stdout.write(JSON.stringify({ steps, logged }));

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}
