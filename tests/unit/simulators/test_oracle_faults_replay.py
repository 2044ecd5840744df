"""Oracle arithmetic, fault options, replay files and the registry CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from processors.profiles import load_profiles
from processors.registry.models import Device
from simulators import FleetConfig, SimMessage, generate, registry_csv
from simulators.exceptions import ConfigError
from simulators.faults import FAULT_NAMES, parse_faults
from simulators.oracle import LogEntry, Observations, evaluate, read_log
from simulators.replay import ReplayWriter, read_replay, topic_identity

START = 1767225600000


def _entry(
    n: int, dataset: str = "agri_soil", outcome: str = "ok", sha: str | None = None
) -> LogEntry:
    return LogEntry(f"m{n}", "dev", "agri", (dataset,), "data", sha or f"sha{n}", outcome, 1, 2)


def test_oracle_counts_loss_duplicates_and_unexpected() -> None:
    entries = [_entry(i) for i in range(5)] + [
        LogEntry("bad", "dev", "agri", ("dlq",), "dlq", "shaX", "ok", 1, 2)
    ]
    rows = {
        "agri_soil": [
            ("sha0", "r0"),
            ("sha1", "r1"),
            ("sha1", "r1"),
            ("sha3", "r3"),
            ("shaX", "rx"),
        ]
    }
    report = evaluate(
        entries, Observations(rows=rows, dead={"sha2": 1}, raw={f"sha{i}": 1 for i in range(5)})
    )
    soil = report.groups["agri_soil"]
    assert (soil.sent, soil.acknowledged, soil.stored, soil.dead_lettered) == (5, 5, 3, 1)
    assert soil.lost == 1 and report.lost_ids == ["m4"]
    assert soil.duplicated == 1
    assert report.groups["dlq"].unexpected == 1 and report.groups["dlq"].lost == 0
    assert not report.ok
    assert "FAIL" in report.render()


def test_oracle_passes_clean_run_and_counts_kafka_duplicates() -> None:
    entries = [_entry(i) for i in range(3)] + [_entry(9, sha="sha0")]  # a deliberate duplicate
    rows = {"agri_soil": [("sha0", "r0"), ("sha1", "r1"), ("sha2", "r2")]}
    report = evaluate(entries, Observations(rows=rows, raw={"sha0": 3, "sha1": 1, "sha2": 1}))
    assert report.ok and report.totals.lost == 0
    assert report.groups["agri_soil"].dup_kafka == 1  # 3 copies for 2 sends


def test_strict_oracle_counts_dead_lettered_valid_data_as_unexplained() -> None:
    """A valid message dead-lettered (not stored) is a loss in disguise; injected bad input is not."""
    entries = [_entry(i) for i in range(3)] + [
        LogEntry("m9", "dev", "agri", ("agri_soil",), "data", "sha9", "ok", 1, 2, fault="truncated"),
        LogEntry("bad", "dev", "agri", ("dlq",), "dlq", "shaX", "ok", 1, 2, fault="malformed"),
    ]
    obs = Observations(
        rows={"agri_soil": [("sha0", "r0"), ("sha1", "r1")]},
        dead={"sha2": 1, "sha9": 1, "shaX": 1},
        dead_reasons={
            "sha2": frozenset({"sparkplug_no_birth"}),
            "sha9": frozenset({"decode_error"}),
            "shaX": frozenset({"decode_error"}),
        },
    )
    lenient = evaluate(entries, obs)
    assert lenient.ok and lenient.totals.dead_unexplained == 0
    strict = evaluate(entries, obs, strict=True)
    assert not strict.ok
    assert strict.groups["agri_soil"].dead_unexplained == 1
    assert strict.unexplained_ids == ["m2:sparkplug_no_birth"]
    assert strict.dead_reasons["agri_soil"] == {"sparkplug_no_birth": 1, "decode_error": 1}
    assert strict.dead_reasons["dlq"] == {"decode_error": 1}
    assert "dead letters of agri_soil by reason: decode_error=1, sparkplug_no_birth=1" in (
        strict.render()
    )


def test_oracle_without_database_uses_raw_topic() -> None:
    report = evaluate([_entry(0), _entry(1)], Observations(raw={"sha0": 1}), db_checked=False)
    assert report.totals.lost == 1


def test_outcome_log_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(_entry(1).to_json() + "\n\n" + _entry(2, outcome="info").to_json() + "\n")
    assert [e.outcome for e in read_log(path)] == ["ok", "info"]


def test_parse_faults() -> None:
    assert parse_faults("duplicate=0.1, malformed ,seq_gap=0") == {
        "duplicate": 0.1,
        "malformed": 0.01,
        "seq-gap": 0.0,
    }
    with pytest.raises(ConfigError):
        parse_faults("explode=0.1")
    with pytest.raises(ConfigError):
        parse_faults("duplicate=2")
    assert "spoof" in FAULT_NAMES


def test_faults_mark_expectations() -> None:
    faults = dict.fromkeys(
        (
            "malformed",
            "truncated",
            "duplicate",
            "future",
            "unknown-device",
            "spoof",
            "seq-gap",
            "missing-birth",
            "oversized",
        ),
        0.05,
    )
    config = FleetConfig(
        devices=6,
        rate=60.0,
        duration_s=20.0,
        seed=3,
        start_ms=START,
        faults=faults,
        oversize_bytes=4096,
    )
    msgs = [m for m in generate(config) if isinstance(m, SimMessage)]
    seen = {m.fault for m in msgs}
    assert set(faults) <= seen
    for m in msgs:
        if m.fault in ("malformed", "future", "missing-birth", "oversized"):
            assert m.expect == "dlq" and not m.datasets
        if m.fault == "oversized":
            assert len(m.payload) >= 4096
        if m.fault == "unknown-device":
            assert m.expect == "quarantine"
        if m.fault == "seq-gap":
            assert not m.publish


def test_replay_file_round_trip(tmp_path: Path) -> None:
    config = FleetConfig(
        devices=3, rate=30.0, duration_s=3.0, seed=2, start_ms=START, faults={"disconnect": 0.2}
    )
    items = list(generate(config))
    path = tmp_path / "run.jsonl.gz"
    writer = ReplayWriter(path, {"seed": 2})
    for item in items:
        writer.write(item)
    writer.close()
    header, back = read_replay(path)
    assert header["meta"] == {"seed": 2}
    assert list(back) == items


def test_topic_identity() -> None:
    assert topic_identity("V2X/RSU/R1/SPAT/UP/drv") == ("v2x", "R1")
    assert topic_identity("application/x/device/ABC/event/up") == ("agri", "abc")
    assert topic_identity("spBv1.0/G/DDATA/e/d") == ("iiot", "G/e/d")
    assert topic_identity("spBv1.0/STATE/host") == ("", "")


def test_registry_csv_rows_are_valid_devices() -> None:
    text = registry_csv(FleetConfig(devices=6, seed=4))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == (
        "family,device_id,provider,datasets,codec,v2x_edition,v2x_framing,industrial_id,lat,lon,"
        "profile,profile_version"
    )
    devices = [
        Device.model_validate({k: (v if v != "" else None) for k, v in r.items()}) for r in rows
    ]
    assert {d.family for d in devices} == {"v2x", "agri", "iiot"}
    published = {
        m.device_id
        for m in generate(FleetConfig(devices=6, seed=4, start_ms=START, duration_s=5, rate=30))
        if isinstance(m, SimMessage)
    }
    registered = {d.device_id for d in devices}
    assert published <= registered
    # every agricultural device is bound to a profile of the repository
    known = {p.name for p in load_profiles()}
    assert all(d.profile in known for d in devices if d.family == "agri")
