"""Device health: counter gaps become incompleteness, a device that stops is listed as silent."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from processors.catalog import Catalog, load_catalog
from processors.health import HealthTracker, counter_step
from processors.health.report import build_report, expected_interval
from processors.health.store import HealthRow
from processors.normalize.mappers.agri import AgriMapper
from processors.normalize.processor import NormalizeProcessor
from processors.normalize.pseudonymize import Pseudonymizer
from processors.profiles import ProfileBook, load_profiles
from tests.fixtures.normalize import FakeRegistry, TestDevice, chirpstack_up, raw_record
from tests.unit.profiles.lpp_reference import frame

A, B = "70b3d57ed0050001", "70b3d57ed0050002"
SEC = 1_000_000_000


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def soil(eui: str) -> TestDevice:
    return TestDevice("agri", eui, "jl_agri_bureau", ("agri_soil",), profile="sim-soil-a-lpp")


def test_counter_steps() -> None:
    assert counter_step(5, 6, None) == (0, False)
    assert counter_step(5, 9, None) == (3, False)
    assert counter_step(9, 1, None) == (0, True)  # fCnt reset (rejoin)
    assert counter_step(126, 1, 128) == (2, False)  # msgCnt wraps: 127, 0 missing
    assert counter_step(255, 0, 256) == (0, False)
    assert counter_step(7, 7, 128) == (0, False)
    assert counter_step(100, 3, 256) == (0, True)  # Sparkplug rebirth restarts at 0


def test_fcnt_gaps_show_as_incompleteness_and_stopped_device_as_silent(catalog: Catalog) -> None:
    proc = NormalizeProcessor(
        catalog=catalog,
        registry=FakeRegistry(soil(A), soil(B)),
        mappers={"agri": AgriMapper(catalog=catalog)},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("s" * 24)}, "k1"),
    )
    tracker = HealthTracker({e.code: e.family for e in catalog})
    t0 = 1_800_000_000 * SEC
    lpp = frame((1, "temperature", 8.5), (2, "humidity", 30.0))
    # A sends fCnt 1..10 but frames 4, 5 and 8 never arrive; B sends 1..3 and then stops
    sent = [(A, f, t0 + f * 900 * SEC) for f in range(1, 11) if f not in (4, 5, 8)]
    sent += [(B, f, t0 + f * 900 * SEC) for f in range(1, 4)]
    for offset, (eui, f_cnt, t_ns) in enumerate(sorted(sent, key=lambda s: s[2])):
        iso = datetime.fromtimestamp(t_ns / SEC, UTC).isoformat().replace("+00:00", "Z")
        payload = chirpstack_up(eui, lpp, f_cnt=f_cnt, time_iso=iso)
        result = proc.process([raw_record(payload, device_id=eui, received_ns=t_ns, offset=offset)])
        assert not result.dead_letters
        tracker.observe(result)
    deltas = tracker.drain()
    assert sum(d.counter_gaps for d in deltas if d.device_id == A) == 3
    assert sum(d.counter_gaps for d in deltas if d.device_id == B) == 0
    rows = {}
    for eui in (A, B):
        mine = [d for d in deltas if d.device_id == eui]
        rows[("agri", eui)] = HealthRow(
            family="agri",
            device_id=eui,
            messages=sum(d.messages for d in mine),
            records=sum(d.records for d in mine),
            dead_letters={},
            counter_gaps=sum(d.counter_gaps for d in mine),
            counter_resets=0,
            skew_ms_mean=0.0,
            skew_ms_max=0.0,
            first_seen=datetime.fromtimestamp(min(d.first_seen_ns for d in mine) / SEC, UTC),
            last_seen=datetime.fromtimestamp(max(d.last_seen_ns for d in mine) / SEC, UTC),
        )
    now = datetime.fromtimestamp(t0 / SEC, UTC) + timedelta(seconds=10 * 900 + 60)
    book = ProfileBook(load_profiles(catalog=catalog))
    report = {
        h.device_id: h
        for h in build_report(
            [soil(A), soil(B)],
            rows,
            lambda d: expected_interval(d, book, catalog),
            now=now,
            period_s=3 * 3600,
        )
    }
    a, b = report[A], report[B]
    assert a.interval_s == 900.0
    assert a.counter_completeness == pytest.approx(7 / 10)
    assert a.completeness is not None and a.completeness < 0.8
    assert not a.silent
    assert b.silent  # stopped after fCnt 3, i.e. more than 3 intervals ago
    assert b.silent_s is not None and b.silent_s > 3 * 900
    never = build_report([soil("70b3d57ed0050003")], {}, lambda d: 900.0, now=now, period_s=3600)
    assert never[0].silent and never[0].last_seen is None


def test_metrics_are_bounded_to_top_n_devices() -> None:
    from prometheus_client import REGISTRY

    from processors.health.service import HealthService

    devices = [soil(f"70b3d57ed00700{i:02x}") for i in range(25)]
    service = HealthService(
        HealthTracker({"agri_soil": "agri"}), lambda: devices, lambda d: 900.0, dsn=None, top_n=5
    )
    silent = service.refresh(now_ns=time.time_ns() + 3 * 3600 * SEC)
    assert len(silent) == 25
    per_device = [
        s
        for m in REGISTRY.collect()
        if m.name == "sensegate_device_silent_seconds"
        for s in m.samples
    ]
    assert len(per_device) == 5  # only the top N carry a device label
    assert (
        REGISTRY.get_sample_value(
            "sensegate_devices_silent", {"dataset": "agri_soil", "provider": "jl_agri_bureau"}
        )
        == 25
    )
