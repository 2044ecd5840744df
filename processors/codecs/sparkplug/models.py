"""Typed results of Sparkplug B decoding: metrics with their values, and the per-message outcome."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, PrivateAttr

from processors.codecs.sparkplug.datatypes import DataType

__all__ = [
    "CellValue",
    "DataSet",
    "HostState",
    "MetaData",
    "Metric",
    "MetricColumns",
    "MetricValue",
    "PropertySet",
    "PropertyValue",
    "RebirthRequest",
    "SeqStatus",
    "SparkplugMessage",
    "Template",
    "TemplateParameter",
    "datatype_name",
    "scalar_columns",
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
        return datatype_name(self.datatype)

    def as_datetime(self) -> datetime | None:
        """The value of a DateTime metric as an aware UTC datetime (None for other types or null)."""
        if self.datatype != DataType.DATETIME or not isinstance(self.value, int):
            return None
        return datetime.fromtimestamp(self.value / 1000, tz=UTC)

    def scalar_columns(self) -> dict[str, float | str | bool | None]:
        """``value_double`` / ``value_text`` / ``value_bool`` as used by the ``iiot_metric`` dataset."""
        return scalar_columns(self.datatype, self.value)


_NAMES: dict[int, str] = {}


def datatype_name(code: int) -> str:
    """Specification name of a datatype code, or ``Unknown(<code>)`` for a code we do not know."""
    name = _NAMES.get(code)
    if name is None:
        try:
            name = DataType(code).spec_name
        except ValueError:
            return f"Unknown({code})"
        _NAMES[code] = name
    return name


def scalar_columns(datatype: int, value: MetricValue) -> dict[str, float | str | bool | None]:
    """``value_double`` / ``value_text`` / ``value_bool`` of a metric value (``iiot_metric``)."""
    out: dict[str, float | str | bool | None] = {
        "value_double": None,
        "value_text": None,
        "value_bool": None,
    }
    if isinstance(value, bool):
        out["value_bool"] = value
    elif isinstance(value, int | float) and datatype != DataType.DATETIME:
        out["value_double"] = float(value)
    elif isinstance(value, int):
        out["value_text"] = datetime.fromtimestamp(value / 1000, tz=UTC).isoformat()
    elif isinstance(value, str):
        out["value_text"] = value
    elif value is not None and not isinstance(value, bytes):
        out["value_text"] = _compact_json(value)
    return out


@dataclass(slots=True)
class MetricColumns:
    """A payload's metrics as parallel columns (index i = the i-th metric), no model per metric.

    ``extras`` holds the rare metadata and property sets by index; ``to_metrics`` builds the
    ``Metric`` models on demand (once) for callers that want objects.
    """

    names: list[str | None] = field(default_factory=list)
    aliases: list[int | None] = field(default_factory=list)
    datatypes: list[int] = field(default_factory=list)
    timestamps: list[int | None] = field(default_factory=list)
    values: list[MetricValue] = field(default_factory=list)
    is_null: list[bool] = field(default_factory=list)
    is_historical: list[bool] = field(default_factory=list)
    is_transient: list[bool] = field(default_factory=list)
    extras: dict[int, tuple[MetaData | None, PropertySet | None]] = field(default_factory=dict)
    _metrics: tuple[Metric, ...] | None = None

    def __len__(self) -> int:
        return len(self.names)

    def to_metrics(self) -> tuple[Metric, ...]:
        """The metrics as ``Metric`` models (built on the first call, then kept)."""
        if self._metrics is None:
            out = []
            for i, name in enumerate(self.names):
                metadata, properties = self.extras.get(i, (None, None))
                metric = Metric.model_construct(
                    name=name, alias=self.aliases[i], datatype=self.datatypes[i],
                    timestamp=self.timestamps[i], value=self.values[i],
                    is_null=self.is_null[i], is_historical=self.is_historical[i],
                    is_transient=self.is_transient[i], metadata=metadata, properties=properties,
                )  # fmt: skip
                out.append(metric)
            self._metrics = tuple(out)
        return self._metrics

    @classmethod
    def of(cls, metrics: tuple[Metric, ...]) -> MetricColumns:
        """Columns holding the given metric models."""
        cols = cls(_metrics=metrics)
        for i, m in enumerate(metrics):
            cols.names.append(m.name)
            cols.aliases.append(m.alias)
            cols.datatypes.append(m.datatype)
            cols.timestamps.append(m.timestamp)
            cols.values.append(m.value)
            cols.is_null.append(m.is_null)
            cols.is_historical.append(m.is_historical)
            cols.is_transient.append(m.is_transient)
            if m.metadata is not None or m.properties is not None:
                cols.extras[i] = (m.metadata, m.properties)
        return cols


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
    bd_seq: int | None = None
    state: HostState | None = None
    seq_status: SeqStatus = "untracked"
    birth_known: bool = True
    stale: bool = False
    ignored: bool = False
    unresolved_aliases: tuple[int, ...] = ()
    rebirth: RebirthRequest | None = None
    # The metrics as columns (the decoder's form); ``metrics`` builds models from them on demand.
    _columns: MetricColumns = PrivateAttr(default_factory=MetricColumns)

    @property
    def columns(self) -> MetricColumns:
        """The metrics as parallel columns (no model per metric)."""
        return self._columns

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """The metrics as ``Metric`` models, in payload order."""
        return self._columns.to_metrics()

    def with_columns(self, columns: MetricColumns) -> SparkplugMessage:
        """This message carrying ``columns`` as its metrics (set once, right after construction)."""
        self._columns = columns
        return self


def _compact_json(value: object) -> str:
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, separators=(",", ":"))


PropertyValue.model_rebuild()
Template.model_rebuild()
