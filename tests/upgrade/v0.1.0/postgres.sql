--
-- PostgreSQL database dump
--

\restrict LGlJ6V08UdwyYTx38kz07bUKpzp2z9v6QwIBraVmAy0rj2l01pilStQfSSx61Cq

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
    completed_at bigint
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
    revoked_at bigint
);


--
-- Name: project_session_issuers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.project_session_issuers (
    project_id character varying(64) NOT NULL,
    issuer text NOT NULL,
    jwks_url text NOT NULL,
    audience text DEFAULT ''::text NOT NULL,
    updated_at bigint NOT NULL
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
    refresh_claim_until bigint DEFAULT '0'::bigint NOT NULL
);


--
-- Data for Name: alembic_version; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.alembic_version (version_num) FROM stdin;
0004
\.


--
-- Data for Name: apps; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.apps (project_id, id, name, config, client_secret, created_at, updated_at) FROM stdin;
PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-oauth	Legacy OAuth	{"description": "written by the previous release", "logo": "", "templateId": "", "clientId": "legacy-client", "discoveryUrl": "", "authorizationUrl": "https://provider.example.com/authorize", "authorizationUrlParams": [{"key": "access_type", "value": "offline"}], "tokenUrl": "https://provider.example.com/token", "tokenUrlParams": [], "revocationUrl": "https://provider.example.com/revoke", "defaultScopes": ["read", "write"], "defaultRedirectUrl": "https://app.example.com/connected", "callbackDomain": "", "pkce": true, "accessType": "offline", "prompt": ["consent"], "tenantId": "", "tokenEndpointAuthMethod": "", "appType": "oauth"}	\\x01350620c3b0e5a729f34f496f65de5e31f70ca2ce0b7b44f5dccfa7418dec413cb9521c048f9a10204f38539e39a9c27c4d3c3c0c20fbb8d50420c8398c7b695ced8db049c7ad	1796183199	1796183199
PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-keys	Legacy keys	{"description": "", "logo": "", "templateId": "", "clientId": "", "discoveryUrl": "", "authorizationUrl": "", "authorizationUrlParams": [], "tokenUrl": "", "tokenUrlParams": [], "revocationUrl": "", "defaultScopes": [], "defaultRedirectUrl": "", "callbackDomain": "", "pkce": true, "accessType": "offline", "prompt": [], "tenantId": "", "tokenEndpointAuthMethod": "", "appType": "apikey"}	\N	1796183199	1796183199
\.


--
-- Data for Name: connect_sessions; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.connect_sessions (link_hash, state_hash, project_id, app_id, user_id, tenant_id, external_identifier, scopes, redirect_url, redirect_uri, code_verifier, created_at, link_expires_at, opened_at, state_expires_at, completed_at) FROM stdin;
\.


--
-- Data for Name: management_keys; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.management_keys (id, project_id, name, digest, created_at, revoked_at) FROM stdin;
58211ce86de9	PyIvBW2cLQxrEmAdEmNGzeAYMuqB	first	\\x0cfd935566cc724e051216f5990d9b081b1df13d4b66ec3f2915459a98a4316d	1796183186	\N
\.


--
-- Data for Name: project_session_issuers; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.project_session_issuers (project_id, issuer, jwks_url, audience, updated_at) FROM stdin;
\.


--
-- Data for Name: projects; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.projects (id, name, created_at) FROM stdin;
PyIvBW2cLQxrEmAdEmNGzeAYMuqB		1796183186
\.


--
-- Data for Name: tokens; Type: TABLE DATA; Schema: public; Owner: -
--

COPY public.tokens (id, project_id, app_id, user_id, tenant_id, external_identifier, scopes, access_token, refresh_token, id_token, access_token_type, access_token_expiry, last_refresh_time, last_refresh_error, needs_reconnect, token_sub, granted_by, extra, created_at, updated_at, version, refresh_claim_owner, refresh_claim_until) FROM stdin;
tok_QrwJXu6xq94GKxm0nlm4di	PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-oauth	user-0		ext-0	["read", "write"]	\\x01350620c322d20525eefa8bb9724135599ebbe8c43c277e62390deaf31062cec92500e6da81e32c99033558db8f609ea3cadc42a556e0d937f91638be08d4fc3020	\\x01350620c3a6c3d0acb8d184750b36b0e8540d75741d6144f93d585a3fce9dc3cc5564d539b8b330eb306b51a20060242d6aee34e9f5140fafb6172d251e883b58d24e	\\x01350620c31261bb7c959bea63202065819403bca5976d39999f4b562f68284215e4a725e0c1889c39fabce377c9f10b231630cc0e7b563ecfd1bc3e00b6	Bearer	4102444800	1796183200		0			{}	1796183200	1796183200	1	\N	0
tok_FXETbSZ1xkX5bgcvCzERC8	PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-oauth	user-1		ext-1	["read", "write"]	\\x01350620c36f6e54242493ac8206ed6917318446745777a67ccbcf8091ce1bef417e298bd2925b5a1bd3741309ddbbefcc83c928adac169bf8f25c257d0380a8f9c5	\\x01350620c32936b408ffb702e44cb312d180c09918493aac9300bccc8804d6442dc7cefcbea4b8578f4fb7e23cff0a507cc2568e1f0cf4c52a8458969d9e4a421f35f2	\\x01350620c3696ee9fb827d50e15d97e1d962e05d89ac406ace8ed571fb2a30042c83d19f0944dc06da2a3b8ec3cd3601b8fe7b671db0d7ec30498492f442	Bearer	4102444800	1796183200		0			{}	1796183200	1796183200	1	\N	0
tok_SJ4HdRDPNK8lhkTjmBrioj	PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-oauth	user-2		ext-2	["read", "write"]	\\x01350620c39cfa1a11dba89b60bf300129af5978b14763d7c5ffc1177dcaa049796eff7c4086316e6604d939b3b5396ab192ca22de6076d255119318359b5debbbe7	\\x01350620c38aedb84eb8167eb6181b5830198546a2f4f8e41c103e3ee02996ccb885f2f92c963f16a21b8beca37197911a7160e0eebb3fd54e45c6aad073f9e4aa9f5c	\\x01350620c36d25f82cb2c466402b9337408f0147125e65eb9eef6f982043a64663078d8d2e809374977c325a6d735e5cd5e7f5dfbbfda5d728ace0f54cb9	Bearer	4102444800	1796183200		0			{}	1796183200	1796183200	1	\N	0
tok_bBJvLTBdHDdnwFokgDURft	PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-oauth		tenant-a		["read"]	\\x01350620c3f0843b1873cca33db6d52ae370630b5f86020aec43835dd4e38ed8e8e3a9a7810c3d46884eda8e51a1030624df0813330ae08c2d2b90ba4804c6b24f46e49313fca0	\\x01350620c36c94df9167fa5777a208ea6a02d49df1930f118f6ba8d4ccf2614564ed54dc7abefb7f17d08786e89e7c9ff7020d1237f87a6de285d33294e5b716b2b1b7d13d00a1cf	\N	Bearer	4102444800	1796183200		0			{}	1796183200	1796183200	1	\N	0
tok_X5VG4HP5LRoHdd0iXMjH9r	PyIvBW2cLQxrEmAdEmNGzeAYMuqB	legacy-keys	user-0			[]	\\x01350620c31bd95da6e5fe009dbe205c730e2dfe43ebe6023a298a8c6551300f0b8ee5f6df598e11eecab366e69045326d0f9021871e0b65cf12fb70a872d232	\N	\N	apikey	0	1796183200		0			{}	1796183200	1796183200	1	\N	0
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
-- Name: connect_sessions connect_sessions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.connect_sessions
    ADD CONSTRAINT connect_sessions_pkey PRIMARY KEY (link_hash);


--
-- Name: management_keys management_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.management_keys
    ADD CONSTRAINT management_keys_pkey PRIMARY KEY (id);


--
-- Name: project_session_issuers project_session_issuers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.project_session_issuers
    ADD CONSTRAINT project_session_issuers_pkey PRIMARY KEY (project_id);


--
-- Name: projects projects_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.projects
    ADD CONSTRAINT projects_pkey PRIMARY KEY (id);


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
-- Name: ix_connect_sessions_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_connect_sessions_expiry ON public.connect_sessions USING btree (link_expires_at);


--
-- Name: ix_connect_sessions_state; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX ix_connect_sessions_state ON public.connect_sessions USING btree (state_hash);


--
-- Name: ix_management_keys_project; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_management_keys_project ON public.management_keys USING btree (project_id);


--
-- Name: ix_tokens_expiry; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_expiry ON public.tokens USING btree (access_token_expiry);


--
-- Name: ix_tokens_project_tenant; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_tenant ON public.tokens USING btree (project_id, tenant_id);


--
-- Name: ix_tokens_project_user; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ix_tokens_project_user ON public.tokens USING btree (project_id, user_id);


--
-- Name: apps apps_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.apps
    ADD CONSTRAINT apps_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: connect_sessions connect_sessions_project_id_app_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.connect_sessions
    ADD CONSTRAINT connect_sessions_project_id_app_id_fkey FOREIGN KEY (project_id, app_id) REFERENCES public.apps(project_id, id) ON DELETE CASCADE;


--
-- Name: management_keys management_keys_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.management_keys
    ADD CONSTRAINT management_keys_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: project_session_issuers project_session_issuers_project_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.project_session_issuers
    ADD CONSTRAINT project_session_issuers_project_id_fkey FOREIGN KEY (project_id) REFERENCES public.projects(id) ON DELETE CASCADE;


--
-- Name: tokens tokens_project_id_app_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tokens
    ADD CONSTRAINT tokens_project_id_app_id_fkey FOREIGN KEY (project_id, app_id) REFERENCES public.apps(project_id, id) ON DELETE CASCADE;


--
-- PostgreSQL database dump complete
--

\unrestrict LGlJ6V08UdwyYTx38kz07bUKpzp2z9v6QwIBraVmAy0rj2l01pilStQfSSx61Cq

