--
-- PostgreSQL database dump
--

\restrict cQMHgbH3F1K38n6IraUKuGdG0ZX8DhTGwi2S1iOyXPmgoDr5eOW5swEzu2vmmAW

-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: alembic_version; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.alembic_version (
    version_num character varying(32) NOT NULL
);


--
-- Name: apps; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.apps (
    project_id character varying(64) NOT NULL,
    id character varying(256) NOT NULL,
    name character varying(256) NOT NULL,
    config text NOT NULL,
    client_secret bytea,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    secret_origins text
);


--
-- Name: audit_events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_events (
    project_id character varying(64) NOT NULL,
    seq bigint NOT NULL,
    time_ms bigint NOT NULL,
    actor text NOT NULL,
    action character varying(64) NOT NULL,
    app_id character varying(256) NOT NULL,
    user_id character varying(256) NOT NULL,
    tenant_id character varying(256) NOT NULL,
    token_id character varying(64) NOT NULL,
    outcome character varying(16) NOT NULL,
    error_code character varying(64) NOT NULL,
    client character varying(128) NOT NULL,
    request_id character varying(128) NOT NULL,
    detail text NOT NULL,
    key_id character varying(16) NOT NULL,
    mac bytea NOT NULL
);


--
-- Name: audit_heads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_heads (
    project_id character varying(64) NOT NULL,
    seq bigint NOT NULL,
    mac bytea NOT NULL,
    key_id character varying(16) NOT NULL,
    tag bytea NOT NULL,
    anchor_seq bigint NOT NULL,
    anchor_mac bytea NOT NULL,
    anchor_key_id character varying(16) NOT NULL,
    anchor_tag bytea NOT NULL
);


--
-- Name: client_registrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.client_registrations (
    project_id character varying(64) NOT NULL,
    app_id character varying(256) NOT NULL,
    issuer text DEFAULT ''::text NOT NULL,
    redirect_uri text DEFAULT ''::text NOT NULL,
    client_id text,
    client_secret bytea,
    token_endpoint_auth_method character varying(32) DEFAULT ''::character varying NOT NULL,
    registration_access_token bytea,
    registration_client_uri text DEFAULT ''::text NOT NULL,
    claim_owner character varying(64),
    claim_until bigint DEFAULT '0'::bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);


--
-- Name: connect_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.connect_sessions (
    link_hash character varying(64) NOT NULL,
    state_hash character varying(64),
    project_id character varying(64) NOT NULL,
    app_id character varying(256) NOT NULL,
    user_id character varying(256) NOT NULL,
    tenant_id character varying(256) NOT NULL,
    external_identifier character varying(256) NOT NULL,
    scopes text NOT NULL,
    redirect_url text NOT NULL,
    redirect_uri text DEFAULT ''::text NOT NULL,
    code_verifier bytea,
    created_at bigint NOT NULL,
    link_expires_at bigint NOT NULL,
    opened_at bigint,
    state_expires_at bigint DEFAULT '0'::bigint NOT NULL,
    completed_at bigint,
    browser_hash character varying(64),
    granted_by character varying(256) DEFAULT ''::character varying NOT NULL
);


--
-- Name: console_sessions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.console_sessions (
    id_hash character varying(64) NOT NULL,
    kind character varying(16) NOT NULL,
    project_id character varying(64) NOT NULL,
    key_id character varying(32) DEFAULT ''::character varying NOT NULL,
    csrf character varying(64) NOT NULL,
    created_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    ended_at bigint
);


--
-- Name: management_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.management_keys (
    id character varying(32) NOT NULL,
    project_id character varying(64) NOT NULL,
    name character varying(256) DEFAULT ''::character varying NOT NULL,
    digest bytea NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint,
    fetch_only integer DEFAULT 0 NOT NULL,
    app_ids text DEFAULT ''::text NOT NULL
);


--
-- Name: projects; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.projects (
    id character varying(64) NOT NULL,
    name character varying(256) DEFAULT ''::character varying NOT NULL,
    created_at bigint NOT NULL
);


--
-- Name: session_issuers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.session_issuers (
    project_id character varying(64) NOT NULL,
    issuer text NOT NULL,
    jwks_url text NOT NULL,
    audience text DEFAULT ''::text NOT NULL,
    audience_optional integer DEFAULT 0 NOT NULL,
    tenant_role text DEFAULT ''::text NOT NULL,
    tenant_permission text DEFAULT ''::text NOT NULL,
    fetch_scope text DEFAULT 'outbound.token.fetch'::text NOT NULL,
    scope_claim text DEFAULT ''::text NOT NULL,
    subject_claim text DEFAULT 'sub'::text NOT NULL,
    tenant_claim text DEFAULT 'tenants'::text NOT NULL,
    updated_at bigint NOT NULL
);


--
-- Name: tokens; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tokens (
    id character varying(64) NOT NULL,
    project_id character varying(64) NOT NULL,
    app_id character varying(256) NOT NULL,
    user_id character varying(256) NOT NULL,
    tenant_id character varying(256) NOT NULL,
    external_identifier character varying(256) NOT NULL,
    scopes text NOT NULL,
    access_token bytea,
    refresh_token bytea,
    id_token bytea,
    access_token_type character varying(64) NOT NULL,
    access_token_expiry bigint NOT NULL,
    last_refresh_time bigint NOT NULL,
    last_refresh_error text DEFAULT ''::text NOT NULL,
    needs_reconnect integer DEFAULT 0 NOT NULL,
    token_sub character varying(256) DEFAULT ''::character varying NOT NULL,
    granted_by character varying(256) DEFAULT ''::character varying NOT NULL,
    extra text DEFAULT '{}'::text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    version integer DEFAULT 1 NOT NULL,
    refresh_claim_owner character varying(64),
    refresh_claim_until bigint DEFAULT '0'::bigint NOT NULL,
    failing_since bigint DEFAULT '0'::bigint NOT NULL,
    failure_count integer DEFAULT 0 NOT NULL,
    failing_notified integer DEFAULT 0 NOT NULL,
    next_refresh_at bigint DEFAULT '0'::bigint NOT NULL
);


--
-- Name: webhook_attempts; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_attempts (
    delivery_id character varying(64) NOT NULL,
    attempt integer NOT NULL,
    started_at double precision NOT NULL,
    duration_ms integer NOT NULL,
    status_code integer NOT NULL,
    error text DEFAULT ''::text NOT NULL
);


--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_deliveries (
    id character varying(64) NOT NULL,
    webhook_id character varying(64) NOT NULL,
    project_id character varying(64) NOT NULL,
    event_id character varying(64) NOT NULL,
    event_type character varying(64) NOT NULL,
    payload text NOT NULL,
    status character varying(16) NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at double precision NOT NULL,
    retry_from bigint NOT NULL,
    claim_owner character varying(64),
    claim_until double precision DEFAULT '0'::double precision NOT NULL,
    created_at bigint NOT NULL,
    delivered_at bigint
);


--
-- Name: webhooks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhooks (
    id character varying(64) NOT NULL,
    project_id character varying(64) NOT NULL,
    url text NOT NULL,
    events text NOT NULL,
    secret bytea NOT NULL,
    previous_secret bytea,
    previous_until bigint DEFAULT '0'::bigint NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.alembic_version (version_num) FROM stdin;
0011
\.


--
-- Data for Name: apps; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.apps (project_id, id, name, config, client_secret, created_at, updated_at, secret_origins) FROM stdin;
PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-oauth	Legacy OAuth	{"description": "written by the previous release", "logo": "", "templateId": "", "clientId": "legacy-client", "discoveryUrl": "", "authorizationUrl": "https://provider.example.com/authorize", "authorizationUrlParams": [{"key": "access_type", "value": "offline"}], "tokenUrl": "https://provider.example.com/token", "tokenUrlParams": [], "revocationUrl": "https://provider.example.com/revoke", "defaultScopes": ["read", "write"], "defaultRedirectUrl": "https://app.example.com/connected", "callbackDomain": "", "pkce": true, "accessType": "offline", "prompt": ["consent"], "tenantId": "", "tokenEndpointAuthMethod": "", "useDcr": false, "dcrUrl": "", "resource": "", "appType": "oauth", "appTypeDerived": true}	\\x0179e57ad665377b74a5769c817e61b956f8fa276b7ad1ec5a9e005756aa0c61a13561ed6d93249dff2fb2c066843baefb13ae277343bb5e1ebacd2d7ec2445c8605220399e6af	1796670808	1796670808	["https://provider.example.com:443"]
PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-keys	Legacy keys	{"description": "", "logo": "", "templateId": "", "clientId": "", "discoveryUrl": "", "authorizationUrl": "", "authorizationUrlParams": [], "tokenUrl": "", "tokenUrlParams": [], "revocationUrl": "", "defaultScopes": [], "defaultRedirectUrl": "", "callbackDomain": "", "pkce": true, "accessType": "offline", "prompt": [], "tenantId": "", "tokenEndpointAuthMethod": "", "useDcr": false, "dcrUrl": "", "resource": "", "appType": "apikey", "appTypeDerived": true}	\N	1796670808	1796670808	\N
PXQ5UerEygBmEOa4G8j9fSLHj9wL	app_Ns2POxquIV8m2RnQ	Legacy webhooks	{"description": "", "logo": "", "templateId": "", "clientId": "", "discoveryUrl": "", "authorizationUrl": "", "authorizationUrlParams": [], "tokenUrl": "", "tokenUrlParams": [], "revocationUrl": "", "defaultScopes": [], "defaultRedirectUrl": "", "callbackDomain": "", "pkce": true, "accessType": "offline", "prompt": [], "tenantId": "", "tokenEndpointAuthMethod": "", "useDcr": false, "dcrUrl": "", "resource": "", "appType": "apikey", "appTypeDerived": true}	\N	1796670809	1796670809	\N
\.


--
-- Data for Name: audit_events; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.audit_events (project_id, seq, time_ms, actor, action, app_id, user_id, tenant_id, token_id, outcome, error_code, client, request_id, detail, key_id, mac) FROM stdin;
PXQ5UerEygBmEOa4G8j9fSLHj9wL	1	1796670789266	system	key.create					ok				5ec43ea3605f	79e57ad6	\\xbedb583db7b4805e69ec2cd4ffe5e95b6d540fd10bd5435c5cd98a6be30cb730
PXQ5UerEygBmEOa4G8j9fSLHj9wL	2	1796670808414	key:5ec43ea3605f	app.create	legacy-oauth				ok		127.0.0.1	5cdb064b-2		79e57ad6	\\xe77a4325684036fb24de09e84c3f1fe5ac29542a71d545384c4e38ca382feeeb
PXQ5UerEygBmEOa4G8j9fSLHj9wL	3	1796670808498	key:5ec43ea3605f	app.create	legacy-keys				ok		127.0.0.1	5cdb064b-3		79e57ad6	\\x3d6052e9dd57968b2d22af26ea73bcc91ce44b4c842deecc54566fafbd342f6c
PXQ5UerEygBmEOa4G8j9fSLHj9wL	4	1796670808586	key:5ec43ea3605f	token.upload	legacy-oauth	user-0		tok_bPMTAev2FNadRTlnd3UvFo	ok		127.0.0.1	5cdb064b-4		79e57ad6	\\x41804bb78a5a6c7788b0ee89d67f827b4cdc1dea5322186c69f9a47fbcf61417
PXQ5UerEygBmEOa4G8j9fSLHj9wL	5	1796670808698	key:5ec43ea3605f	token.upload	legacy-oauth	user-1		tok_YJ3GVlU2DY4NvLLpTsTx6B	ok		127.0.0.1	5cdb064b-5		79e57ad6	\\x8b3451ce90c107bb7dd8897bbc165cdbe8aef02e357921512b1e03a710ba0969
PXQ5UerEygBmEOa4G8j9fSLHj9wL	6	1796670808754	key:5ec43ea3605f	token.upload	legacy-oauth	user-2		tok_t4Hj2qqaS7R6tYH28j7RtJ	ok		127.0.0.1	5cdb064b-6		79e57ad6	\\x82b90fcf58e375579763e06865695c0337b1f04ef2d5b692e3aa6ebe6b634be5
PXQ5UerEygBmEOa4G8j9fSLHj9wL	7	1796670808842	key:5ec43ea3605f	token.upload	legacy-oauth		tenant-a	tok_4q7XZmhvjydqeEbXzjAucF	ok		127.0.0.1	5cdb064b-7		79e57ad6	\\x210fa8cdd43d95b10c6ca9eac5fbb785b1f9d6aeb0c8a1f69c1436b41f8f7d69
PXQ5UerEygBmEOa4G8j9fSLHj9wL	8	1796670808888	key:5ec43ea3605f	token.upload	legacy-keys	user-0		tok_h4XDWaeGqfDByODmVkaaeB	ok		127.0.0.1	5cdb064b-8		79e57ad6	\\xdac9b3f8debd774b17f9a30acf698f77220ea6cdc622e9480a40617934770738
PXQ5UerEygBmEOa4G8j9fSLHj9wL	9	1796670809031	key:5ec43ea3605f	app.create	app_Ns2POxquIV8m2RnQ				ok		127.0.0.1	5cdb064b-12		79e57ad6	\\x3b511a46061cb8448bb81a6ce0417362f29a6a535da8ab0e2395bb476ad255ac
PXQ5UerEygBmEOa4G8j9fSLHj9wL	10	1796670809094	key:5ec43ea3605f	token.upload	app_Ns2POxquIV8m2RnQ	hooked		tok_jUiG4ymcQ59FTeq2Wq1POH	ok		127.0.0.1	5cdb064b-13		79e57ad6	\\xd25dd99938538653a4d98ee7717c5e8face54a8a0dcb22484d23a9ba2467c8c9
\.


--
-- Data for Name: audit_heads; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.audit_heads (project_id, seq, mac, key_id, tag, anchor_seq, anchor_mac, anchor_key_id, anchor_tag) FROM stdin;
PXQ5UerEygBmEOa4G8j9fSLHj9wL	10	\\xd25dd99938538653a4d98ee7717c5e8face54a8a0dcb22484d23a9ba2467c8c9	79e57ad6	\\x19b6d1c9be4cd73731c5b4921dfd1b00a5f1f93ca2c1f6645fece7f9b495d2ac	0	\\x		\\x
\.


--
-- Data for Name: client_registrations; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.client_registrations (project_id, app_id, issuer, redirect_uri, client_id, client_secret, token_endpoint_auth_method, registration_access_token, registration_client_uri, claim_owner, claim_until, created_at, updated_at) FROM stdin;
\.


--
-- Data for Name: connect_sessions; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.connect_sessions (link_hash, state_hash, project_id, app_id, user_id, tenant_id, external_identifier, scopes, redirect_url, redirect_uri, code_verifier, created_at, link_expires_at, opened_at, state_expires_at, completed_at, browser_hash, granted_by) FROM stdin;
\.


--
-- Data for Name: console_sessions; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.console_sessions (id_hash, kind, project_id, key_id, csrf, created_at, last_seen_at, expires_at, ended_at) FROM stdin;
\.


--
-- Data for Name: management_keys; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.management_keys (id, project_id, name, digest, created_at, revoked_at, fetch_only, app_ids) FROM stdin;
5ec43ea3605f	PXQ5UerEygBmEOa4G8j9fSLHj9wL	first	\\xf9fdedb2f9714bbc296c3011337e04149f63eeb0f33ce0c5b4f3bf53357b30b2	1796670789	\N	0	
\.


--
-- Data for Name: projects; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.projects (id, name, created_at) FROM stdin;
PXQ5UerEygBmEOa4G8j9fSLHj9wL		1796670789
\.


--
-- Data for Name: session_issuers; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.session_issuers (project_id, issuer, jwks_url, audience, audience_optional, tenant_role, tenant_permission, fetch_scope, scope_claim, subject_claim, tenant_claim, updated_at) FROM stdin;
\.


--
-- Data for Name: tokens; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.tokens (id, project_id, app_id, user_id, tenant_id, external_identifier, scopes, access_token, refresh_token, id_token, access_token_type, access_token_expiry, last_refresh_time, last_refresh_error, needs_reconnect, token_sub, granted_by, extra, created_at, updated_at, version, refresh_claim_owner, refresh_claim_until, failing_since, failure_count, failing_notified, next_refresh_at) FROM stdin;
tok_bPMTAev2FNadRTlnd3UvFo	PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-oauth	user-0		ext-0	["read", "write"]	\\x0179e57ad66b1efdb7de44c913cbd8b942441ba3f48521637793ca93954b30606c8fdb7ed67d80f2b2e5c95d3553493e1bf464b1098c1ba314af920b41d354fca65a	\\x0179e57ad6e5f47bfbc976ac69a2a33592c3c2d757447e46284121f635b9636035535fb9d22445d937e3c341177b3c54190d653deef52b19f1c0e80ea388ad3b4ed9d6	\\x0179e57ad6eb507b905dd48eb49dd79a31a14121a0295b624f119ee985aeb35b8cb3702b12f7d86c9e152f19df9bf568ab170d0403991ab0839088528adb	Bearer	4102444800	1796670808		0			{}	1796670808	1796670808	1	\N	0	0	0	0	0
tok_YJ3GVlU2DY4NvLLpTsTx6B	PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-oauth	user-1		ext-1	["read", "write"]	\\x0179e57ad6e8da8d645e23260774be4413e0bf2e0db9e48fded5461765a69dad620538c08c76a269464ec8092457d67f31738d80dc566fae217935705e26fe76ed0d	\\x0179e57ad6777b4075d9f2a4ea87170fb5e346c30e320da814e1a24c1dca741ac5252c81e03f4530e431a9727347b53a8d48fe1c68fb838c3130520ab45be5f139e4c2	\\x0179e57ad68703578b26cd060d97e9a97b79b5d046864994ebd7a2a8de9dd07f33d9c265d5b5b70bf70be9d6fa00d693d738ad2381fdbb314abcf8934bc1	Bearer	4102444800	1796670808		0			{}	1796670808	1796670808	1	\N	0	0	0	0	0
tok_t4Hj2qqaS7R6tYH28j7RtJ	PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-oauth	user-2		ext-2	["read", "write"]	\\x0179e57ad6ce1fd746615ecaf2983fd6ddb46ad2c5c0fc41bea8a529a27c36dc058d8cdf0ba43e7713729a06e201b1882e045186f86e7cd57ca4b6b4c28bb549ab96	\\x0179e57ad62c348a0d2549cf88f6ac140f77baa383a297b2bd237b957caa11bcf0bedaa1fce584e3bbbfecf6b0fc1e656f956fc7744f3cda707c7f122bd8d6e74ae681	\\x0179e57ad67a6da4026bccb04bf13e20f944b8e863dd8b4e11a79700a3c8d76c0c55f0a929b3094c2463d4ca7ba5db57975492b731f160a05cdd0142326f	Bearer	4102444800	1796670808		0			{}	1796670808	1796670808	1	\N	0	0	0	0	0
tok_4q7XZmhvjydqeEbXzjAucF	PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-oauth		tenant-a		["read"]	\\x0179e57ad62db92b9d6d82ad400fdce1ce7a0317febf5a470e2ba401008c5479c1b32ee38218dcb3c816b1c97eb508f23f68ff5dfa3d75323df305bd3df572fa4eb385dd5a2ef1	\\x0179e57ad69eb688323fc89129b352bab86bebbf981ce7c5444eb9e24bb0119e6ccbe8d0bb64fa152f867a6614573b28392fe128dea45c5b15b72336755bd7e69a3e4d17501df4b6	\N	Bearer	4102444800	1796670808		0			{}	1796670808	1796670808	1	\N	0	0	0	0	0
tok_h4XDWaeGqfDByODmVkaaeB	PXQ5UerEygBmEOa4G8j9fSLHj9wL	legacy-keys	user-0			[]	\\x0179e57ad646204782d23342a6d0d5af5cf5a6c6b6c663bf97bb8d608a0901f4bdc315467b85c8d93faa98f3a6b60694dab73eda9cea150b30aedba89ebb59f9	\N	\N	apikey	0	1796670808		0			{}	1796670808	1796670808	1	\N	0	0	0	0	0
tok_jUiG4ymcQ59FTeq2Wq1POH	PXQ5UerEygBmEOa4G8j9fSLHj9wL	app_Ns2POxquIV8m2RnQ	hooked			[]	\\x0179e57ad639fd56b38b8807d5a73daff05dd455e47acd67629436af75f4793b8efdfde27b77a2717b864d0d75bd08119ad325	\N	\N	apikey	0	1796670809		0			{}	1796670809	1796670809	1	\N	0	0	0	0	0
\.


--
-- Data for Name: webhook_attempts; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, error) FROM stdin;
whd_h15yaLXfLxoP3LS18KIRTw	1	1796670809.2356257	159	204	
whd_vE8fMWQngXAnohbY8saB7w	1	1796670809.2423477	153	0	connection refused
\.


--
-- Data for Name: webhook_deliveries; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.webhook_deliveries (id, webhook_id, project_id, event_id, event_type, payload, status, attempts, next_attempt_at, retry_from, claim_owner, claim_until, created_at, delivered_at) FROM stdin;
whd_h15yaLXfLxoP3LS18KIRTw	wh_g3tNm37UkGVOJ5DP	PXQ5UerEygBmEOa4G8j9fSLHj9wL	msg_5_5mKK3_U_uWpO7rCP9zCw	connection.created	{"type":"connection.created","timestamp":"2026-12-07T19:13:29.091247Z","data":{"connectionId":"tok_jUiG4ymcQ59FTeq2Wq1POH","appId":"app_Ns2POxquIV8m2RnQ","userId":"hooked","tenantId":"","status":"active","scopes":[],"error":""}}	delivered	1	1796670809.0912473	1796670809	\N	0	1796670809	1796670809
whd_vE8fMWQngXAnohbY8saB7w	wh_s7CaConpWYAKQ-y9	PXQ5UerEygBmEOa4G8j9fSLHj9wL	msg_5_5mKK3_U_uWpO7rCP9zCw	connection.created	{"type":"connection.created","timestamp":"2026-12-07T19:13:29.091247Z","data":{"connectionId":"tok_jUiG4ymcQ59FTeq2Wq1POH","appId":"app_Ns2POxquIV8m2RnQ","userId":"hooked","tenantId":"","status":"active","scopes":[],"error":""}}	pending	1	1796670814.0912967	1796670809	\N	0	1796670809	\N
\.


--
-- Data for Name: webhooks; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.webhooks (id, project_id, url, events, secret, previous_secret, previous_until, created_at, updated_at) FROM stdin;
wh_g3tNm37UkGVOJ5DP	PXQ5UerEygBmEOa4G8j9fSLHj9wL	http://127.0.0.1:38507/hooks	["connection.created","connection.updated","connection.refresh_failing","connection.recovered","connection.reconnect_required","connection.deleted"]	\\x0179e57ad608def081510725e958ca7bffe33960ab5eb8d0ec8551db6feb7eb38c85878f7e71a325ebf759020db2095dc9923aae6a7cb1b539a41a8f48691e083d3fa75e559fca62a7d88295bfa83db25e4852	\N	0	1796670808	1796670808
wh_s7CaConpWYAKQ-y9	PXQ5UerEygBmEOa4G8j9fSLHj9wL	http://127.0.0.1:9/hooks	["connection.created"]	\\x0179e57ad68004472440596d1419cfe1c3553e2101487e60b9989526a9478bc7779a36a90f988a895504b0ff0c03d785a1ce1ea8d47b7130c7345c6f73b3a36c9e2e11d27f4974c385897f48de6609590b7594	\N	0	1796670808	1796670808
\.


--
-- Name: alembic_version alembic_version_pkc; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.alembic_version
    ADD CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num);


--
-- Name: apps apps_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.apps
    ADD CONSTRAINT apps_pkey PRIMARY KEY (project_id, id);


--
-- Name: audit_events audit_events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_pkey PRIMARY KEY (project_id, seq);


--
-- Name: audit_heads audit_heads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_heads
    ADD CONSTRAINT audit_heads_pkey PRIMARY KEY (project_id);


--
-- Name: client_registrations client_registrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_registrations
    ADD CONSTRAINT client_registrations_pkey PRIMARY KEY (project_id, app_id);


--
-- Name: connect_sessions connect_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.connect_sessions
    ADD CONSTRAINT connect_sessions_pkey PRIMARY KEY (link_hash);


--
-- Name: console_sessions console_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.console_sessions
    ADD CONSTRAINT console_sessions_pkey PRIMARY KEY (id_hash);


--
-- Name: management_keys management_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.management_keys
    ADD CONSTRAINT management_keys_pkey PRIMARY KEY (id);


--
-- Name: projects projects_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.projects
    ADD CONSTRAINT projects_pkey PRIMARY KEY (id);


--
-- Name: session_issuers session_issuers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session_issuers
    ADD CONSTRAINT session_issuers_pkey PRIMARY KEY (project_id, issuer);


--
-- Name: tokens tokens_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_pkey PRIMARY KEY (id);


--
-- Name: apps uq_apps_project_name; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.apps
    ADD CONSTRAINT uq_apps_project_name UNIQUE (project_id, name);


--
-- Name: tokens uq_tokens_owner; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT uq_tokens_owner UNIQUE (project_id, app_id, user_id, tenant_id, external_identifier);


--
-- Name: webhook_attempts webhook_attempts_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_id, attempt);


--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);


--
-- Name: webhooks webhooks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhooks
    ADD CONSTRAINT webhooks_pkey PRIMARY KEY (id);


--
-- Name: ix_audit_events_time; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_audit_events_time ON public.audit_events USING btree (project_id, time_ms);


--
-- Name: ix_connect_sessions_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_connect_sessions_expiry ON public.connect_sessions USING btree (link_expires_at);


--
-- Name: ix_connect_sessions_owner; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_connect_sessions_owner ON public.connect_sessions USING btree (project_id, user_id, tenant_id);


--
-- Name: ix_connect_sessions_state; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_connect_sessions_state ON public.connect_sessions USING btree (state_hash);


--
-- Name: ix_console_sessions_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_console_sessions_expiry ON public.console_sessions USING btree (expires_at);


--
-- Name: ix_management_keys_project; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_management_keys_project ON public.management_keys USING btree (project_id);


--
-- Name: ix_tokens_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_expiry ON public.tokens USING btree (access_token_expiry);


--
-- Name: ix_tokens_needs_reconnect; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_needs_reconnect ON public.tokens USING btree (needs_reconnect);


--
-- Name: ix_tokens_project_app_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_app_created ON public.tokens USING btree (project_id, app_id, created_at, id);


--
-- Name: ix_tokens_project_app_status; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_app_status ON public.tokens USING btree (project_id, app_id, needs_reconnect, failing_since, created_at, id);


--
-- Name: ix_tokens_project_created; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_created ON public.tokens USING btree (project_id, created_at, id);


--
-- Name: ix_tokens_project_failing; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_failing ON public.tokens USING btree (project_id, created_at, id) WHERE (failing_since > 0);


--
-- Name: ix_tokens_project_reconnect; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_reconnect ON public.tokens USING btree (project_id, created_at, id) WHERE (needs_reconnect = 1);


--
-- Name: ix_tokens_project_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_tenant ON public.tokens USING btree (project_id, tenant_id);


--
-- Name: ix_tokens_project_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_user ON public.tokens USING btree (project_id, user_id);


--
-- Name: ix_webhook_deliveries_due; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_webhook_deliveries_due ON public.webhook_deliveries USING btree (status, next_attempt_at);


--
-- Name: ix_webhook_deliveries_webhook; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_webhook_deliveries_webhook ON public.webhook_deliveries USING btree (webhook_id, created_at, id);


--
-- Name: ix_webhooks_project; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_webhooks_project ON public.webhooks USING btree (project_id);


--
-- Name: apps apps_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.apps
    ADD CONSTRAINT apps_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: audit_events audit_events_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_events
    ADD CONSTRAINT audit_events_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: audit_heads audit_heads_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_heads
    ADD CONSTRAINT audit_heads_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: client_registrations client_registrations_project_id_app_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.client_registrations
    ADD CONSTRAINT client_registrations_project_id_app_id_fkey FOREIGN KEY (project_id, app_id) REFERENCES public.apps(project_id, id) ON DELETE CASCADE;


--
-- Name: connect_sessions connect_sessions_project_id_app_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.connect_sessions
    ADD CONSTRAINT connect_sessions_project_id_app_id_fkey FOREIGN KEY (project_id, app_id) REFERENCES public.apps(project_id, id) ON DELETE CASCADE;


--
-- Name: console_sessions console_sessions_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.console_sessions
    ADD CONSTRAINT console_sessions_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: management_keys management_keys_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.management_keys
    ADD CONSTRAINT management_keys_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: session_issuers session_issuers_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.session_issuers
    ADD CONSTRAINT session_issuers_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: tokens tokens_project_id_app_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_project_id_app_id_fkey FOREIGN KEY (project_id, app_id) REFERENCES public.apps(project_id, id) ON DELETE CASCADE;


--
-- Name: webhook_attempts webhook_attempts_delivery_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_attempts
    ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES public.webhook_deliveries(id) ON DELETE CASCADE;


--
-- Name: webhook_deliveries webhook_deliveries_webhook_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_webhook_id_fkey FOREIGN KEY (webhook_id) REFERENCES public.webhooks(id) ON DELETE CASCADE;


--
-- Name: webhooks webhooks_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhooks
    ADD CONSTRAINT webhooks_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict cQMHgbH3F1K38n6IraUKuGdG0ZX8DhTGwi2S1iOyXPmgoDr5eOW5swEzu2vmmAW

