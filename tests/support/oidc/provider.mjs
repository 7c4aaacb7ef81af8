// A real OpenID Connect / OAuth 2.0 authorization server (npm oidc-provider) for outbound's
// tests, on loopback, with admin endpoints under /__admin that let a test count grants,
// revoke consent, break the token endpoint for a while and change token lifetimes.
//
//   node provider.mjs --port 9123
//   env OIDC_PORT          port (or --port), on 127.0.0.1
//       OIDC_CLIENTS       JSON list of client metadata ({client_id, client_secret,
//                          redirect_uris, token_endpoint_auth_method?})
//       OIDC_ACCESS_TTL    access-token lifetime in seconds (default 3600)
//       OIDC_REGISTRATION  "1": open Dynamic Client Registration (RFC 7591) at /reg, with
//                          RFC 7592 management (registration access tokens); default off
//       OIDC_RESOURCES     JSON list of resource servers ({resource, scope}) for RFC 8707
//                          resource indicators: their access tokens are RS256 JWTs whose
//                          aud is the resource; default: the feature stays off
//       OIDC_REFRESH_REUSE_GRACE  seconds during which a rotated (used) refresh token is
//                          accepted again, as Connect2id, Cognito or WSO2 allow (default 0:
//                          any reuse revokes the grant, as oidc-provider does)
//
// Prints "ready <issuer>" on stdout once listening.

import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

import Provider, { errors } from 'oidc-provider';

const { values: args } = parseArgs({
  options: { port: { type: 'string' } },
});
const port = Number(args.port ?? process.env.OIDC_PORT ?? 0);
if (!port) {
  console.error('give a port: --port N or OIDC_PORT');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// -- storage: one Map, so the admin endpoints can find a user's grants ------------------

const store = new Map(); // `${model}:${id}` -> { payload, expiresAt }

class MapAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = expiresIn ? Date.now() + expiresIn * 1000 : Infinity;
    store.set(this.key(id), { payload, expiresAt });
  }

  async find(id) {
    const entry = store.get(this.key(id));
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      store.delete(this.key(id));
      return undefined;
    }
    const { consumed } = entry.payload;
    if (this.model === 'RefreshToken' && consumed && state.refreshReuseGrace > 0
        && Date.now() / 1000 - consumed <= state.refreshReuseGrace) {
      // Inside the reuse grace a used refresh token counts as unused: oidc-provider rotates
      // it again instead of revoking the grant.
      const { consumed: _, ...payload } = entry.payload;
      return payload;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [key, { payload }] of store) {
      if (key.startsWith(`${this.model}:`) && payload.uid === uid) return payload;
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [key, { payload }] of store) {
      if (key.startsWith(`${this.model}:`) && payload.userCode === userCode) return payload;
    }
    return undefined;
  }

  async consume(id) {
    const entry = store.get(this.key(id));
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    store.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const [key, { payload }] of store) {
      if (payload.grantId === grantId) store.delete(key);
    }
  }
}

// -- what tests can change at runtime ------------------------------------------------------

const state = {
  accessTokenTtl: Number(process.env.OIDC_ACCESS_TTL ?? 3600),
  fault: null, // { mode: 'hang' | 'delay' | 'status' | 'oversize', status, retryAfter, body?, until }
  refreshReuseGrace: Number(process.env.OIDC_REFRESH_REUSE_GRACE ?? 0),
  // false: code exchanges answer without a refresh token (as providers do on a second consent)
  issueRefreshTokens: true,
  tokenRequests: 0,
  // Set-Cookie on every answer while set (POST /__admin/cookie); Cookie headers received.
  cookie: null,
  cookiesSeen: [],
  grants: { success: {}, error: {} },
  refreshes: {}, // sub -> [epoch ms of each successful refresh_token grant]
  registrations: 0,
};
const hung = new Set();

function activeFault() {
  if (state.fault && state.fault.until <= Date.now()) state.fault = null;
  return state.fault;
}

function releaseHung() {
  for (const release of hung) release();
  hung.clear();
}

// -- the provider ------------------------------------------------------------------------

// Every client may also use the device authorization grant (RFC 8628; features.deviceFlow).
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
const clients = JSON.parse(process.env.OIDC_CLIENTS ?? '[]').map((client) => ({
  grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
  response_types: ['code'],
  ...client,
}));

// RFC 8707: resource servers this provider issues audience-bound JWT access tokens for.
const resources = JSON.parse(process.env.OIDC_RESOURCES ?? '[]');
const resourceScopes = resources.flatMap((r) => (r.scope ?? '').split(' ').filter(Boolean));
const registration = process.env.OIDC_REGISTRATION === '1';
const optionalFeatures = {};
if (registration) {
  optionalFeatures.registration = {
    enabled: true,
    initialAccessToken: false,
    issueRegistrationAccessToken: true,
  };
  optionalFeatures.registrationManagement = { enabled: true, rotateRegistrationAccessToken: false };
}
if (resources.length) {
  optionalFeatures.resourceIndicators = {
    enabled: true,
    // A refresh or code exchange without `resource` keeps the one granted.
    useGrantedResource: () => true,
    defaultResource: () => undefined,
    getResourceServerInfo: (ctx, indicator) => {
      const server = resources.find((r) => r.resource === indicator);
      if (!server) throw new errors.InvalidTarget();
      return {
        scope: server.scope ?? '',
        audience: server.resource,
        accessTokenTTL: state.accessTokenTtl,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'RS256' } },
      };
    },
  };
}

const provider = new Provider(issuer, {
  adapter: MapAdapter,
  clients,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub, email: `${sub}@example.test`, email_verified: true }),
  }),
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  scopes: ['openid', 'offline_access', 'email', 'profile', 'read', 'write', 'admin',
    ...resourceScopes],
  features: {
    devInteractions: { enabled: true },
    // RFC 8628: /device/auth, the user-code page at /device, the device_code grant
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    // RFC 6749 §4.4 for clients registered with grant_types ['client_credentials']
    clientCredentials: { enabled: true },
    ...optionalFeatures,
  },
  // Every client allowed the refresh_token grant gets one, without the offline_access and
  // prompt=consent ceremony: the vault's connect flow asks for offline access by design.
  issueRefreshToken: async (ctx, client) =>
    state.issueRefreshTokens && client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: () => state.accessTokenTtl,
    AuthorizationCode: 60,
    ClientCredentials: () => state.accessTokenTtl,
    DeviceCode: 600,
    Grant: 14 * 24 * 60 * 60,
    IdToken: 3600,
    Interaction: 600,
    RefreshToken: 14 * 24 * 60 * 60,
    Session: 24 * 60 * 60,
  },
});

provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params?.grant_type ?? 'unknown';
  state.grants.success[type] = (state.grants.success[type] ?? 0) + 1;
  if (type === 'refresh_token') {
    const sub = ctx.oidc.entities?.Account?.accountId
      ?? ctx.oidc.entities?.RefreshToken?.accountId ?? 'unknown';
    (state.refreshes[sub] ??= []).push(Date.now());
  }
});
provider.on('registration_create.success', () => {
  state.registrations += 1;
});
provider.on('grant.error', (ctx) => {
  const type = ctx.oidc.params?.grant_type ?? 'unknown';
  state.grants.error[type] = (state.grants.error[type] ?? 0) + 1;
});

// -- admin endpoints and fault injection, in front of the provider's routes ---------------

async function readJson(ctx) {
  const chunks = [];
  for await (const chunk of ctx.req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString() || '{}';
  return JSON.parse(text);
}

async function tokenActive(value) {
  for (const model of [provider.AccessToken, provider.RefreshToken]) {
    const token = await model.find(value);
    if (token && !token.isExpired && !token.consumed) {
      const grant = await provider.Grant.find(token.grantId);
      if (grant) return { active: true, kind: model.name, sub: token.accountId };
    }
  }
  return { active: false };
}

async function revokeAccount(accountId) {
  const grantIds = [];
  for (const [key, { payload }] of store) {
    if (key.startsWith('Grant:') && payload.accountId === accountId) grantIds.push(payload.jti);
  }
  const adapter = new MapAdapter('Grant');
  for (const grantId of grantIds) {
    await adapter.revokeByGrantId(grantId);
    await adapter.destroy(grantId);
  }
  // Sessions remember grants too: forget them so the next login asks for consent again.
  for (const [key, { payload }] of store) {
    if (key.startsWith('Session:') && payload.accountId === accountId) store.delete(key);
  }
  return grantIds.length;
}

const admin = {
  'GET /__admin/grants': async () => ({
    tokenRequests: state.tokenRequests, ...state.grants,
  }),
  'GET /__admin/refreshes': async () => state.refreshes,
  // Clients registered through /reg since the start (dynamic registration).
  'GET /__admin/registrations': async () => ({ count: state.registrations }),
  // Forget a client, as a server that expired a dynamic registration would.
  'POST /__admin/client-exists': async (body) => ({
    exists: Boolean(await new MapAdapter('Client').find(body.client_id)),
  }),
  // What a registered client got (tests check the vault keeps it sealed).
  'POST /__admin/client-secret': async (body) => ({
    secret: (await new MapAdapter('Client').find(body.client_id))?.client_secret ?? null,
  }),
  'POST /__admin/forget-client': async (body) => {
    await new MapAdapter('Client').destroy(body.client_id);
    return {};
  },
  'POST /__admin/reset': async () => {
    state.fault = null;
    state.refreshReuseGrace = Number(process.env.OIDC_REFRESH_REUSE_GRACE ?? 0);
    state.issueRefreshTokens = true;
    state.tokenRequests = 0;
    state.grants = { success: {}, error: {} };
    state.refreshes = {};
    state.cookie = null;
    state.cookiesSeen = [];
    releaseHung();
    return {};
  },
  'POST /__admin/fault': async (body) => {
    const seconds = Number(body.seconds ?? 3600);
    state.fault = {
      mode: body.mode,
      status: Number(body.status ?? 503),
      retryAfter: body.retryAfter,
      bytes: Number(body.bytes ?? 2 * 1024 * 1024),
      body: body.body, // for 'status': this body instead of the HTML page
      contentType: body.contentType,
      until: Date.now() + seconds * 1000,
    };
    if (!['hang', 'delay', 'status', 'oversize'].includes(body.mode)) {
      state.fault = null;
      releaseHung();
    }
    return { fault: state.fault };
  },
  'POST /__admin/cookie': async (body) => {
    state.cookie = body.cookie ?? null;
    return { cookie: state.cookie };
  },
  'GET /__admin/cookies': async () => ({ seen: state.cookiesSeen }),
  'POST /__admin/issue-refresh-tokens-on-exchange': async (body) => {
    state.issueRefreshTokens = Boolean(body.issue);
    return { issue: state.issueRefreshTokens };
  },
  'POST /__admin/refresh-reuse-grace': async (body) => {
    state.refreshReuseGrace = Number(body.seconds);
    return { seconds: state.refreshReuseGrace };
  },
  'POST /__admin/ttl': async (body) => {
    state.accessTokenTtl = Number(body.accessToken);
    return { accessToken: state.accessTokenTtl };
  },
  // Grants as if each user had consented earlier (for tests that need hundreds of users, where
  // the browser flow per user would take minutes): one refresh token per sub, for the client.
  'POST /__admin/issue-refresh-tokens': async (body) => {
    const client = await provider.Client.find(body.client_id);
    const refreshTokens = {};
    for (const sub of body.subs) {
      const grant = new provider.Grant({ accountId: sub, clientId: client.clientId });
      grant.addOIDCScope(body.scope);
      const grantId = await grant.save();
      const token = new provider.RefreshToken({
        accountId: sub,
        authTime: Math.floor(Date.now() / 1000),
        client,
        grantId,
        gty: 'authorization_code',
        scope: body.scope,
      });
      refreshTokens[sub] = await token.save();
    }
    return { refreshTokens };
  },
  'POST /__admin/revoke-account': async (body) => ({ revoked: await revokeAccount(body.sub) }),
  'POST /__admin/active': async (body) => tokenActive(body.token),
  'POST /__admin/clients': async (body) => {
    const metadata = {
      grant_types: ['authorization_code', 'refresh_token', DEVICE_GRANT],
      response_types: ['code'],
      ...body,
    };
    await new MapAdapter('Client').upsert(metadata.client_id, metadata);
    return { client_id: metadata.client_id };
  },
};

provider.use(async (ctx, next) => {
  const handler = admin[`${ctx.method} ${ctx.path}`];
  if (handler) {
    ctx.type = 'json';
    ctx.body = JSON.stringify(await handler(ctx.method === 'POST' ? await readJson(ctx) : {}));
    return;
  }
  const cookieHeader = ctx.get('cookie');
  if (cookieHeader) {
    state.cookiesSeen.push({
      path: ctx.path,
      userAgent: ctx.get('user-agent'),
      authorization: ctx.get('authorization'),
      cookie: cookieHeader,
    });
  }
  if (state.cookie) ctx.append('Set-Cookie', `${state.cookie}; Path=/; HttpOnly`);
  if (ctx.method === 'POST' && ctx.path === '/token') {
    state.tokenRequests += 1;
    const fault = activeFault();
    if (fault?.mode === 'delay') {
      // Received (the whole body read, as a server that then stalls would have), held until
      // the fault ends, then answered as usual — even if the client has gone meanwhile.
      const chunks = [];
      for await (const chunk of ctx.req) chunks.push(chunk);
      ctx.req.body = Buffer.concat(chunks).toString();
      await new Promise((resolve) => {
        hung.add(resolve);
        setTimeout(resolve, Math.max(0, fault.until - Date.now()));
      });
      await next();
      return;
    }
    if (fault?.mode === 'hang') {
      await new Promise((resolve) => {
        hung.add(resolve);
        setTimeout(resolve, Math.max(0, fault.until - Date.now()));
      });
      ctx.status = 503;
      ctx.body = '';
      return;
    }
    if (fault?.mode === 'status') {
      ctx.status = fault.status;
      if (fault.retryAfter !== undefined) ctx.set('Retry-After', String(fault.retryAfter));
      ctx.type = fault.contentType ?? 'text/html';
      ctx.body = fault.body ?? `<html><body>HTTP ${fault.status} from the test provider</body></html>`;
      return;
    }
    if (fault?.mode === 'oversize') {
      ctx.type = 'json';
      ctx.body = JSON.stringify({ access_token: 'x', padding: 'x'.repeat(fault.bytes) });
      return;
    }
  }
  await next();
});

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`ready ${issuer}`);
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    releaseHung();
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
