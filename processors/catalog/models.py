"""Catalog entry models (frozen pydantic): datasets, items, access terms, de-identification profiles.

Entry-level governance rules (docs/governance.md §1, C2-C9, C11; docs/catalog.md §1) run in
``DatasetEntry``'s validator and are reported together; cross-entry rules (unique codes and tables,
one source per data item, derived-from links) run in ``processors.catalog.loader``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts.families import FamilyName
from processors.catalog.policy import kind_defaults
from processors.catalog.rules import entry_problems

__all__ = [
    "AccessClass",
    "AccessTerms",
    "DataCategory",
    "DatasetEntry",
    "DeidAction",
    "DeidProfile",
    "DeidRule",
    "Grade",
    "GradeEvaluation",
    "Item",
    "ItemType",
    "KafkaTopics",
    "SensitiveAreaPolicy",
    "Sensitivity",
]

ItemType = Literal["double", "integer", "text", "boolean"]
Sensitivity = Literal["none", "identifier", "location", "personal"]
AccessClass = Literal["unconditional", "conditional", "none"]
DataCategory = Literal["public", "enterprise", "personal"]
Grade = Literal["core", "important", "general"]
DeidAction = Literal["drop", "hmac", "grid", "time_bucket", "keep"]

_SQL_NAME = r"^[a-z][a-z0-9_]{0,62}$"
Name = Annotated[str, Field(pattern=_SQL_NAME)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{2,62}$")]
Text = Annotated[str, Field(min_length=1)]

_FROZEN = ConfigDict(frozen=True, extra="forbid")


class Item(BaseModel):
    """One data item (信息项) of a dataset: a column of its table and a key of its records' values."""

    model_config = _FROZEN

    name: Name
    type: ItemType
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    max_exclusive: bool = False
    required: bool = False
    sensitivity: Sensitivity = "none"
    enum: tuple[str, ...] | None = None
    description: str | None = None
    concept: str | None = Field(
        default=None,
        description="semantic key of the observed property (一数一源); default <feature>.<name>",
    )
    share_class: AccessClass | None = Field(
        default=None, description="C11: stricter share class for this item only"
    )
    open_class: AccessClass | None = Field(
        default=None, description="C11: stricter open class for this item only"
    )

    def in_range(self, value: float) -> bool:
        """Whether a numeric value lies in the item's valid range."""
        if self.min is not None and value < self.min:
            return False
        if self.max is not None:
            return value < self.max if self.max_exclusive else value <= self.max
        return True


class GradeEvaluation(BaseModel):
    """C10: a registered de-identification or aggregation evaluation that may lower a derived grade."""

    model_config = _FROZEN

    evaluator: Text
    evaluated_at: date
    method: Text
    result: Text
    grade: Grade


class SensitiveAreaPolicy(BaseModel):
    """C15: what the share and open outputs do with a record inside a registered sensitive area."""

    model_config = _FROZEN

    action: Literal["drop", "generalize"] = "drop"
    cell_m: Annotated[int, Field(ge=1000)] | None = None

    @model_validator(mode="after")
    def _cell_for_generalize(self) -> SensitiveAreaPolicy:
        if self.action == "generalize" and self.cell_m is None:
            msg = "C15: sensitive_areas.cell_m: action 'generalize' needs cell_m (>= 1000)"
            raise ValueError(msg)
        return self


class AccessTerms(BaseModel):
    """Conditions of a restricted share or open class (共享/开放条件, 范围, 用途, 方式, 依据)."""

    model_config = _FROZEN

    conditions: str | None = None
    scope: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    legal_basis: str | None = None
    negative_list_ref: str | None = None
    license: str | None = None


class DeidRule(BaseModel):
    """How one item is treated in the open output."""

    model_config = _FROZEN

    item: Name
    action: DeidAction
    cell_size_m: Annotated[int, Field(gt=0)] | None = None
    bucket_s: Annotated[int, Field(gt=0)] | None = None
    key_epoch_days: Annotated[int, Field(gt=0, le=30)] | None = None


class DeidProfile(BaseModel):
    """De-identification profile (脱敏方案) applied before a record may be opened."""

    model_config = _FROZEN

    refuse_open: bool = False
    reason: str | None = None
    rules: tuple[DeidRule, ...] = ()
    time_bucket_s: Annotated[int, Field(gt=0)] | None = None
    location_cell_m: Annotated[int, Field(gt=0)] | None = None
    k_anonymity: Annotated[int, Field(ge=2)] | None = None

    def rule_for(self, item: str) -> DeidRule | None:
        """The rule naming ``item``, if any."""
        return next((r for r in self.rules if r.item == item), None)


class KafkaTopics(BaseModel):
    """Kafka topics of the entry, without the deployment prefix (see contracts.topics)."""

    model_config = _FROZEN

    data: str
    share: str | None = None
    open: str | None = None

    def names(self, prefix: str) -> tuple[str, ...]:
        """Full topic names under a deployment prefix such as ``sensegate.``."""
        return tuple(prefix + t for t in (self.data, self.share, self.open) if t)


class DatasetEntry(BaseModel):
    """One catalog entry (信息资源): a logical time series with its provider, classes and items.

    Immutable; validating it enforces the single-entry governance rules (see module docstring).
    """

    model_config = _FROZEN

    # identity
    code: Code
    version: Annotated[int, Field(ge=1)]
    family: FamilyName
    name: Text
    name_zh: str | None = None
    abstract: Text
    domain: Text
    keywords: tuple[str, ...] = ()
    status: Literal["draft", "published", "retired"] = "published"
    secret_attribute: str = "non_secret"  # noqa: S105 - a classification, not a password
    derived_from: str | None = None
    derived_inputs: tuple[Code, ...] = Field(
        default=(), description="C10: every entry this one is computed from (default: derived_from)"
    )
    grade_evaluation: GradeEvaluation | None = None
    # provider (exactly one unit)
    provider: Name
    provider_name: Text
    provider_uscc: str | None = None
    contact_point: Text
    # Art. 30: working days the provider has to verify, correct and answer an objection.
    objection_sla: Annotated[int, Field(ge=1, le=60)] = 10
    collection_legal_basis: Text
    owner_agreement_ref: str | None = None
    # category and grade
    data_category: tuple[DataCategory, ...]
    grade: Grade
    grade_basis: str | None = None
    sensitive_pi: bool = False
    commercial_secret: bool = False
    # sharing and opening
    share_class: AccessClass
    share_terms: AccessTerms | None = None
    open_class: AccessClass
    open_terms: AccessTerms | None = None
    open_assessment: str | None = None
    live_open_justification: str | None = None
    class_override_basis: str | None = Field(
        default=None, description="F19: why a class is looser than its data kind's default"
    )
    sensitive_areas: SensitiveAreaPolicy = SensitiveAreaPolicy()
    security_measures: tuple[str, ...] = Field(
        default=(), description="F34: measures beyond those the services enforce by class"
    )
    deidentification: DeidProfile
    # series
    feature_of_interest: Name
    source_topics: tuple[str, ...] = ()
    source_discriminator: Literal["device_profile"] | None = Field(
        default=None,
        description="C1: what splits overlapping source_topics between entries of one family",
    )
    update_cycle: Text
    sampling_interval: str | None = None
    items: tuple[Item, ...]
    # storage and distribution
    retention_days: Annotated[int, Field(ge=1)]
    storage_table: Name
    hourly_rollup: bool = False
    kafka_topics: KafkaTopics

    @model_validator(mode="before")
    @classmethod
    def _single_provider(cls, data: Any) -> Any:
        # A list here is the commonest way to declare two providers; say so plainly.
        if isinstance(data, dict) and isinstance(data.get("provider"), list | tuple):
            msg = (
                "provider must be exactly one unit code (一数一源), got a list "
                f"{list(data['provider'])}"
            )
            raise ValueError(msg)
        return data

    @model_validator(mode="before")
    @classmethod
    def _kind_defaults(cls, data: Any) -> Any:
        # F19: an entry that states no class gets its data kind's default (sharing is the rule).
        if not isinstance(data, dict) or ("share_class" in data and "open_class" in data):
            return data
        categories = data.get("data_category") or ()
        defaults = kind_defaults(
            grade=str(data.get("grade", "general")),
            categories=[str(c) for c in categories] if isinstance(categories, list | tuple) else (),
            sensitive_pi=bool(data.get("sensitive_pi", False)),
            commercial_secret=bool(data.get("commercial_secret", False)),
            update_cycle=str(data.get("update_cycle", "")),
        )
        return {"share_class": defaults.share, "open_class": defaults.open} | data

    @model_validator(mode="after")
    def _governance(self) -> DatasetEntry:
        problems = entry_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def inputs(self) -> tuple[str, ...]:
        """Codes this entry is derived from (C10); empty for a collecting entry."""
        if self.derived_inputs:
            return self.derived_inputs
        return (self.derived_from,) if self.derived_from else ()

    def item(self, name: str) -> Item | None:
        """The item called ``name``, if any."""
        return next((i for i in self.items if i.name == name), None)

    @property
    def item_names(self) -> tuple[str, ...]:
        """Item names in declaration order (the value keys of this dataset's records)."""
        return tuple(i.name for i in self.items)

    def concept_of(self, item: Item) -> str:
        """Semantic key of an item for the one-source rule."""
        return item.concept or f"{self.feature_of_interest}.{item.name}"

    def definition(self) -> dict[str, Any]:
        """JSON-ready full definition (what is registered in the database)."""
        return self.model_dump(mode="json")

    def content_sha256(self) -> str:
        """SHA-256 over the canonical JSON of the definition without its version number.

        Leaving the version out lets registration tell "same definition" from "changed definition"
        independently of what version the file claims.
        """
        doc = self.model_dump(mode="json", exclude={"version"})
        canonical = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()
