"""Every governance rule refuses a violating entry with a message naming the problem."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from processors.catalog import CatalogError, parse_entry

CATALOG = Path(__file__).resolve().parents[3] / "catalog"


def base(code: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CATALOG / f"{code}.yaml").read_text(encoding="utf-8"))
    return doc


def refused(doc: dict[str, Any]) -> str:
    with pytest.raises(CatalogError) as info:
        parse_entry(doc, "test.yaml")
    return "\n".join(info.value.problems)


Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return apply


_DELETE = object()

CASES: list[tuple[str, str, Mutation, str]] = [
    # (id, base entry, mutation, expected message fragment)
    ("secret", "agri_weather", _set("secret_attribute", "secret"), "涉密"),
    ("two-providers", "agri_weather", _set("provider", ["a", "b"]), "exactly one unit"),
    ("no-provider", "agri_weather", _set("provider", _DELETE), "provider"),
    ("family-prefix", "agri_weather", _set("family", "v2x"), "family prefix"),
    ("bad-cycle", "agri_weather", _set("update_cycle", "every minute"), "ISO 8601"),
    ("bad-unit", "agri_weather", _set("items.0.unit", "degC"), "allowed UCUM list"),
    ("unit-on-text", "v2x_road_event", _set("items.0.unit", "m"), "only numeric items"),
    ("range-on-text", "v2x_road_event", _set("items.0.min", 0), "numeric type"),
    ("min-gt-max", "agri_weather", _set("items.0.min", 100), "greater than max"),
    ("dup-items", "agri_weather", _set("items.1.name", "air_temperature"), "unique"),
    ("reserved-item", "agri_weather", _set("items.1.name", "record_id"), "clash"),
    ("unknown-field", "agri_weather", _set("colour", "red"), "Extra inputs"),
    ("share-cond-no-terms", "agri_weather", _set("share_class", "conditional"), "share_terms"),
    (
        "share-cond-no-basis",
        "iiot_metric",
        _set("share_terms.legal_basis", None),
        "legal_basis",
    ),
    ("share-cond-no-purposes", "iiot_metric", _set("share_terms.purposes", []), "purposes"),
    ("share-cond-no-scope", "iiot_metric", _set("share_terms.scope", []), "scope"),
    ("open-cond-no-methods", "agri_soil", _set("open_terms.methods", []), "methods"),
    ("open-none-no-basis", "iiot_metric", _set("open_terms.legal_basis", None), "legal_basis"),
    ("share-none-no-negative-list", "iiot_metric", _set("share_class", "none"), "negative_list"),
    ("important-no-basis", "v2x_participant", _set("grade_basis", None), "grade_basis"),
    ("core-shared-unconditionally", "agri_weather", _set("grade", "core"), "core data"),
    (
        "important-opened-unconditionally",
        "v2x_intersection",
        lambda d: d.update(grade="important", grade_basis="flows"),
        "important data is never opened unconditionally",
    ),
    (
        "important-open-cond-no-assessment",
        "agri_soil",
        lambda d: d.update(grade="important", grade_basis="flows"),
        "open_assessment",
    ),
    (
        "personal-opened",
        "agri_soil",
        lambda d: d.update(data_category=["public", "personal"]),
        "personal data is never opened",
    ),
    (
        "identifier-without-personal-category",
        "v2x_participant",
        _set("data_category", ["public"]),
        "must include 'personal'",
    ),
    (
        "sensitive-pi-shared-unconditionally",
        "v2x_participant",
        lambda d: d.update(share_class="unconditional", share_terms=None),
        "sensitive personal information is never shared unconditionally",
    ),
    ("secret-opened", "agri_soil", _set("commercial_secret", True), "commercial secrets"),
    (
        "open-uncond-share-cond",
        "agri_weather",
        lambda d: d.update(
            share_class="conditional",
            share_terms={
                "conditions": "c",
                "scope": ["x"],
                "purposes": ["p"],
                "legal_basis": "b",
            },
        ),
        "C8",
    ),
    (
        "live-feed-opened-unconditionally",
        "agri_weather",
        lambda d: d.update(update_cycle="realtime", live_open_justification=None),
        "C9",
    ),
    (
        "opened-but-refused",
        "agri_weather",
        lambda d: d["deidentification"].update(refuse_open=True),
        "refuse_open is set",
    ),
    (
        "none-without-refuse",
        "iiot_metric",
        lambda d: d["deidentification"].update(refuse_open=False),
        "refuse_open: true",
    ),
    (
        "deid-unknown-item",
        "agri_weather",
        lambda d: d["deidentification"].update(rules=[{"item": "plot_owner", "action": "drop"}]),
        "no such item",
    ),
    (
        "deid-grid-without-size",
        "v2x_participant",
        _set("deidentification.rules.1.cell_size_m", None),
        "cell_size_m",
    ),
    (
        "deid-hmac-without-epoch",
        "v2x_participant",
        _set("deidentification.rules.0.action", "hmac"),
        "key_epoch_days",
    ),
    (
        "enterprise-shared-without-agreement",
        "iiot_metric",
        _set("owner_agreement_ref", None),
        "owner_agreement_ref",
    ),
    (
        "topic-wrong-name",
        "agri_weather",
        _set("kafka_topics.data", "data.weather"),
        "kafka_topics.data",
    ),
    (
        "open-topic-when-not-opened",
        "iiot_metric",
        _set("kafka_topics.open", "open.iiot_metric"),
        "must be absent",
    ),
    ("enum-on-number", "agri_weather", _set("items.0.enum", ["a"]), "enum needs a text item"),
]


@pytest.mark.parametrize(("case", "code", "mutate", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_rule_violation_is_refused(case: str, code: str, mutate: Mutation, fragment: str) -> None:
    doc = copy.deepcopy(base(code))
    parse_entry(copy.deepcopy(doc))  # the shipped entry itself is valid
    mutate(doc)
    message = refused(doc)
    assert fragment in message, f"{case}: {message}"
    assert message.startswith("test.yaml"), message


def test_opened_entry_must_drop_identifiers() -> None:
    """An opened entry holding an identifier is refused twice: personal data, and not dropped."""
    doc = base("agri_soil")
    doc["items"].append({"name": "owner_phone", "type": "text", "sensitivity": "personal"})
    doc["data_category"] = ["public", "personal"]
    message = refused(doc)
    assert "personal data is never opened" in message
    assert "must drop identifier item 'owner_phone'" in message


def test_opened_location_items_must_be_generalised() -> None:
    doc = base("v2x_road_event")
    doc["items"][4]["sensitivity"] = "location"
    message = refused(doc)
    assert "generalise or drop location item 'lat'" in message
    doc["deidentification"]["rules"] = [
        {"item": "lat", "action": "grid", "cell_size_m": 500},
        {"item": "lon", "action": "drop"},
    ]
    assert parse_entry(doc).deidentification.rule_for("lat") is not None


def test_all_problems_reported_at_once() -> None:
    doc = base("agri_weather")
    doc["items"][0]["unit"] = "degC"
    doc["secret_attribute"] = "secret"  # noqa: S105 - a classification value
    doc["update_cycle"] = "often"
    message = refused(doc)
    assert message.count("\n") >= 2
