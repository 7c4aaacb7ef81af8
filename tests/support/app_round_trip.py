"""App configurations as hypothesis strategies, and the round trip's expected outcome.

Shared by the property tests of "what the API answers is accepted back" (docs/api.md,
"Round trips"): raw HTTP and the official Python SDK (tests/api/test_round_trip.py), the
official Node SDK (tests/compat/test_node_round_trip.py).
"""

from __future__ import annotations

import itertools
import string
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from outbound.app_fields import STEERING_FIELDS

EXAMPLES = 50
SETTINGS = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
_counter = itertools.count()


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


# -- what an app is made of ---------------------------------------------------------------

# printable text, including non-ASCII (JSON carries it; control characters are refused)
text = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=24)
ident = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=16,
)
# app and tenant ids are created in one shape (wire.NEW_ID)
new_id = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", fullmatch=True)
path = st.text(string.ascii_letters + string.digits + "-_./%?=&", max_size=16)
# What the network guard lets an app name (docs/security.md): https to a public name, or plain
# http to loopback (the test servers allow 127.0.0.0/8, as an operator with an internal
# provider would allow its network).
origin = st.sampled_from(
    ["https://provider.example", "https://login.example.com:8443", "http://127.0.0.1:9000"]
)
url = st.builds(lambda o, p: f"{o}/{p}", origin, path)
maybe_url = st.one_of(st.just(""), url)
redirect_url = st.one_of(st.just(""), url)
scope = st.text(string.ascii_letters + string.digits + ":._/-", min_size=1, max_size=12)
params = st.lists(
    st.fixed_dictionaries(
        {"key": st.text(string.ascii_letters + "_", min_size=1, max_size=8), "value": text}
    ),
    max_size=3,
)
PROMPTS = ["none", "login", "consent", "select_account"]

# Each App field with its values, in the canonical form the server answers.
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "description": text,
    "logo": st.one_of(st.just(""), url),
    "templateId": st.sampled_from(["", "github", "google"]),
    "clientId": text,
    "discoveryUrl": maybe_url,
    "authorizationUrl": maybe_url,
    "authorizationUrlParams": params,
    "tokenUrl": maybe_url,
    "tokenUrlParams": params,
    "revocationUrl": maybe_url,
    "defaultScopes": st.lists(scope, max_size=4),
    "defaultRedirectUrl": redirect_url,
    "callbackDomain": st.sampled_from(["", "auth.example.com"]),
    "pkce": st.booleans(),
    "accessType": st.sampled_from(["offline", "online"]),
    "prompt": st.lists(st.sampled_from(PROMPTS), unique=True, max_size=4),
    "appType": st.sampled_from(["oauth", "apikey"]),
    "tenantId": st.one_of(st.just(""), new_id),
    "tokenEndpointAuthMethod": st.sampled_from(
        ["", "client_secret_basic", "client_secret_post", "none"]
    ),
    "refreshMargin": st.integers(0, 86400 * 30),
    # MCP apps (docs/mcp.md): useDcr needs a way to find the authorization server, which a
    # random configuration may lack (a 400 by design); tests/e2e/test_mcp.py covers it set
    "useDcr": st.just(False),
    "dcrUrl": maybe_url,
    "resource": maybe_url,
    "apiBaseUrl": maybe_url,
    "deviceAuthorizationUrl": maybe_url,
    # docs/grants.md: a client-credentials app needs its token URL and a GitHub App its private
    # key, which a random configuration may lack (a 400 by design); tests/e2e/
    # test_client_credentials.py and test_github_app.py cover those grants
    "grantType": st.sampled_from(["authorization_code", "device_code"]),
    "githubAppId": st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)),
}
# Fields an update may be given that are not stored as sent.
READ_ONLY = {
    "hasClientSecret": st.booleans(),
    "callbackUrl": st.one_of(st.just(""), url),
    "connectionCount": st.integers(0, 9),  # a field a later version might answer
}
# how a create may be written: any field absent, null, or set
plain_create = st.fixed_dictionaries(
    {},
    optional={
        **{name: st.one_of(st.none(), values) for name, values in FIELDS.items()},
        "appType": st.sampled_from([None, "", "oauth", "apikey"]),
        "accessType": st.sampled_from([None, "", "offline", "online"]),
        "clientSecret": st.one_of(st.none(), ident),
    },
)
# (template, the per-instance values it needs)
TEMPLATES = [
    ("github", None),
    ("google", None),
    ("notion", None),
    ("shopify", {"shop": "my-store"}),
    ("okta", {"domain": "dev-123456.okta.com"}),
]
OVERRIDABLE = [name for name in FIELDS if name not in ("templateId", "tenantId", "refreshMargin")]
by_template = st.fixed_dictionaries(
    {"template": st.sampled_from(TEMPLATES)},
    optional={
        "overrides": st.fixed_dictionaries(
            {}, optional={name: FIELDS[name] for name in OVERRIDABLE}
        ),
        "clientId": ident,
        "clientSecret": ident,
        "tenantId": new_id,
    },
)
# an optional change: one field, a new client secret, or a read-only field
change = st.one_of(
    st.none(),
    st.sampled_from(sorted(FIELDS)).flatmap(lambda name: st.tuples(st.just(name), FIELDS[name])),
    st.tuples(st.just("name"), st.just("")),  # "" here means "a new unique name"
    st.tuples(st.just("clientSecret"), st.one_of(st.just(""), ident)),
    st.sampled_from(sorted(READ_ONLY)).flatmap(
        lambda name: st.tuples(st.just(name), READ_ONLY[name])
    ),
)


def derived_type(app: dict[str, Any]) -> str:
    has_oauth = (
        app["authorizationUrl"]
        or app["tokenUrl"]
        or app["discoveryUrl"]
        or app.get("resource")
        or app.get("useDcr")
    )
    return "oauth" if has_oauth else "apikey"


def expected_after(
    loaded: dict[str, Any], type_derived: bool, changed: tuple[str, Any] | None
) -> dict[str, Any]:
    """The app a load answers after ``loaded``, with ``changed`` applied, was sent back."""
    app = dict(loaded)
    if changed is not None:
        name, value = changed
        if name == "clientSecret":
            app["hasClientSecret"] = bool(value)  # "" is "no secret": a full overwrite clears it
        elif name == "appType":
            type_derived = type_derived and value == loaded["appType"]
            app["appType"] = value
        elif name not in READ_ONLY:
            app[name] = value
    if type_derived:
        app["appType"] = derived_type(app)
    return app


# -- talking to the server -----------------------------------------------------------------


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, (response.request.url, response.text)
    return response.json()


def create(client: httpx.Client, how: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Create an app as ``how`` says; returns it and whether its appType was derived."""
    if "template" in how:
        template_id, values = how["template"]
        body = {k: v for k, v in how.items() if k != "template"}
        body.update(templateId=template_id, name=unique(template_id), values=values)
        app = ok(client.post("/v1/mgmt/outbound/app/create/bytemplate", json=body))["app"]
        return app, not body.get("overrides", {}).get("appType")
    body = {**how, "name": unique("app")}
    app = ok(client.post("/v1/mgmt/outbound/app/create", json=body))["app"]
    return app, not how.get("appType")


def load(client: httpx.Client, app_id: str) -> dict[str, Any]:
    app: dict[str, Any] = ok(client.get(f"/v1/mgmt/outbound/app/{app_id}"))["app"]
    return app


# fields whose change may move where the server sends the client secret
MOVES_ENDPOINTS = set(STEERING_FIELDS)


def apply(loaded: dict[str, Any], changed: tuple[str, Any] | None) -> tuple[dict, Any]:
    """The loaded app with the change applied, as a client would send it back."""
    sent = dict(loaded)
    if changed is not None:
        name, value = changed
        if name == "name":
            value = unique("renamed")
            changed = (name, value)
        sent[name] = value
        if name in MOVES_ENDPOINTS and loaded.get("hasClientSecret"):
            # A stored client secret follows an endpoint to a new host only when it is given
            # again in the same update (docs/security.md): a client does that when told.
            sent["clientSecret"] = "client-secret-given-again"
    return sent, changed
