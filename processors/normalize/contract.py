"""The Processor contract: a pure, synchronous map from a batch of raw records to a BatchResult.

A processor never performs I/O and never raises for a bad input: each input yields zero or more
dataset records, or exactly one rejection (a dead letter, or a quarantine entry for unregistered
devices). Side actions the runner must carry out (Sparkplug rebirth requests) travel in the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.envelope import RawRecord
from contracts.errors import Rejected
from contracts.record import GeoPoint, RecordValue, WireRecord, WireSourceValue
from processors.codecs.sparkplug.models import RebirthRequest
from processors.exceptions import ProcessorError
from processors.normalize.catalog_view import DeviceLike

__all__ = [
    "BatchResult",
    "Candidate",
    "FamilyMapper",
    "Mapped",
    "Processor",
    "RebirthRequest",
    "RecordRejected",
]


class RecordRejected(ProcessorError, Rejected):
    """One input cannot become records; it may still carry rebirth requests to publish."""

    def __init__(
        self, reason: ReasonCode, detail: str, *, rebirths: tuple[RebirthRequest, ...] = ()
    ) -> None:
        super().__init__(reason, detail)
        self.rebirths = rebirths


@dataclass(frozen=True, slots=True)
class Candidate:
    """One would-be dataset record built by a family mapper, before governance, validation and keys.

    ``values`` may still hold clear identifiers: the pipeline pseudonymizes every item the catalog
    marks ``identifier`` before a record is built. ``key_parts`` must never hold identifiers.
    """

    dataset: str
    entity_id: str
    key_parts: tuple[str, ...]
    observed_ns: int
    values: dict[str, RecordValue]
    location: GeoPoint | None = None
    flags: tuple[str, ...] = ()
    # identity of the sender as carried inside the payload, checked against the topic's device id
    payload_device_id: str | None = None
    # device profile (name@version) that mapped the values, and the originals it converted
    profile: str | None = None
    source_values: tuple[WireSourceValue, ...] = ()


@dataclass(frozen=True, slots=True)
class Mapped:
    """What a family mapper made of one raw record."""

    candidates: tuple[Candidate, ...]
    codec: str
    codec_version: str
    rebirths: tuple[RebirthRequest, ...] = ()


class FamilyMapper(Protocol):
    """Decodes one family's raw records (codec chosen from the device entry) into candidates.

    ``map`` raises only ``Rejected`` (a RecordRejected, or the codec's CodecError as it comes);
    it may keep per-device protocol state (Sparkplug births),
    so one mapper instance belongs to one processor and is used from one thread.
    """

    family: str

    def map(self, raw: RawRecord, device: DeviceLike) -> Mapped:
        """Decode ``raw`` for the registered ``device`` and build candidate records."""
        ...


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outputs of one processed batch; the runner produces all of them before committing offsets."""

    records: tuple[WireRecord, ...] = ()
    dead_letters: tuple[DeadLetter, ...] = ()
    quarantined: tuple[DeadLetter, ...] = ()
    rebirths: tuple[RebirthRequest, ...] = ()
    duplicates: int = 0
    inputs: int = field(default=0)


class Processor(Protocol):
    """A pure, synchronous batch map; never raises for bad input, never does I/O.

    The runner depends on this contract only; ``NormalizeProcessor`` subclasses it explicitly so
    mypy checks the implementation against it.
    """

    def process(self, batch: Sequence[RawRecord]) -> BatchResult:
        """Turn one batch of raw records into records, rejections and side actions."""
        ...

    def forget(self, result: BatchResult) -> None:
        """Undo the state ``process`` kept for ``result`` (its outputs were not delivered)."""
        ...
