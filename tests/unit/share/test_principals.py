from __future__ import annotations

from processors.share.kafka_acl_admin import (
    Operation,
    PatternType,
    ResourceType,
    scram_salted_password,
)
from processors.share.principals import SERVICES, grant_acls, service_acls


def test_grant_acls_are_exactly_the_topics_and_group_prefix() -> None:
    acls = grant_acls(7, "jl_transport_dept", ["sensegate.share.v2x_participant"])
    topics = {(a.resource_name, a.operation) for a in acls if a.resource_type is ResourceType.TOPIC}
    assert topics == {
        ("sensegate.share.v2x_participant", Operation.READ),
        ("sensegate.share.v2x_participant", Operation.DESCRIBE),
    }
    assert all(
        a.pattern is PatternType.LITERAL for a in acls if a.resource_type is ResourceType.TOPIC
    )
    (group,) = [a for a in acls if a.resource_type is ResourceType.GROUP]
    assert group.resource_name == "grant-7-" and group.pattern is PatternType.PREFIXED
    assert {a.principal for a in acls} == {"User:grant-7-jl_transport_dept"}


def test_service_acls_least_privilege() -> None:
    def ops(service: str) -> set[tuple[str, str]]:
        return {(a.resource_name, a.operation.name) for a in service_acls(service)}

    assert ("sensegate.raw.", "READ") not in ops("gateway")
    assert ("sensegate.raw.", "WRITE") in ops("gateway")
    assert ("sensegate.data.", "WRITE") in ops("normalizer")
    assert ("sensegate.share.", "WRITE") not in ops("normalizer")
    assert ("sensegate.data.", "WRITE") not in ops("sink")
    assert ("sensegate.open.", "WRITE") in ops("share")
    assert ("sensegate.raw.", "READ") not in ops("share")
    for service in SERVICES:
        assert all(a.operation is not Operation.ALL for a in service_acls(service))


def test_objections_principal_writes_corrections_and_tiers_and_reads_nothing() -> None:
    acls = service_acls("objections")
    assert {a.operation for a in acls} == {Operation.WRITE, Operation.DESCRIBE, Operation.CREATE}
    assert {a.resource_name for a in acls} == {
        "sensegate.corrections", "sensegate.share.", "sensegate.open.",
    }  # fmt: skip
    assert all(a.resource_type is ResourceType.TOPIC for a in acls)


def test_share_writes_only_the_data_topics_of_derived_entries() -> None:
    acls = service_acls("share", derived=["v2x_participant_flow"])
    writes = {
        (a.resource_name, a.pattern)
        for a in acls
        if a.operation is Operation.WRITE and ".data." in a.resource_name
    }
    assert writes == {("sensegate.data.v2x_participant_flow", PatternType.LITERAL)}
    assert not [a for a in service_acls("normalizer", derived=["x"]) if a.resource_name.endswith("x")]


def test_scram_salted_password_is_pbkdf2_sha512() -> None:
    assert len(scram_salted_password("pw", b"salt", 4096)) == 64
