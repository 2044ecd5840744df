"""C9, C10, C11 and F19: defaults by data kind, live feeds, derived grades, item overrides."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from processors.catalog import CatalogError, catalog_from_entries, load_catalog, parse_entry
from processors.catalog.derived import computed_grade
from processors.catalog.policy import CLASS_ORDER, GRADE_ORDER, duration_seconds, is_live_feed
from processors.share.deidentify import RotatingKeyring
from processors.share.rules import open_microdata, share_record
from tests.fixtures.share_data import simple_record

CATALOG = Path(__file__).resolve().parents[3] / "catalog"
RING = RotatingKeyring({"m": SecretStr("k" * 32)}, "m")


def base(code: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CATALOG / f"{code}.yaml").read_text(encoding="utf-8"))
    return doc


def problems_of(doc: dict[str, Any]) -> str:
    try:
        parse_entry(doc, "t.yaml")
    except CatalogError as exc:
        return "\n".join(exc.problems)
    return ""


def test_durations_and_live_feeds() -> None:
    assert duration_seconds("PT10M") == 600
    assert duration_seconds("P1D") == 86400
    assert duration_seconds("nonsense") is None
    assert is_live_feed("realtime") and is_live_feed("PT10M") and is_live_feed("PT1H")
    assert not is_live_feed("PT2H") and not is_live_feed("P1D")


def test_c9_realtime_entry_without_override_is_conditional() -> None:
    """C9 acceptance: a realtime entry that states no open class is opened CONDITIONAL."""
    doc = base("v2x_road_event")
    del doc["open_class"], doc["share_class"]
    entry = parse_entry(doc)
    assert (entry.share_class, entry.open_class) == ("unconditional", "conditional")


def test_c9_ten_minute_feed_opened_unconditionally_needs_justification() -> None:
    doc = base("agri_weather")
    doc.pop("live_open_justification")
    assert "C9: open_class: a live feed (update_cycle 'PT10M'" in problems_of(doc)
    doc["update_cycle"] = "PT2H"
    doc["sampling_interval"] = "PT2H"
    assert "C9" not in problems_of(doc)


def test_f19_weather_sensor_entry_defaults_to_unconditional() -> None:
    """F19 acceptance: a (non-live) weather-sensor entry with no classes is shared and opened freely."""
    doc = base("agri_weather")
    for key in ("share_class", "open_class", "live_open_justification"):
        doc.pop(key)
    doc["update_cycle"] = "P1D"
    entry = parse_entry(doc)
    assert (entry.share_class, entry.open_class) == ("unconditional", "unconditional")


def test_f19_enterprise_defaults_and_looser_class_needs_basis() -> None:
    doc = base("iiot_metric")
    entry = parse_entry({k: v for k, v in doc.items() if k not in ("share_class", "open_class")})
    assert (entry.share_class, entry.open_class) == ("conditional", "none")
    looser = copy.deepcopy(doc) | {"share_class": "unconditional", "share_terms": None}
    message = problems_of(looser)
    assert "F19: share_class: 'unconditional' is looser than the default 'conditional'" in message
    assert "F19" not in problems_of(looser | {"class_override_basis": "owner asked to publish"})


def test_c11_looser_item_override_refused_stricter_accepted() -> None:
    doc = base("agri_weather")
    doc["items"][0]["open_class"] = "none"
    doc["items"][1]["share_class"] = "conditional"
    assert parse_entry(copy.deepcopy(doc))
    strict = base("iiot_metric")
    strict["items"][0]["share_class"] = "unconditional"
    message = problems_of(strict)
    assert (
        "C11: items[0].share_class:" in message
        and "looser than the entry's 'conditional'" in message
    )


def test_c11_stricter_item_is_withheld_from_that_tier_only() -> None:
    doc = base("agri_weather")
    doc["items"][0]["open_class"] = "none"  # air_temperature: shared, never opened
    doc["items"][1]["share_class"] = "conditional"  # air_humidity: not on the unconditional topic
    entry = parse_entry(doc)
    when = datetime(2025, 3, 1, tzinfo=UTC)
    rec = simple_record(
        "agri_weather",
        {"air_temperature": 3.5, "air_humidity": 40.0, "rainfall": 0.0},
        when=when,
        entity="ws1",
    )
    shared = share_record(rec, entry, RING)
    assert "air_temperature" in shared.values and "air_humidity" not in shared.values
    opened = open_microdata(rec, entry, RING)
    assert "air_temperature" not in opened.values and opened.values["rainfall"] == 0.0


def _flow_catalog(flow_changes: dict[str, Any]) -> str:
    entries = [e for e in load_catalog() if e.code != "v2x_participant_flow"]
    flow = base("v2x_participant_flow") | flow_changes
    try:
        catalog_from_entries([*entries, parse_entry(flow)])
    except CatalogError as exc:
        return "\n".join(exc.problems)
    return ""


def test_c10_derived_from_important_without_evaluation_is_important() -> None:
    """C10 acceptance: derived from an important input without evaluation -> must be important."""
    message = _flow_catalog({"grade_evaluation": None})
    assert "v2x_participant_flow: C10: grade: 'general' is below 'important'" in message
    catalog = load_catalog()
    flow = catalog.get("v2x_participant_flow")
    assert flow is not None
    assert computed_grade(flow.model_copy(update={"grade_evaluation": None}), catalog.entries) == (
        "important"
    )
    assert computed_grade(flow, catalog.entries) == "general"  # the registered evaluation


def test_c10_evaluation_never_below_its_own_grade_and_inputs_must_exist() -> None:
    evaluation = base("v2x_participant_flow")["grade_evaluation"] | {"grade": "important"}
    assert "below the evaluated grade 'important'" in _flow_catalog(
        {"grade_evaluation": evaluation}
    )
    message = _flow_catalog({"derived_inputs": ["v2x_participant", "v2x_nowhere"]})
    assert "C10: derived_inputs: ['v2x_nowhere'] are not catalogued" in message


# --- property: generated catalogs -------------------------------------------------------------

_CLASSES = ("unconditional", "conditional", "none")
_GRADES = ("general", "important", "core")


@settings(max_examples=120, deadline=None)
@given(
    cycle=st.sampled_from(("realtime", "PT1M", "PT10M", "PT1H", "PT2H", "P1D")),
    open_cls=st.sampled_from(_CLASSES),
    justified=st.booleans(),
    overrides=st.lists(
        st.tuples(st.sampled_from((*_CLASSES, None)), st.sampled_from((*_CLASSES, None))),
        min_size=9,
        max_size=9,
    ),
)
def test_property_c9_c11_reported_exactly_when_broken(
    cycle: str,
    open_cls: str,
    justified: bool,
    overrides: list[tuple[str | None, str | None]],
) -> None:
    """Over generated entries: C9 and C11 findings appear iff the entry breaks the rule."""
    doc = base("agri_weather")
    doc.update(update_cycle=cycle, sampling_interval=None, open_class=open_cls)
    if not justified:
        doc.pop("live_open_justification")
    loose_items = []
    for index, (share_o, open_o) in enumerate(overrides):
        item = doc["items"][index]
        item["share_class"], item["open_class"] = share_o, open_o
        if (share_o and CLASS_ORDER[share_o] < CLASS_ORDER["unconditional"]) or (
            open_o and CLASS_ORDER[open_o] < CLASS_ORDER[open_cls]
        ):
            loose_items.append(index)
    message = problems_of(doc)
    breaks_c9 = is_live_feed(cycle) and open_cls == "unconditional" and not justified
    assert ("C9:" in message) == breaks_c9, message
    reported = sorted({i for i in range(9) if f"C11: items[{i}]." in message})
    assert reported == loose_items, message


@settings(max_examples=80, deadline=None)
@given(
    grades=st.lists(st.sampled_from(_GRADES), min_size=1, max_size=3),
    derived_grade=st.sampled_from(_GRADES),
    evaluated=st.sampled_from((*_GRADES, None)),
)
def test_property_c10_derived_grade_is_max_of_inputs_unless_evaluated(
    grades: list[str], derived_grade: str, evaluated: str | None
) -> None:
    """Over generated catalogs of n inputs and one derived entry, C10 accepts exactly grade >= required."""
    inputs = []
    for n, grade in enumerate(grades):
        doc = base("v2x_intersection") | {
            "code": f"v2x_in{n}",
            "storage_table": f"v2x_in{n}",
            "kafka_topics": {"data": f"data.v2x_in{n}", "share": f"share.v2x_in{n}"},
            "grade": grade,
            "grade_basis": "generated",
            "open_class": "none",
            "share_class": "conditional",
            "share_terms": {
                "conditions": "c",
                "scope": ["s"],
                "purposes": ["p"],
                "legal_basis": "b",
            },
            "open_terms": {"legal_basis": "b"},
            "deidentification": {"refuse_open": True},
            "source_topics": [f"V2X/IN{n}/+"],
        }
        inputs.append(parse_entry(doc))
    derived_doc = inputs[0].definition() | {
        "code": "v2x_out",
        "storage_table": "v2x_out",
        "kafka_topics": {"data": "data.v2x_out", "share": "share.v2x_out"},
        "grade": derived_grade,
        "derived_from": "v2x_in0",
        "derived_inputs": [e.code for e in inputs],
        "source_topics": [],
        "grade_evaluation": None
        if evaluated is None
        else {
            "evaluator": "e",
            "evaluated_at": "2026-01-01",
            "method": "m",
            "result": "r",
            "grade": evaluated,
        },
    }
    derived = parse_entry(derived_doc)
    required = evaluated or max(grades, key=GRADE_ORDER.__getitem__)
    try:
        catalog_from_entries([*inputs, derived])
        accepted = True
    except CatalogError as exc:
        assert all("C10: grade" in p for p in exc.problems), exc.problems
        accepted = False
    assert accepted == (GRADE_ORDER[derived_grade] >= GRADE_ORDER[required])


@pytest.mark.parametrize("code", [p.stem for p in sorted(CATALOG.glob("*.yaml"))])
def test_shipped_entries_meet_the_kind_policy(code: str) -> None:
    """Every shipped entry passes C9-C11/F19 (the catalog loads) and names its live-feed choice."""
    entry = load_catalog().get(code)
    assert entry is not None
    if is_live_feed(entry.update_cycle) and entry.open_class == "unconditional":
        assert entry.live_open_justification
