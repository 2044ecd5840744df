"""Industrial mapper: Sparkplug B messages -> ``iiot_metric`` candidates (one per named metric).

BIRTH and DATA messages yield records; deaths, STATE and commands yield none (they only change the
host state kept by the codec). DATA for a node or device without a known birth is refused with
``sparkplug_no_birth`` and carries the codec's rebirth request. Protocol metrics (``bdSeq``,
``Node Control/*``, ``Device Control/*``) are not observations and are skipped.

Natural key (docs/reliability.md §3): group, edge, device, bdSeq, seq, payload time, metric name.
"""

from __future__ import annotations

from contracts.dead_letter import ReasonCode
from contracts.envelope import RawRecord
from contracts.record import RecordValue
from processors.codecs.sparkplug import JsonFileBirthStore, SparkplugCodec, SparkplugMessage
from processors.codecs.sparkplug.models import datatype_name, scalar_columns
from processors.normalize.catalog_view import DeviceLike
from processors.normalize.contract import Candidate, Mapped, RebirthRequest, RecordRejected
from processors.normalize.mapper_table import MapperConfig

__all__ = ["IiotMapper"]

_RECORD_TYPES = frozenset({"NBIRTH", "DBIRTH", "NDATA", "DDATA"})
_SKIP_PREFIXES = ("Node Control/", "Device Control/")


class IiotMapper:
    """Stateful (Sparkplug host): feed it one partition's messages in order, from one thread."""

    family = "iiot"

    def __init__(
        self, config: MapperConfig | None = None, *, profiles: object = None, catalog: object = None
    ) -> None:
        # Sparkplug metrics feed the generic iiot_metric by name; profiles are not consulted yet.
        del profiles, catalog
        cfg = config or MapperConfig()
        store = JsonFileBirthStore(cfg.sparkplug_state_dir) if cfg.sparkplug_state_dir else None
        self._codec = SparkplugCodec(store)
        self._bd_seq: dict[str, int | None] = {}

    def reload(self) -> None:
        """Forget what this instance remembers and re-read the shared birth store.

        Called on every partition assignment: a node's births may have been processed by another
        instance since; a stale bdSeq here would put a different natural key on the same message.
        """
        self._codec.reload()
        self._bd_seq.clear()

    def map(self, raw: RawRecord, device: DeviceLike) -> Mapped:
        """Decode one Sparkplug message and build a candidate per metric."""
        env = raw.envelope
        codec = self._codec
        msg = codec.decode(env.payload, env)  # a CodecError passes: it is a Rejected
        rebirths = _rebirths(msg)
        if msg.message_type not in _RECORD_TYPES or msg.ignored:
            return Mapped((), codec.name, codec.version, rebirths)
        if not msg.birth_known:
            unresolved = ",".join(map(str, msg.unresolved_aliases)) or "-"
            detail = f"{msg.message_type} without a known birth (unresolved aliases: {unresolved})"
            raise RecordRejected(ReasonCode.SPARKPLUG_NO_BIRTH, detail, rebirths=rebirths)
        node_key = f"{msg.group}/{msg.edge_node}"
        if msg.message_type == "NBIRTH":
            self._bd_seq[node_key] = msg.bd_seq
        elif node_key not in self._bd_seq:
            snap = codec.host.snapshot(node_key)
            self._bd_seq[node_key] = snap.bd_seq if snap is not None else None
        bd_seq = self._bd_seq[node_key]
        path = node_key if msg.device is None else f"{node_key}/{msg.device}"
        base = (
            msg.group,
            msg.edge_node,
            msg.device or "",
            str(bd_seq),
            str(msg.seq),
            str(msg.timestamp),
        )
        cands: list[Candidate] = []
        cols = msg.columns
        flags = ("stale",) if msg.stale else ()
        # Straight from the decoder's columns: no metric model, one values dict per record.
        for name, datatype, ts_ms, value, historical in zip(
            cols.names, cols.datatypes, cols.timestamps, cols.values, cols.is_historical,
            strict=True,
        ):  # fmt: skip
            if name is None or name == "bdSeq" or name.startswith(_SKIP_PREFIXES):
                continue
            ts_ms = ts_ms or msg.timestamp  # noqa: PLW2901 - a metric without time takes the payload's
            values: dict[str, RecordValue] = {
                "edge_node": node_key,
                "device": msg.device,
                "metric": name,
                **scalar_columns(datatype, value),
                "datatype": datatype_name(datatype),
                "industrial_id": device.industrial_id,
                "seq": msg.seq,
                "bd_seq": bd_seq,
                "is_historical": historical,
                "stale": msg.stale,
            }
            cands.append(
                Candidate(
                    dataset="iiot_metric",
                    entity_id=env.device_id,
                    key_parts=(*base, name),
                    observed_ns=env.received_ns if ts_ms is None else ts_ms * 1_000_000,
                    values={k: v for k, v in values.items() if v is not None},
                    flags=flags,
                    payload_device_id=path,
                )
            )
        return Mapped(tuple(cands), codec.name, codec.version, rebirths)


def _rebirths(msg: SparkplugMessage) -> tuple[RebirthRequest, ...]:
    return () if msg.rebirth is None else (msg.rebirth,)
