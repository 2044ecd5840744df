"""V2X observation time: own time, else the vendor header time, else receive time; the clock is flagged."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr

from processors.catalog import load_catalog
from processors.codecs.v2x import build_vendor_header, encode_frame
from processors.normalize.contract import BatchResult
from processors.normalize.mappers.v2x import V2xMapper
from processors.normalize.processor import NormalizeProcessor, ns_to_datetime
from processors.normalize.pseudonymize import Pseudonymizer
from processors.normalize.quality import QualityConfig
from tests.fixtures.normalize import FakeRegistry, TestDevice, raw_record
from tests.unit.codecs.v2x import samples

RSU = "RSU00001"
SETS = ("v2x_road_event", "v2x_intersection")


def _process(
    payload: bytes, framing: bool, received_ns: int, profile: str | None = None
) -> BatchResult:
    device = TestDevice("v2x", RSU, "jl_traffic_police", SETS, v2x_framing=framing, profile=profile)
    proc = NormalizeProcessor(
        catalog=load_catalog(),
        registry=FakeRegistry(device),
        mappers={"v2x": V2xMapper()},
        pseudonymizer=Pseudonymizer({"k1": SecretStr("s" * 24)}, "k1"),
        quality=QualityConfig(max_age_s=1e10, late_after_s=1e10),
    )
    return proc.process([raw_record(
                payload,
                family="v2x",
                device_id=RSU,
                received_ns=received_ns,
                topic=f"V2X/RSU/{RSU}/RSI/UP",
            )])


def _rsi_without_moy() -> bytes:
    value = samples.rsi()
    del value["rsiFrame"]["moy"]
    return encode_frame(value)


@pytest.mark.parametrize("via_profile", [False, True])
def test_rsi_without_own_time_uses_the_vendor_header(via_profile: bool) -> None:
    received = time.time_ns()
    header_ms = received // 1_000_000 - 2_500  # the RSU stamped it 2.5 s before we received it
    frame = build_vendor_header(RSU, header_ms, _rsi_without_moy())
    # framing comes from the device entry, or from its profile (rsu-uper-framed)
    result = _process(
        frame, framing=not via_profile, received_ns=received,
        profile="rsu-uper-framed" if via_profile else None,
    )  # fmt: skip
    assert not result.dead_letters, result.dead_letters
    assert result.records
    for rec in result.records:
        assert rec.observed_at == ns_to_datetime(header_ms * 1_000_000)
        assert "clock_header" in rec.quality


def test_rsi_without_any_clock_uses_receive_time() -> None:
    received = time.time_ns()
    result = _process(_rsi_without_moy(), framing=False, received_ns=received)
    assert result.records
    for rec in result.records:
        assert rec.observed_at == ns_to_datetime(received)
        assert "clock_receive" in rec.quality


def test_rsi_with_its_own_time_uses_it() -> None:
    result = _process(encode_frame(samples.rsi()), framing=False, received_ns=time.time_ns())
    assert result.records
    assert all("clock_device" in rec.quality for rec in result.records)
