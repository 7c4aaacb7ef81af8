"""The one table of App fields (``outbound.app_fields``) agrees with every shape that is still
written out by hand: the request Struct msgspec decodes, the engine's ProviderConfig, the
catalog's TemplateSpec, the official Python SDK's arguments and our SDK's request builder."""

from __future__ import annotations

import dataclasses
import inspect
from enum import Enum
from typing import Any

import msgspec.inspect as mi
import pytest
from descope.management.outbound_application import OutboundApplication as DescopeSync

from outbound.app_fields import APP_FIELDS, KEPT_WHEN_OMITTED, SDK_FIELDS
from outbound.catalog import all_templates
from outbound.catalog.schema import TemplateSpec
from outbound.client import _requests
from outbound.oauth import ProviderConfig
from outbound.secret import Secret
from outbound.server.http.wire import AppFields, app_config_from_fields, app_to_wire
from outbound.storage import AppRecord


def _kind(type_info: mi.Type) -> str:
    """The table's kind a request Struct field's type stands for (string and secret alike)."""
    if isinstance(type_info, mi.UnionType):
        (type_info,) = [t for t in type_info.types if not isinstance(t, mi.NoneType)]
    if isinstance(type_info, mi.StrType):
        return "url" if "://" in (type_info.pattern or "") else "string"
    if isinstance(type_info, mi.LiteralType):
        return "choice"
    if isinstance(type_info, mi.BoolType):
        return "flag"
    if isinstance(type_info, mi.IntType):
        return "seconds"
    if isinstance(type_info, mi.ListType):
        return "params" if isinstance(type_info.item_type, mi.StructType) else "list"
    raise AssertionError(f"no kind for {type_info!r}")


def test_the_request_struct_has_the_tables_fields_in_its_order_and_kinds() -> None:
    struct = mi.type_info(AppFields)
    assert isinstance(struct, mi.StructType)
    assert [(f.encode_name, f.name) for f in struct.fields] == [
        (f.wire, f.name) for f in APP_FIELDS
    ]
    kinds = {f.encode_name: _kind(f.type) for f in struct.fields}
    assert kinds == {f.wire: "string" if f.kind == "secret" else f.kind for f in APP_FIELDS}


def test_engine_and_template_names_are_attributes_there() -> None:
    engine = {f.name for f in dataclasses.fields(ProviderConfig)}
    assert {f.engine for f in APP_FIELDS if f.engine} <= engine
    assert {f.template for f in APP_FIELDS if f.template} <= set(TemplateSpec.__struct_fields__)


@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.id)
def test_a_template_fills_only_fields_the_table_says_it_fills(template: Any) -> None:
    values = {value.name: value.example for value in template.spec.values}
    filled = set(template.app_fields(values))
    assert filled <= {f.wire for f in APP_FIELDS if f.template}


def test_the_sdk_arguments_are_the_tables_python_names() -> None:
    official = inspect.signature(DescopeSync.update_application).parameters
    assert {f.name for f in APP_FIELDS if f.python_sdk == "official"} == set(official) - {"self"}
    ours = inspect.signature(_requests._app_body).parameters
    assert {f.name for f in SDK_FIELDS} == set(ours)
    keyword_only = {n for n, p in ours.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert {f.name for f in APP_FIELDS if f.python_sdk == "extra"} == keyword_only


def test_what_the_official_sdk_cannot_send_is_kept_when_an_update_omits_it() -> None:
    cannot_send = {
        f.wire: f.name
        for f in APP_FIELDS
        if f.place == "config" and f.python_sdk != "official" and f.omitted != "derived"
    }
    assert cannot_send == KEPT_WHEN_OMITTED


class _Access(Enum):
    OFFLINE = "offline"


_GIVEN = {
    "string": "value",
    "url": "https://idp.example/x",
    "secret": Secret("s3cret"),
    "params": [{"name": "audience", "value": "api"}],
    "list": ["consent"],
    "flag": False,
    "choice": _Access.OFFLINE,
}


def _arguments(value_of: Any) -> dict[str, Any]:
    return {f.name: value_of(f) for f in SDK_FIELDS}


def test_the_sdk_sends_every_field_it_is_given() -> None:
    body = _requests.create_application(**_arguments(lambda f: _GIVEN[f.kind])).body
    assert body is not None
    assert set(body) == {f.wire for f in SDK_FIELDS}
    assert body["clientSecret"] == "s3cret"
    assert body["accessType"] == "offline"
    assert body["pkce"] is False and body["useDcr"] is False
    assert body["authorizationUrlParams"] == [{"name": "audience", "value": "api"}]


def test_the_sdk_leaves_out_what_it_is_not_given_except_descopes_four() -> None:
    empty = _arguments(lambda f: "" if f.kind in ("string", "url", "secret") else None)
    body = _requests.create_application(**{**empty, "name": "n"}).body
    assert body == {"name": "n", "id": "", "description": "", "logo": ""}


def test_what_is_stored_for_an_empty_app_is_each_fields_default() -> None:
    config = app_config_from_fields(AppFields())
    for field in APP_FIELDS:
        if field.place != "config" or field.omitted == "derived":
            continue
        if field.default is None:
            assert field.wire not in config
        else:
            assert config[field.wire] == field.default, field.wire
    answer = app_to_wire(AppRecord("P1", "a", "n", config, None, 0, 0), "https://cb")
    assert set(answer) == {f.wire for f in APP_FIELDS if f.kind != "secret"} - {"refreshMargin"} | {
        "hasClientSecret",
        "callbackUrl",
    }
