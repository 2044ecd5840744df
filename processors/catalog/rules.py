"""Governance rules over one catalog entry; each finding is one plain sentence naming the field.

Rule ids follow docs/governance.md §1 (C2-C11) and §7 (F19) where one applies; the others come
from the field definitions (docs/catalog.md §1) and the de-identification rules (docs/governance.md §3).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from processors.catalog.policy import is_live_feed, kind_defaults, looser
from processors.catalog.units import ALLOWED_UNITS

if TYPE_CHECKING:
    from processors.catalog.models import AccessTerms, DatasetEntry, Item

__all__ = ["PERSONAL_SENSITIVITIES", "entry_problems", "is_update_cycle"]

# Items whose values identify or describe a person: their presence makes the entry personal data,
# and pseudonymising them does not change that (PIPL Art. 73: pseudonymised ≠ anonymised).
PERSONAL_SENSITIVITIES = frozenset({"identifier", "personal"})

_DURATION = re.compile(
    r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"
)


def is_update_cycle(value: str) -> bool:
    """Whether ``value`` is ``realtime`` or an ISO 8601 duration such as ``PT10M``."""
    return value == "realtime" or bool(_DURATION.match(value))


def entry_problems(entry: DatasetEntry) -> list[str]:
    """Every rule the entry breaks, as messages; empty when the entry is acceptable."""
    problems: list[str] = []
    problems += _identity(entry)
    problems += _classes(entry, "share", entry.share_class, entry.share_terms)
    problems += _classes(entry, "open", entry.open_class, entry.open_terms)
    problems += _grading(entry)
    problems += _kind_policy(entry)
    for item in entry.items:
        problems += _item(item)
    problems += _deidentification(entry)
    problems += _topics(entry)
    return problems


def _identity(entry: DatasetEntry) -> list[str]:
    out: list[str] = []
    if entry.secret_attribute != "non_secret":  # noqa: S105 - classification value
        out.append(
            f"secret_attribute is {entry.secret_attribute!r}: classified (涉密) data may not be "
            "catalogued here; only 'non_secret' is accepted"
        )
    if not entry.code.startswith(f"{entry.family}_"):
        out.append(f"code {entry.code!r} must start with its family prefix '{entry.family}_'")
    if len(set(entry.data_category)) != len(entry.data_category) or not entry.data_category:
        out.append("data_category must list each of public/enterprise/personal at most once, >= 1")
    if not is_update_cycle(entry.update_cycle):
        out.append(
            f"update_cycle {entry.update_cycle!r} is neither 'realtime' nor an ISO 8601 duration"
        )
    if entry.sampling_interval is not None and not is_update_cycle(entry.sampling_interval):
        out.append(f"sampling_interval {entry.sampling_interval!r} is not an ISO 8601 duration")
    names = [i.name for i in entry.items]
    if not names:
        out.append("items must not be empty")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        out.append(f"item names must be unique, repeated: {dupes}")
    reserved = {"record_id", "observed_at", "received_at", "entity_id", "natural_key"}
    clash = sorted(reserved & set(names))
    if clash:
        out.append(f"item names {clash} clash with record columns")
    pi_items = [i.name for i in entry.items if i.sensitivity in PERSONAL_SENSITIVITIES]
    if pi_items and "personal" not in entry.data_category:
        out.append(
            f"items {pi_items} are identifiers or personal data, so data_category must include "
            "'personal' (Art. 21: pseudonymised data is still personal data)"
        )
    if (
        "enterprise" in entry.data_category
        and entry.share_class != "none"
        and not entry.owner_agreement_ref
    ):
        out.append(
            "enterprise data may be shared only with the owner's agreement: set owner_agreement_ref"
        )
    return out


def _classes(entry: DatasetEntry, kind: str, cls: str, terms: AccessTerms | None) -> list[str]:
    """C2: restricted classes state their conditions and legal basis."""
    out: list[str] = []
    label = f"{kind}_class {cls!r}"
    if cls == "unconditional":
        return out
    if terms is None:
        return [f"{label} needs {kind}_terms with at least a legal_basis (C2)"]
    if not terms.legal_basis:
        out.append(f"{label} needs {kind}_terms.legal_basis (C2: restrictions need a legal basis)")
    if cls == "conditional":
        missing = [
            f
            for f, v in (
                ("conditions", terms.conditions),
                ("scope", terms.scope),
                ("purposes", terms.purposes),
            )
            if not v
        ]
        if kind == "open" and not terms.methods:
            missing.append("methods")
        if missing:
            out.append(f"{label} needs {kind}_terms.{', '.join(missing)} (C2)")
    if cls == "none" and kind == "share" and not terms.negative_list_ref:
        out.append(f"{label} needs share_terms.negative_list_ref (C2: refusal is listed)")
    return out


def _grading(entry: DatasetEntry) -> list[str]:
    out: list[str] = []
    if entry.grade in ("core", "important") and not entry.grade_basis:
        out.append(f"grade {entry.grade!r} needs grade_basis (重要数据依据)")
    if entry.grade == "core":
        if entry.open_class != "none":
            out.append("core data is never opened: open_class must be 'none' (C4)")
        if entry.share_class == "unconditional":
            out.append("core data is never shared unconditionally (C4)")
    if entry.grade == "important" and entry.open_class != "none":
        if entry.open_class == "unconditional":
            out.append("important data is never opened unconditionally (C4)")
        elif not entry.open_assessment:
            out.append(
                "important data may be opened conditionally only with an open_assessment (C4)"
            )
    personal = "personal" in entry.data_category
    if personal and entry.open_class != "none":
        out.append(
            "personal data is never opened, even pseudonymised: open_class must be 'none'; "
            "publish aggregates as a separate derived entry (C5)"
        )
    if entry.sensitive_pi:
        if entry.open_class != "none":
            out.append("sensitive personal information is never opened (C6)")
        if entry.share_class == "unconditional":
            out.append("sensitive personal information is never shared unconditionally (C6)")
        if not personal:
            out.append("sensitive_pi is set, so data_category must include 'personal'")
    if entry.commercial_secret and entry.open_class != "none":
        out.append("commercial secrets are never opened: open_class must be 'none' (C7)")
    if entry.open_class == "unconditional" and entry.share_class != "unconditional":
        out.append(
            "what is opened unconditionally must also be shared unconditionally: "
            f"share_class is {entry.share_class!r} (C8)"
        )
    if entry.open_class != "none" and entry.share_class == "none":
        out.append(
            "an entry that is opened must also be shared: the open list is part of the share "
            "list (C16)"
        )
    return out


def _kind_policy(entry: DatasetEntry) -> list[str]:
    """C9 and F19: classes looser than the data kind's default need a stated reason."""
    out: list[str] = []
    defaults = kind_defaults(
        grade=entry.grade,
        categories=entry.data_category,
        sensitive_pi=entry.sensitive_pi,
        commercial_secret=entry.commercial_secret,
        update_cycle=entry.update_cycle,
    )
    if (
        is_live_feed(entry.update_cycle)
        and entry.open_class == "unconditional"
        and not entry.live_open_justification
    ):
        out.append(
            f"C9: open_class: a live feed (update_cycle {entry.update_cycle!r}, at most hourly) "
            "is opened 'conditional' unless live_open_justification is given"
        )
    if looser(entry.share_class, defaults.share) and not entry.class_override_basis:
        out.append(
            f"F19: share_class: {entry.share_class!r} is looser than the default "
            f"{defaults.share!r} for {defaults.kind}; set class_override_basis"
        )
    # Opening personal, important, core or PI data is refused outright by C4-C6; F19 adds the
    # enterprise row, whose only hard rule (C7) covers commercial secrets.
    if (
        defaults.kind == "enterprise data"
        and looser(entry.open_class, defaults.open)
        and not entry.class_override_basis
    ):
        out.append(
            f"F19: open_class: {entry.open_class!r} is looser than the default "
            f"{defaults.open!r} for {defaults.kind}; set class_override_basis"
        )
    for index, item in enumerate(entry.items):
        for tier, override, base in (
            ("share_class", item.share_class, entry.share_class),
            ("open_class", item.open_class, entry.open_class),
        ):
            if override is not None and looser(override, base):
                out.append(
                    f"C11: items[{index}].{tier}: item {item.name!r} override {override!r} is "
                    f"looser than the entry's {base!r}; overrides may only be stricter"
                )
    if entry.derived_inputs and entry.derived_from not in (None, *entry.derived_inputs):
        out.append(
            f"C10: derived_inputs: must include derived_from {entry.derived_from!r} "
            f"(got {list(entry.derived_inputs)})"
        )
    if entry.derived_inputs and entry.derived_from is None:
        out.append("C10: derived_from: an entry with derived_inputs names its main input here")
    if entry.grade_evaluation is not None and not entry.inputs:
        out.append("C10: grade_evaluation: only a derived entry's grade is lowered by evaluation")
    return out


def _item(item: Item) -> list[str]:
    out: list[str] = []
    where = f"item {item.name!r}"
    numeric = item.type in ("double", "integer")
    if item.unit is not None:
        if not numeric:
            out.append(f"{where}: only numeric items carry a unit, {item.type} has {item.unit!r}")
        elif item.unit not in ALLOWED_UNITS:
            out.append(
                f"{where}: unit {item.unit!r} is not in the allowed UCUM list "
                "(processors/catalog/units.py)"
            )
    if (item.min is not None or item.max is not None) and not numeric:
        out.append(f"{where}: a valid range needs a numeric type, not {item.type}")
    if item.min is not None and item.max is not None and item.min > item.max:
        out.append(f"{where}: min {item.min} is greater than max {item.max}")
    if item.enum is not None and (item.type != "text" or not item.enum):
        out.append(f"{where}: enum needs a text item and at least one value")
    return out


def _deidentification(entry: DatasetEntry) -> list[str]:
    """C3 and the §7 table: what an opened entry must do with each sensitive item."""
    out: list[str] = []
    profile = entry.deidentification
    for rule in profile.rules:
        target = entry.item(rule.item)
        where = f"deidentification rule for {rule.item!r}"
        if target is None:
            out.append(f"{where}: no such item in {entry.code}")
            continue
        if rule.action == "grid":
            if rule.cell_size_m is None:
                out.append(f"{where}: action 'grid' needs cell_size_m")
            if target.sensitivity != "location":
                out.append(f"{where}: 'grid' applies to location items only")
        if rule.action == "time_bucket" and rule.bucket_s is None:
            out.append(f"{where}: action 'time_bucket' needs bucket_s")
        if rule.action == "hmac" and rule.key_epoch_days is None:
            out.append(f"{where}: action 'hmac' needs key_epoch_days (<= 30)")
    items = [r.item for r in profile.rules]
    dupes = sorted({n for n in items if items.count(n) > 1})
    if dupes:
        out.append(f"deidentification names items more than once: {dupes}")
    if profile.refuse_open and entry.open_class != "none":
        out.append("deidentification.refuse_open is set, so open_class must be 'none'")
    if entry.open_class == "none":
        if not profile.refuse_open:
            out.append("open_class 'none' must say so in deidentification: refuse_open: true")
        return out
    for item in entry.items:
        found = profile.rule_for(item.name)
        action = found.action if found else "keep"
        if item.sensitivity in PERSONAL_SENSITIVITIES and action != "drop":
            out.append(
                f"opened entry must drop identifier item {item.name!r} "
                f"(C3; a pseudonym is still personal data), rule is {action!r}"
            )
        if item.sensitivity == "location" and action not in ("drop", "grid"):
            out.append(f"opened entry must generalise or drop location item {item.name!r} (C3)")
    return out


def _topics(entry: DatasetEntry) -> list[str]:
    out: list[str] = []
    topics = entry.kafka_topics
    for tier, name, cls in (
        ("data", topics.data, "unconditional"),
        ("share", topics.share, entry.share_class),
        ("open", topics.open, entry.open_class),
    ):
        expected = f"{tier}.{entry.code}"
        if cls == "none":
            if name is not None:
                out.append(f"kafka_topics.{tier} must be absent: {tier}_class is 'none'")
        elif name != expected:
            out.append(f"kafka_topics.{tier} must be {expected!r}, got {name!r}")
    return out
