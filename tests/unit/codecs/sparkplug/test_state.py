"""Host state machine: seq gaps and wrap, missing births, deaths, alias reuse, restart from the store."""

from __future__ import annotations

from pathlib import Path

import pytest

from processors.codecs.sparkplug import (
    DataType,
    JsonFileBirthStore,
    MemoryBirthStore,
    MetricSpec,
    SparkplugCodec,
    SparkplugHost,
    SparkplugMessage,
    birth_payload,
    death_payload,
    decode_payload,
    encode_payload,
)
from tests.unit.codecs.sparkplug.helpers import DEVICE, T0, device_topic, envelope, node_topic


class Clock:
    """Manually advanced monotonic clock for the rebirth rate limit."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _send(codec: SparkplugCodec, topic: str, payload: bytes) -> SparkplugMessage:
    return codec.decode(payload, envelope(topic, payload))


def _nbirth(
    codec: SparkplugCodec, *, bd_seq: int = 0, seq: int = 0, ts: int = T0
) -> SparkplugMessage:
    specs = [MetricSpec(name="Oil/Temp", alias=1, datatype=DataType.DOUBLE, value=60.0)]
    return _send(
        codec, node_topic("NBIRTH"), birth_payload(specs, bd_seq=bd_seq, seq=seq, timestamp=ts)
    )


def _dbirth(
    codec: SparkplugCodec, seq: int, names: tuple[str, ...] = ("Flow", "Level")
) -> SparkplugMessage:
    specs = [
        MetricSpec(name=n, alias=i + 10, datatype=DataType.FLOAT, value=1.0)
        for i, n in enumerate(names)
    ]
    return _send(codec, device_topic("DBIRTH"), birth_payload(specs, seq=seq, timestamp=T0 + seq))


def _ndata(codec: SparkplugCodec, seq: int, value: float = 61.0) -> SparkplugMessage:
    spec = MetricSpec(alias=1, value=value, datatype=DataType.DOUBLE, include_datatype=False)
    return _send(codec, node_topic("NDATA"), encode_payload([spec], seq=seq, timestamp=T0 + seq))


def _ddata(codec: SparkplugCodec, seq: int, alias: int = 10) -> SparkplugMessage:
    spec = MetricSpec(alias=alias, value=2.5, datatype=DataType.FLOAT, include_datatype=False)
    return _send(codec, device_topic("DDATA"), encode_payload([spec], seq=seq, timestamp=T0 + seq))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def codec(clock: Clock) -> SparkplugCodec:
    return SparkplugCodec(host=SparkplugHost(MemoryBirthStore(), clock=clock))


def test_seq_runs_and_wraps(codec: SparkplugCodec) -> None:
    _nbirth(codec, seq=250)
    statuses = [_ndata(codec, s % 256).seq_status for s in range(251, 262)]
    assert statuses == ["ok"] * 11
    assert _ndata(codec, 6).seq_status == "ok"


def test_seq_gap_requests_rebirth_and_marks_stale_until_birth(
    codec: SparkplugCodec, clock: Clock
) -> None:
    _nbirth(codec, bd_seq=4)
    assert _ndata(codec, 1).stale is False
    gap = _ndata(codec, 3)
    assert gap.seq_status == "gap" and gap.stale
    assert gap.rebirth is not None
    assert gap.rebirth.topic == node_topic("NCMD")
    command = decode_payload(gap.rebirth.payload).metrics
    assert [(m.name, m.value) for m in command] == [("Node Control/Rebirth", True)]
    # Still stale, and no second NCMD inside the rate-limit interval.
    nxt = _ndata(codec, 4)
    assert nxt.stale and nxt.seq_status == "ok" and nxt.rebirth is None
    clock.now += 10
    assert _ndata(codec, 9).rebirth is not None
    reborn = _nbirth(codec, bd_seq=4)
    assert not reborn.stale
    assert _ndata(codec, 1).stale is False


def test_duplicate_seq_is_not_a_gap(codec: SparkplugCodec) -> None:
    _nbirth(codec)
    _ndata(codec, 1)
    dup = _ndata(codec, 1)
    assert dup.seq_status == "duplicate" and dup.rebirth is None and not dup.stale


def test_data_without_birth_requests_rebirth(codec: SparkplugCodec) -> None:
    msg = _ndata(codec, 17)
    assert not msg.birth_known and msg.stale
    assert msg.unresolved_aliases == (1,)
    assert msg.metrics[0].name is None and msg.metrics[0].value == 61.0
    assert msg.rebirth is not None and msg.rebirth.edge_node == "press-07"


def test_ddata_without_dbirth_requests_rebirth(codec: SparkplugCodec) -> None:
    _nbirth(codec)
    msg = _ddata(codec, 1)
    assert not msg.birth_known and msg.stale and msg.rebirth is not None


def test_death_then_rebirth(codec: SparkplugCodec) -> None:
    _nbirth(codec, bd_seq=7)
    _dbirth(codec, 1)
    assert _ddata(codec, 2).stale is False
    old_will = _send(codec, node_topic("NDEATH"), death_payload(6))
    assert old_will.ignored and not old_will.stale
    death = _send(codec, node_topic("NDEATH"), death_payload(7))
    assert death.stale and not death.ignored and death.bd_seq == 7
    # DATA after the death and before a new birth: stale, with a rebirth request.
    late = _ddata(codec, 3)
    assert late.stale and late.rebirth is not None
    _nbirth(codec, bd_seq=8, ts=T0 + 100)
    _dbirth(codec, 1)
    fresh = _ddata(codec, 2)
    assert not fresh.stale and fresh.seq_status == "ok" and fresh.metrics[0].name == "Flow"


def test_ddeath_marks_device_stale(codec: SparkplugCodec) -> None:
    _nbirth(codec)
    _dbirth(codec, 1)
    spec_payload = encode_payload([], seq=2, timestamp=T0 + 2)
    death = _send(codec, device_topic("DDEATH"), spec_payload)
    assert death.stale and death.device == DEVICE
    assert _ddata(codec, 3).stale


def test_alias_reuse_after_rebirth(codec: SparkplugCodec) -> None:
    _nbirth(codec)
    _dbirth(codec, 1, names=("Flow", "Level"))
    assert _ddata(codec, 2, alias=10).metrics[0].name == "Flow"
    _nbirth(codec, bd_seq=1, ts=T0 + 50)
    _dbirth(codec, 1, names=("Pressure", "Speed"))
    reused = _ddata(codec, 2, alias=10)
    assert reused.metrics[0].name == "Pressure" and not reused.stale


def test_restart_reloads_births_from_json_store(tmp_path: Path, clock: Clock) -> None:
    first = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    _nbirth(first, bd_seq=5)
    _dbirth(first, 1)
    _ddata(first, 2)
    assert list(tmp_path.glob("*.json"))
    # A new process: same directory, fresh host.
    second = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    msg = _ddata(second, 3)
    assert msg.birth_known and not msg.stale and msg.rebirth is None
    assert msg.metrics[0].name == "Flow" and msg.seq_status == "first"
    nmsg = _ndata(second, 4)
    assert nmsg.metrics[0].name == "Oil/Temp" and nmsg.seq_status == "ok"
    # The reloaded bdSeq still tells the current Will from an old one.
    assert _send(second, node_topic("NDEATH"), death_payload(4)).ignored
    assert not _send(second, node_topic("NDEATH"), death_payload(5)).ignored
    snap = second.host.snapshot("JilinPlant/press-07")
    assert snap is not None and snap.stale and not snap.online


def test_stale_state_survives_restart(tmp_path: Path, clock: Clock) -> None:
    first = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    _nbirth(first)
    _ndata(first, 1)
    assert _ndata(first, 5).stale
    second = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    assert _ndata(second, 6).stale


def test_corrupt_store_file_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "broken.json").write_text("{not json")
    store = JsonFileBirthStore(tmp_path)
    assert store.load_all() == {}


def test_restore_birth_from_raw_topic(clock: Clock) -> None:
    host = SparkplugHost(clock=clock)
    specs = [MetricSpec(name="Oil/Temp", alias=1, datatype=DataType.DOUBLE, value=60.0)]
    host.restore_birth(node_topic("NBIRTH"), birth_payload(specs, bd_seq=2, seq=0, timestamp=T0))
    codec = SparkplugCodec(host=host)
    msg = _ndata(codec, 40)
    assert msg.metrics[0].name == "Oil/Temp" and msg.seq_status == "first" and not msg.stale


def test_dbirth_before_nbirth_is_kept(codec: SparkplugCodec) -> None:
    early = _dbirth(codec, 1)
    assert early.rebirth is not None
    _nbirth(codec, ts=T0)  # older than the DBIRTH (T0 + 1): the DBIRTH stays current
    msg = _ddata(codec, 1)
    assert msg.metrics[0].name == "Flow" and not msg.stale


def test_moved_partition_finds_the_birth_another_instance_processed(
    tmp_path: Path, clock: Clock
) -> None:
    """Two normalizers on one store, both started before any birth: the chaos test's dead letters.

    Instance b knew nothing of the node when its partition came over from instance a; before the
    fix it refused every NDATA/DDATA as born-less (``sparkplug_no_birth``) until a rebirth.
    """
    a = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    b = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    _nbirth(a, bd_seq=3)
    _dbirth(a, 1)
    _ddata(a, 2)
    # the partition moves to b (a was killed): b has never seen this node
    moved = _ddata(b, 3)
    assert moved.birth_known and moved.rebirth is None and not moved.stale
    assert moved.metrics[0].name == "Flow"
    assert _ndata(b, 4).metrics[0].name == "Oil/Temp"


def test_reload_replaces_what_an_instance_remembered(tmp_path: Path, clock: Clock) -> None:
    """After a partition comes back, the node's newer birth (written by another instance) wins."""
    a = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    b = SparkplugCodec(host=SparkplugHost(JsonFileBirthStore(tmp_path), clock=clock))
    _nbirth(a, bd_seq=1)
    _dbirth(a, 1, names=("Flow", "Level"))
    _ddata(b, 2)  # b learns the node through the store
    _nbirth(a, bd_seq=2, ts=T0 + 100)  # the node is born again while a owns it
    _dbirth(a, 1, names=("Pressure", "Level"))
    stale = b.host.snapshot("JilinPlant/press-07")
    assert stale is not None and stale.bd_seq == 1  # b's memory is behind
    b.reload()  # partition assigned back to b
    fresh = b.host.snapshot("JilinPlant/press-07")
    assert fresh is not None and fresh.bd_seq == 2
    assert _ddata(b, 2).metrics[0].name == "Pressure"


def test_reload_without_store_keeps_memory(clock: Clock) -> None:
    codec = SparkplugCodec(host=SparkplugHost(None, clock=clock))
    _nbirth(codec)
    codec.reload()
    assert _ndata(codec, 1).birth_known
