"""The upstream allow-list comes from the catalog and never contains raw/data/quarantine/DLQ topics."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from contracts.settings import KafkaConfig
from processors.catalog import load_catalog
from processors.catalog.models import DatasetEntry
from processors.federation import FederationConfig, FederationError, allowed_topics, is_forbidden
from processors.federation.allowlist import share_reaches_province
from processors.federation.mm2 import (
    instance_acls,
    province_acls,
    render_properties,
    topics_pattern,
)
from processors.share.kafka_acl_admin import Operation, PatternType, ResourceType

P = "sensegate."


def _entries() -> dict[str, DatasetEntry]:
    return dict(load_catalog().entries)


def _with_scope(entry: DatasetEntry, scope: tuple[str, ...]) -> DatasetEntry:
    assert entry.share_terms is not None
    terms = entry.share_terms.model_copy(update={"scope": scope})
    return entry.model_copy(update={"share_terms": terms})


def test_shipped_catalog_allow_list() -> None:
    entries = _entries()
    topics = allowed_topics(entries.values(), P)
    # unconditional shares leave; conditional ones whose scope omits the province do not
    assert f"{P}share.agri_soil" in topics
    assert f"{P}share.iiot_metric" not in topics
    assert f"{P}share.v2x_participant" not in topics
    for fixed in ("corrections", "checkpoints", "catalog.registrations"):
        assert P + fixed in topics
    for entry in entries.values():
        if entry.open_class != "none" and entry.kafka_topics.open:
            assert P + entry.kafka_topics.open in topics
    assert not any(is_forbidden(t, P) for t in topics)
    assert not any(t.startswith((f"{P}raw.", f"{P}data.")) for t in topics)
    assert f"{P}dlq" not in topics and f"{P}quarantine" not in topics


def test_conditional_entry_follows_its_scope() -> None:
    entry = _entries()["iiot_metric"]
    widened = _with_scope(entry, ("jl_industry_dept", "province"))
    assert share_reaches_province(widened, "province")
    assert f"{P}share.iiot_metric" in allowed_topics([widened], P)
    tightened = _with_scope(widened, ("jl_industry_dept",))
    assert f"{P}share.iiot_metric" not in allowed_topics([tightened], P)
    none = widened.model_copy(update={"share_class": "none"})
    assert not share_reaches_province(none, "province")
    retired = widened.model_copy(update={"status": "retired"})
    assert f"{P}share.iiot_metric" not in allowed_topics([retired], P)


def test_share_tier_mapped_onto_a_data_topic_is_refused() -> None:
    entry = _entries()["agri_soil"]
    bad = entry.model_copy(
        update={"kafka_topics": entry.kafka_topics.model_copy(update={"share": "data.agri_x"})}
    )
    with pytest.raises(FederationError, match="forbidden"):
        allowed_topics([bad], P)


def test_topics_pattern_matches_exact_names_only() -> None:
    import re

    pattern = re.compile(topics_pattern(["sensegate.share.a_b", "sensegate.open.c"]))
    assert pattern.match("sensegate.share.a_b")
    assert not pattern.match("sensegate.share.a_bx")
    assert not pattern.match("sensegateXshare.a_b")  # the dot is escaped
    assert not re.compile(topics_pattern([])).match("sensegate.share.a_b")


def test_properties_and_acls() -> None:
    fed = FederationConfig(
        instance_code="city_a",
        upstream_bootstrap="province:9093",
        upstream_username="city_a",
        upstream_password=SecretStr("up-secret"),
    )
    source = KafkaConfig(
        bootstrap_servers="127.0.0.1:19095",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="repl-city_a",
        sasl_password=SecretStr("src-secret"),
    )
    text = render_properties(fed, source, ["sensegate.share.agri_soil"])
    assert "city_a->province.enabled = true" in text
    assert "province->city_a.enabled = false" in text
    assert "province.security.protocol = SASL_SSL" in text
    assert "city_a.security.protocol = SASL_PLAINTEXT" in text
    assert "province.offset.storage.topic = city_a.mm2-offsets" in text
    assert "emit.heartbeats.enabled = false" in text
    acls = instance_acls("repl-city_a", ["sensegate.share.agri_soil"])
    assert {a.resource_name for a in acls} == {"sensegate.share.agri_soil"}
    assert all(a.pattern is PatternType.LITERAL for a in acls)
    assert Operation.WRITE not in {a.operation for a in acls}
    up = province_acls("city_a", "city_a")
    topic_acls = [a for a in up if a.resource_type is ResourceType.TOPIC]
    assert {(a.resource_name, a.pattern) for a in topic_acls} == {("city_a.", PatternType.PREFIXED)}


def test_incomplete_settings_are_named() -> None:
    with pytest.raises(FederationError, match="UPSTREAM_PASSWORD"):
        FederationConfig(
            instance_code="c1", upstream_bootstrap="x:1", upstream_username="u"
        ).require()
    with pytest.raises(ValueError, match="instance_code"):
        FederationConfig(instance_code="Bad Code")
