"""Industrial Internet identifiers: shape validation and parsing."""

from __future__ import annotations

import importlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from contracts.dead_letter import ReasonCode
from processors.codecs.base import CodecError
from processors.registry.industrial_id import (
    IdentifierError,
    IndustrialIdStr,
    identifier_problem,
    is_valid_industrial_id,
    parse_industrial_id,
)


def test_parse_sdk_example() -> None:
    ident = parse_industrial_id("88.1000.2/cup")
    assert (ident.prefix, ident.suffix, ident.prefix_parts) == (
        "88.1000.2",
        "cup",
        ("88", "1000", "2"),
    )
    assert (ident.root, ident.secondary_node, ident.enterprise) == ("88", "1000", "2")
    assert str(ident) == "88.1000.2/cup"


def test_suffix_may_contain_dots_and_slashes() -> None:
    ident = parse_industrial_id("88.118.8/EQ.PRESS.20250101.00017/a")
    assert ident.suffix == "EQ.PRESS.20250101.00017/a"
    assert ident.enterprise == "8"


def test_other_roots_are_not_assumed_away() -> None:
    assert parse_industrial_id("20.500.12345/x").root == "20"
    with pytest.raises(IdentifierError):
        parse_industrial_id("20.500.12345/x", allowed_roots={"88"})
    assert parse_industrial_id("88.1.2/x", allowed_roots={"88"}).secondary_node == "1"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "88.1000.2",
        "88.1000.2/",
        "/cup",
        "88/cup",
        "x8.1/cup",
        "88..2/cup",
        "88.1000.2/c up",
        "88.1000.2/c\x00p",
        "88.10 00/cup",
        "88.1000.2\n/cup",
        "88." + "1" * 600 + "/x",
    ],
)
def test_invalid_shapes(text: str) -> None:
    with pytest.raises(CodecError) as err:
        parse_industrial_id(text)
    assert err.value.reason is ReasonCode.SCHEMA_INVALID
    assert not is_valid_industrial_id(text)
    assert identifier_problem(text)


def test_pydantic_field_type() -> None:
    class Device(BaseModel):
        industrial_id: IndustrialIdStr | None = None

    assert Device(industrial_id="88.1000.2/cup").industrial_id == "88.1000.2/cup"
    with pytest.raises(ValidationError):
        Device(industrial_id="cup")
    assert identifier_problem("88.1000.2/cup") is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_random_text_only_identifier_error(text: str) -> None:
    try:
        ident = parse_industrial_id(text)
    except IdentifierError as exc:
        assert exc.detail
    else:
        assert str(ident) == text


@pytest.mark.parametrize(
    "module_name",
    [
        "processors.registry.industrial_id",
        "processors.codecs.sparkplug",
        "processors.codecs.sparkplug.codec",
        "processors.codecs.sparkplug.datatypes",
        "processors.codecs.sparkplug.encode",
        "processors.codecs.sparkplug.models",
        "processors.codecs.sparkplug.payload",
        "processors.codecs.sparkplug.state",
        "processors.codecs.sparkplug.store",
        "processors.codecs.sparkplug.topic",
        "processors.codecs.lorawan",
        "processors.codecs.lorawan.codec",
        "processors.codecs.lorawan.jsonsafe",
        "processors.codecs.lorawan.lpp",
        "processors.codecs.lorawan.models",
        "processors.codecs.lorawan.servers",
    ],
)
def test_public_names_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    exported = module.__all__
    assert sorted(exported) == sorted(set(exported))
    assert all(hasattr(module, name) for name in exported)
