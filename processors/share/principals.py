"""Least-privilege Kafka ACL sets: one per pipeline service, and the set one access grant gives.

Every set lists ALLOW bindings only; with ``allow.everyone.if.no.acl.found=false`` anything not
listed is denied. Topic creation rights are limited to the prefixes a service writes, because
topics are created on first produce. See docs/sharing.md "Principals and ACLs".
"""

from __future__ import annotations

from collections.abc import Iterable

from processors.share.kafka_acl_admin import AclBinding, Operation, PatternType, ResourceType

__all__ = ["SERVICES", "grant_acls", "grant_group_prefix", "grant_user", "service_acls"]

_T, _G = ResourceType.TOPIC, ResourceType.GROUP
_LIT, _PRE = PatternType.LITERAL, PatternType.PREFIXED
_R, _W, _D, _C = Operation.READ, Operation.WRITE, Operation.DESCRIBE, Operation.CREATE

# service -> (SCRAM user name, consumer group prefix or None)
SERVICES: dict[str, tuple[str, str | None]] = {
    "gateway": ("sensegate-gateway", None),
    "normalizer": ("sensegate-normalizer", "sensegate-normalize"),
    "sink": ("sensegate-sink", "sensegate-sink"),
    "share": ("sensegate-share", "sensegate-share"),
    # runtime.monitor: lag of the pipeline's groups; it describes, never reads a record.
    "monitor": ("sensegate-monitor", None),
    # processors.objections: publishes signed corrections and the superseding share/open records.
    "objections": ("sensegate-objections", None),
}


def _topics(
    principal: str, name: str, pattern: PatternType, ops: tuple[Operation, ...]
) -> list[AclBinding]:
    return [AclBinding(principal, _T, name, pattern, op) for op in ops]


def service_acls(
    service: str, prefix: str = "sensegate.", derived: Iterable[str] = ()
) -> list[AclBinding]:
    """The ACL set of one service (a key of ``SERVICES``).

    ``derived``: codes of derived entries; the share service writes their records to their own
    data topics (literal names only: it may not write any collected dataset's topic).
    """
    user, group = SERVICES[service]
    who = f"User:{user}"
    write = (_W, _D, _C)
    read = (_R, _D)
    dlq = _topics(who, f"{prefix}dlq", _LIT, write)
    acls: list[AclBinding]
    if service == "gateway":
        acls = _topics(who, f"{prefix}raw.", _PRE, write) + dlq
    elif service == "normalizer":
        acls = (
            _topics(who, f"{prefix}raw.", _PRE, read)
            + _topics(who, f"{prefix}data.", _PRE, write)
            + _topics(who, f"{prefix}quarantine", _LIT, write)
            + dlq
        )
    elif service == "sink":
        acls = _topics(who, f"{prefix}data.", _PRE, read) + dlq
    elif service == "share":
        acls = (
            _topics(who, f"{prefix}data.", _PRE, read)
            + _topics(who, f"{prefix}share.", _PRE, write)
            + _topics(who, f"{prefix}open.", _PRE, write)
            + [b for code in sorted(set(derived)) for b in _topics(who, f"{prefix}data.{code}", _LIT, write)]
            + dlq
        )
    elif service == "objections":
        # Writes only: the corrected records come from PostgreSQL, never from a data topic.
        acls = (
            _topics(who, f"{prefix}corrections", _LIT, write)
            + _topics(who, f"{prefix}share.", _PRE, write)
            + _topics(who, f"{prefix}open.", _PRE, write)
        )
    elif service == "monitor":
        acls = _topics(who, prefix, _PRE, (_D,))
        acls.append(AclBinding(who, _G, "sensegate-", _PRE, _D))
    else:  # pragma: no cover - SERVICES lookup above already raised KeyError
        acls = []
    if group is not None:
        acls.append(AclBinding(who, _G, group, _PRE, _R))
    return sorted(acls)


def grant_user(grant_id: int, applicant: str) -> str:
    """SCRAM user name of a grant's principal (one principal per approved application)."""
    return f"grant-{grant_id}-{applicant}"


def grant_group_prefix(grant_id: int) -> str:
    """Consumer group prefix a grant's principal may use (e.g. ``grant-7-``)."""
    return f"grant-{grant_id}-"


def grant_acls(grant_id: int, applicant: str, topics: list[str]) -> list[AclBinding]:
    """READ+DESCRIBE on exactly the granted topics, and READ on the grant's own group prefix."""
    who = f"User:{grant_user(grant_id, applicant)}"
    acls = [AclBinding(who, _T, t, _LIT, op) for t in topics for op in (_R, _D)]
    acls.append(AclBinding(who, _G, grant_group_prefix(grant_id), _PRE, _R))
    return sorted(acls)
