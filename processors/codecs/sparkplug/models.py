"""Typed results of Sparkplug B decoding: metrics with their values, and the per-message outcome."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from processors.codecs.sparkplug.datatypes import DataType

__all__ = [
    "CellValue",
    "DataSet",
    "HostState",
    "MetaData",
    "Metric",
    "MetricValue",
    "PropertySet",
    "PropertyValue",
    "RebirthRequest",
    "SeqStatus",
    "SparkplugMessage",
    "Template",
    "TemplateParameter",
]

_FROZEN = ConfigDict(frozen=True, ser_json_bytes="base64", val_json_bytes="base64")

CellValue = int | float | bool | str | None


class MetaData(BaseModel):
    """Metric metadata (mostly for Bytes/File metrics)."""

    model_config = _FROZEN

    is_multi_part: bool | None = None
    content_type: str | None = None
    size: int | None = None
    seq: int | None = None
    file_name: str | None = None
    file_type: str | None = None
    md5: str | None = None
    description: str | None = None


class PropertyValue(BaseModel):
    """One property: its datatype code and typed value (None when ``is_null``)."""

    model_config = _FROZEN

    type: int
    is_null: bool = False
    value: int | float | bool | str | PropertySet | tuple[PropertySet, ...] | None = None


class PropertySet(BaseModel):
    """Metric properties keyed by name (e.g. ``engUnit``, ``Quality``)."""

    model_config = _FROZEN

    values: dict[str, PropertyValue] = {}


class DataSet(BaseModel):
    """A DataSet value: column names, their datatype codes and the typed rows."""

    model_config = _FROZEN

    columns: tuple[str, ...]
    types: tuple[int, ...]
    rows: tuple[tuple[CellValue, ...], ...] = ()


class TemplateParameter(BaseModel):
    """A Template parameter."""

    model_config = _FROZEN

    name: str | None = None
    type: int = 0
    value: CellValue = None


class Template(BaseModel):
    """A Template definition or instance with its member metrics."""

    model_config = _FROZEN

    version: str | None = None
    template_ref: str | None = None
    is_definition: bool = False
    metrics: tuple[Metric, ...] = ()
    parameters: tuple[TemplateParameter, ...] = ()


MetricValue = (
    int
    | float
    | bool
    | str
    | bytes
    | list[int]
    | list[float]
    | list[bool]
    | list[str]
    | DataSet
    | Template
    | None
)


class Metric(BaseModel):
    """One decoded metric.

    ``value`` is typed by ``datatype``: signed integers are sign-extended, DateTime is milliseconds
    since the epoch (see ``as_datetime``), arrays are lists, Bytes/File are bytes, DataSet and
    Template are models; None when ``is_null`` or when no value was sent. In DATA messages ``name``
    and ``datatype`` are filled from the birth when only the alias was sent; ``name`` stays None if
    the alias is unknown.
    """

    model_config = _FROZEN

    name: str | None = None
    alias: int | None = None
    datatype: int = DataType.UNKNOWN
    timestamp: int | None = None
    value: MetricValue = None
    is_null: bool = False
    is_historical: bool = False
    is_transient: bool = False
    metadata: MetaData | None = None
    properties: PropertySet | None = None

    @property
    def datatype_name(self) -> str:
        """Specification name of the datatype, or ``Unknown(<code>)`` for a code we do not know."""
        try:
            return DataType(self.datatype).spec_name
        except ValueError:
            return f"Unknown({self.datatype})"

    def as_datetime(self) -> datetime | None:
        """The value of a DateTime metric as an aware UTC datetime (None for other types or null)."""
        if self.datatype != DataType.DATETIME or not isinstance(self.value, int):
            return None
        return datetime.fromtimestamp(self.value / 1000, tz=UTC)

    def scalar_columns(self) -> dict[str, float | str | bool | None]:
        """``value_double`` / ``value_text`` / ``value_bool`` as used by the ``iiot_metric`` dataset."""
        value = self.value
        out: dict[str, float | str | bool | None] = {
            "value_double": None,
            "value_text": None,
            "value_bool": None,
        }
        if isinstance(value, bool):
            out["value_bool"] = value
        elif isinstance(value, int | float) and self.datatype != DataType.DATETIME:
            out["value_double"] = float(value)
        elif isinstance(value, int):
            out["value_text"] = self.as_datetime().isoformat()  # type: ignore[union-attr]
        elif isinstance(value, str):
            out["value_text"] = value
        elif value is not None and not isinstance(value, bytes):
            out["value_text"] = _compact_json(value)
        return out


class HostState(BaseModel):
    """Body of a STATE message (Sparkplug 3.0: JSON ``{"online": bool, "timestamp": ms}``)."""

    model_config = _FROZEN

    online: bool
    timestamp: int


class RebirthRequest(BaseModel):
    """Action for the normalizer: ask edge node ``group/edge_node`` to re-publish its births.

    The normalizer publishes ``payload``, an NCMD with ``Node Control/Rebirth`` = true, to ``topic``
    (processors/normalize/rebirth.py); ``reason`` says why, for the log.
    """

    model_config = _FROZEN

    group: str
    edge_node: str
    topic: str
    payload: bytes
    reason: str


SeqStatus = Literal["ok", "first", "gap", "duplicate", "untracked"]


class SparkplugMessage(BaseModel):
    """One decoded Sparkplug message with the host state machine's verdict.

    ``birth_known`` is False when a DATA/DEATH message arrived for a node or device without a known
    birth; its aliases cannot all be resolved (``unresolved_aliases``) and the normalizer should
    dead-letter it with reason ``sparkplug_no_birth``. ``stale`` says the metrics of this node or
    device are not current (after a death or a sequence gap, until the next birth). ``rebirth``,
    when set, is an NCMD the normalizer must publish. ``ignored`` marks messages that change
    nothing, such as an NDEATH whose bdSeq belongs to an older session.
    """

    model_config = _FROZEN

    topic: str
    message_type: str
    group: str = ""
    edge_node: str = ""
    device: str | None = None
    host_id: str | None = None
    timestamp: int | None = None
    seq: int | None = None
    uuid: str | None = None
    body: bytes | None = None
    metrics: tuple[Metric, ...] = ()
    bd_seq: int | None = None
    state: HostState | None = None
    seq_status: SeqStatus = "untracked"
    birth_known: bool = True
    stale: bool = False
    ignored: bool = False
    unresolved_aliases: tuple[int, ...] = ()
    rebirth: RebirthRequest | None = None


def _compact_json(value: object) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, separators=(",", ":"))


PropertyValue.model_rebuild()
Template.model_rebuild()
