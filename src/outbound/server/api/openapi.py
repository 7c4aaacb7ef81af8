"""The OpenAPI 3.1 document of the whole API, built from the endpoint table (``endpoints.py``)
and the structs the server decodes requests with (``wire.py``) and answers with
(``answers.py``) — so it describes what the server checks, not what someone wrote down.

Served at ``GET /openapi.json`` without credentials: it is the same for every deployment of a
version and names no project, app or user (docs/api.md, "OpenAPI"). ``docs/openapi.json`` and
``docs/openapi.md`` are generated from it (scripts/openapi_docs.py; a test pins them).
"""

from __future__ import annotations

import functools
from typing import Any

import msgspec
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..._version import __version__
from ..http import answers
from ..http.errors import ERROR_CODES
from ..http.wire import Id
from .endpoints import ENDPOINTS, Endpoint

__all__ = ["ALWAYS", "LINKS", "document", "errors_of", "routes"]

REF = "#/components/schemas/{name}"
# Every request can be answered these: a Host this server does not serve, too many headers,
# an internal error (logged without secrets).
ALWAYS = ("E130421", "E130431", "E130500")
# ... and every request with credentials these.
AUTHED = ("E130401", "E130403", "E130429")
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "key": [{"managementKey": []}],
    "fetch": [{"managementKey": []}],
    "session": [{"sessionToken": []}],
    "none": [],
}

# Stateful paths through the API (OpenAPI links): what an answer lets a client do next.
_APP_ID = "$response.body#/app/id"
LINKS: dict[str, dict[str, dict[str, Any]]] = {
    "createApp": {
        "LoadApp": {"operationId": "loadApp", "parameters": {"path.id": _APP_ID}},
        "UpdateApp": {"operationId": "updateApp", "requestBody": {"app": {"id": _APP_ID}}},
        "DeleteApp": {"operationId": "deleteApp", "requestBody": {"id": _APP_ID}},
        "UploadApiKey": {"operationId": "uploadUserApiKey", "requestBody": {"appId": _APP_ID}},
        "UploadToken": {"operationId": "uploadUserToken", "requestBody": {"appId": _APP_ID}},
        "Connect": {"operationId": "connect", "requestBody": {"appId": _APP_ID}},
    },
    "uploadUserToken": {
        "FetchToken": {
            "operationId": "fetchUserToken",
            "requestBody": {
                "appId": "$request.body#/appId",
                "userId": "$request.body#/userId",
            },
        },
        "DeleteUserTokens": {
            "operationId": "deleteUserTokens",
            "parameters": {
                "query.appId": "$request.body#/appId",
                "query.userId": "$request.body#/userId",
            },
        },
    },
    "uploadUserApiKey": {
        "FetchToken": {
            "operationId": "fetchUserToken",
            "requestBody": {
                "appId": "$request.body#/appId",
                "userId": "$request.body#/userId",
            },
        },
    },
    "fetchUserToken": {
        "DeleteToken": {
            "operationId": "deleteToken",
            "parameters": {"query.id": "$response.body#/token/id"},
        },
    },
    "createWebhook": {
        "Rotate": {
            "operationId": "rotateWebhookSecret",
            "parameters": {"path.webhook_id": "$response.body#/webhook/id"},
        },
        "Deliveries": {
            "operationId": "listWebhookDeliveries",
            "parameters": {"path.webhook_id": "$response.body#/webhook/id"},
        },
        "Delete": {
            "operationId": "deleteWebhook",
            "parameters": {"path.webhook_id": "$response.body#/webhook/id"},
        },
    },
}

_SECURITY_SCHEMES = {
    "managementKey": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "<projectId>:<managementKey>",
        "description": "`Authorization: Bearer <projectId>:<managementKey>` (the official"
        " Descope SDKs send it so). Fetch-only keys reach the four fetch-token operations"
        " only.",
    },
    "sessionToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "<projectId>:<sessionJwt>",
        "description": "An end user's session token from the sign-in service the project"
        " trusts (`outbound projects set-session-issuer`); the user id is its `sub`.",
    },
}


def errors_of(endpoint: Endpoint) -> list[str]:
    """Every error code ``endpoint`` can answer, in table order."""
    codes = set(endpoint.errors) | set(ALWAYS)
    if endpoint.auth != "none":
        codes |= set(AUTHED)
    if _path_names(endpoint.path):
        # an empty id (``/templates/``, as a client sends an id it read as "") names no
        # endpoint at all
        codes.add("E130404")
        # a path id holding control characters or, where the handler checks it, any other
        # character no id may hold (guard.py, wire.checked_id)
        codes.add("E011003")
    return [code for code in ERROR_CODES if code in codes]


def _strip_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent or text, never null: drop msgspec's ``| None`` branch."""
    options = schema.get("anyOf")
    if options:
        rest = [option for option in options if option != {"type": "null"}]
        if len(rest) == 1:
            return {**{k: v for k, v in schema.items() if k != "anyOf"}, **rest[0]}
    return schema


def _parameters(
    endpoint: Endpoint, components: dict[str, Any], path_schema: dict[str, Any]
) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _path_names(endpoint.path):
        params.append({"name": name, "in": "path", "required": True, "schema": path_schema})
    if endpoint.query is not None:
        struct = components[endpoint.query.__name__]
        required = set(struct.get("required", []))
        for name, schema in struct["properties"].items():
            schema = _strip_null(schema)
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": {
                    k: v
                    for k, v in schema.items()
                    if k != "description" and not (k == "default" and v is None)
                },
            }
            if "description" in schema:
                param["description"] = schema["description"]
            if schema.get("type") == "object":  # metadata[key]=value
                param.update(style="deepObject", explode=True)
            params.append(param)
    return params


def _present(schema: dict[str, Any]) -> dict[str, Any]:
    """A field that must be there and not empty ("" and [] mean "not set", as null does)."""
    options = [o for o in schema.get("anyOf", [schema]) if o != {"type": "null"}]
    present = {k: v for k, v in schema.items() if k not in ("anyOf", "default")}
    present.update(options[0])
    if present.get("type") == "string":
        present["minLength"] = max(1, present.get("minLength", 0))
    elif present.get("type") == "array":
        present["minItems"] = max(1, present.get("minItems", 0))
    return present


def _with_needs(
    struct: dict[str, Any], needs: tuple[str, ...], components: dict[str, Any], title: str
) -> dict[str, Any]:
    """``struct``'s schema with the fields ``needs`` names required and not empty (see
    ``Endpoint.needs``); inline, titled for the operation."""
    schema = {**struct, "title": title, "properties": dict(struct["properties"])}
    required: list[str] = list(struct.get("required", []))
    nested: dict[str, list[str]] = {}
    for need in needs:
        head, _, rest = need.partition(".")
        required += [] if head in required else [head]
        if rest:
            nested.setdefault(head, []).append(rest)
        else:
            schema["properties"][head] = _present(struct["properties"][head])
    for head, rests in nested.items():
        ref = _present(struct["properties"][head])["$ref"]
        inner = components[ref.rsplit("/", 1)[1]]
        schema["properties"][head] = _with_needs(inner, tuple(rests), components, head.title())
    schema["required"] = required
    return schema


def _path_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _error_responses(codes: list[str]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(ERROR_CODES[code].status, []).append(code)
    responses: dict[str, Any] = {}
    for status, group in sorted(by_status.items()):
        lines = [f"`{code}`: {ERROR_CODES[code].description}" for code in group]
        response: dict[str, Any] = {
            "description": "\n\n".join(lines),
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [{"$ref": REF.format(name="ErrorAnswer")}],
                        "properties": {"errorCode": {"enum": group}},
                    }
                }
            },
        }
        if status == 429:
            response["headers"] = {
                "Retry-After": {
                    "description": "seconds to wait before trying again",
                    "schema": {"type": "integer", "minimum": 0},
                }
            }
        responses[str(status)] = response
    return responses


def _oauth_errors() -> dict[str, Any]:
    """An OAuth endpoint's own error answers (RFC 6749 §5.2), not the API's error shape."""
    error = {"application/json": {"schema": {"$ref": REF.format(name="OAuthErrorAnswer")}}}
    return {
        "400": {"description": "An OAuth error (RFC 6749 §5.2, RFC 8693 §2.2.2)", "content": error},
        "429": {
            "description": "`temporarily_unavailable`: too many failed subject tokens",
            "content": error,
        },
        "503": {
            "description": "`temporarily_unavailable`: the provider cannot be reached",
            "content": error,
        },
    }


def _proxy_parameters(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The proxy's path (any relative path under the app's API) and its headers."""
    for param in params:
        if param["name"] == "path":
            param["schema"] = {"type": "string", "maxLength": 4096}
            param["description"] = (
                "the path under the app's apiBaseUrl (may hold '/'); '..', '//', '\\',"
                " encoded separators, a scheme or user-info are refused (E131021); the query"
                " string is passed on"
            )
    header = {"type": "string", "maxLength": 256}
    return [
        *params,
        {"name": "Outbound-User-Id", "in": "header", "required": False, "schema": header,
         "description": "the user whose connection is used (or Outbound-Tenant-Id; a"
         " user's own token names its subject without it)"},
        {"name": "Outbound-Tenant-Id", "in": "header", "required": False, "schema": header,
         "description": "the tenant whose connection is used"},
        {"name": "Outbound-Retries", "in": "header", "required": False,
         "schema": {"type": "integer", "minimum": 0, "maximum": 5},
         "description": "how often a 429/502/503/504 may be retried (default 2 for GET, HEAD,"
         " OPTIONS, PUT, DELETE; 0 for POST and PATCH)"},
    ]  # fmt: skip


def _proxied() -> dict[str, Any]:
    return {
        "default": {
            "description": "The provider's answer, relayed as it came (status, headers less"
            " hop-by-hop ones and Set-Cookie, body streamed), with Outbound-Request-Id. The"
            " vault's own errors are the JSON error shape with Outbound-Error: 1.",
            "headers": {
                "Outbound-Request-Id": {"schema": {"type": "string"}},
                "Outbound-Error": {
                    "description": "1 on the vault's own errors, absent on the provider's",
                    "schema": {"type": "string", "enum": ["1"]},
                },
            },
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    }


def _success(endpoint: Endpoint) -> dict[str, Any]:
    if endpoint.media in ("html", "form"):
        pages: dict[str, Any] = {
            "200": {
                "description": "A page for the browser",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "302": {"description": "On to the provider's consent page, or back to the app"},
            "400": {
                "description": "A page saying the link or the sign-in response is unknown,"
                " expired, used up, or from another browser",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "404": {
                "description": "A page saying the app of the link no longer exists",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
            "503": {
                "description": "A page saying the provider cannot be reached right now",
                "content": {"text/html": {"schema": {"type": "string"}}},
            },
        }
        if endpoint.media == "form":
            pages["403"] = {
                "description": "A page saying the form was posted from another site or origin"
                " (Sec-Fetch-Site: cross-site, a foreign Origin), or without the form token"
                " the link page gave this browser; nothing was started",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }
        return pages
    if endpoint.answer is None:  # this document
        schema: dict[str, Any] = {"type": "object"}
    else:
        schema = {"$ref": REF.format(name=endpoint.answer.__name__)}
    return {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}


def _operation(
    endpoint: Endpoint, components: dict[str, Any], path_schema: dict[str, Any]
) -> dict[str, Any]:
    codes = errors_of(endpoint)
    operation: dict[str, Any] = {
        "operationId": endpoint.operation_id,
        "tags": [endpoint.tag],
        "summary": endpoint.summary,
    }
    if endpoint.auth == "fetch":
        operation["description"] = "A fetch-only management key is enough."
    params = _parameters(endpoint, components, path_schema)
    if endpoint.media == "proxy":
        params = _proxy_parameters(params)
        operation["requestBody"] = {
            "required": False,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
            "description": "Sent on to the provider as it comes, in any content type (streamed)",
        }
    if params:
        operation["parameters"] = params
    if endpoint.body is not None:
        media = (
            "application/x-www-form-urlencoded"
            if endpoint.media in ("form", "oauth")
            else "application/json"
        )
        name = endpoint.body.__name__
        schema: dict[str, Any] = {"$ref": REF.format(name=name)}
        if endpoint.needs:
            # titled "Body": generators name it after the operation (FetchUserTokenBody)
            schema = _with_needs(components[name], endpoint.needs, components, "Body")
        content: dict[str, Any] = {"schema": schema}
        if endpoint.example is not None:
            content["example"] = endpoint.example
        operation["requestBody"] = {
            # rotate's body is optional: no body keeps the default overlap
            "required": endpoint.operation_id != "rotateWebhookSecret",
            "content": {media: content},
        }
    responses = _proxied() if endpoint.media == "proxy" else _success(endpoint)
    if endpoint.media == "oauth":
        responses.update(_oauth_errors())
    for status, response in _error_responses(codes).items():
        page = responses.setdefault(status, response)
        if page is not response and "content" in page:
            # a page's status can also come as the JSON error (a path the guard refuses)
            page["content"] = {**page["content"], **response["content"]}
            page["description"] += "; or the JSON error: " + response["description"]
    if endpoint.operation_id in LINKS:
        responses["200"]["links"] = LINKS[endpoint.operation_id]
    operation["responses"] = responses
    operation["security"] = SECURITY[endpoint.auth]
    return operation


def build(endpoints: list[Endpoint] = ENDPOINTS) -> dict[str, Any]:
    """The document for ``endpoints``."""
    types: list[Any] = [answers.ErrorAnswer, answers.OAuthErrorAnswer]
    for endpoint in endpoints:
        for struct in (endpoint.body, endpoint.answer, endpoint.query):
            if struct is not None and struct not in types:
                types.append(struct)
    _, components = msgspec.json.schema_components(types, ref_template=REF)
    path_schema = _strip_null(msgspec.json.schema(Id))
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation = _operation(endpoint, components, path_schema)
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    queries = {e.query.__name__ for e in endpoints if e.query is not None}
    schemas = {name: schema for name, schema in components.items() if name not in queries}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "outbound",
            "version": __version__,
            "summary": "A self-hosted vault for outbound OAuth tokens",
            "description": "The Descope-compatible Outbound Apps management API and outbound's"
            " own endpoints. Errors answer `{errorCode, errorDescription, errorMessage}`;"
            " each operation lists the codes it can answer.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": tag} for tag in dict.fromkeys(e.tag for e in endpoints)],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _SECURITY_SCHEMES},
    }


@functools.cache
def document() -> bytes:
    """The served document, built once per process."""
    return orjson.dumps(build(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


async def openapi_json(request: Request) -> Response:
    return Response(document(), media_type="application/json")


routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
