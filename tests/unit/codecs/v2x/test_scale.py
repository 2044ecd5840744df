"""The scaling module: factors, sentinels and time resolution, over arrays."""

from __future__ import annotations

import numpy as np
import pytest

from processors.codecs.v2x import scale

# 2020-11-14T06:55:02.333Z
REF_MS = 1_605_336_902_333


def test_factors_and_sentinels_vectorised() -> None:
    assert scale.lat_deg([297241937, -900000000, 900000001]).tolist()[:2] == pytest.approx(
        [29.7241937, -90.0])
    assert np.isnan(scale.lat_deg([900000001])[0]) and np.isnan(scale.lon_deg([1800000001])[0])
    assert scale.speed_mps([258, 0]).tolist() == pytest.approx([5.16, 0.0])
    assert np.isnan(scale.speed_mps([8191])[0])
    assert scale.heading_deg([13556, 0, 28799]).tolist() == pytest.approx([169.45, 0.0, 359.9875])
    assert np.isnan(scale.heading_deg([28800])[0])
    assert scale.elevation_m([2150]).tolist() == [215.0] and np.isnan(scale.elevation_m([-4096])[0])
    assert scale.size_cm_m([185]).tolist() == pytest.approx([1.85]) and np.isnan(scale.size_cm_m([0])[0])
    assert scale.vehicle_height_m([30]).tolist() == pytest.approx([1.5])
    assert scale.radius_m([500]).tolist() == [50.0]
    assert scale.time_mark_s([30, 36000]).tolist() == [3.0, 3600.0]
    assert np.isnan(scale.time_mark_s([36001])[0])
    assert np.isnan(scale.acceleration_mps2([2001])[0])
    assert scale.coarse_heading_deg([60]).tolist() == [90.0]
    assert scale.vert_offset_m([5, -128], [8, 8])[0] == pytest.approx(0.5)
    assert np.isnan(scale.vert_offset_m([-128], [8])[0])
    assert scale.priority_level(b"\xe0") == 7 and scale.priority_level(b"\x1f") == 0
    assert scale.confidence_ratio([200]).tolist() == [1.0]


def test_resolve_dsecond_picks_nearest_minute() -> None:
    got = scale.resolve_dsecond([2333, 59000, 1000, 65535], REF_MS)
    as_iso = [str(np.datetime64(int(v), "ms")) for v in got[:3]]
    assert as_iso == ["2020-11-14T06:55:02.333", "2020-11-14T06:54:59.000", "2020-11-14T06:55:01.000"]
    assert got[3] == -1


def test_resolve_moy_in_year_of_reference_and_across_new_year() -> None:
    (minute,) = scale.resolve_moy([458335], REF_MS)
    assert str(np.datetime64(int(minute), "ms")) == "2020-11-14T06:55:00.000"
    new_year = 1_609_459_230_000  # 2021-01-01T00:00:30Z; a message from 23:59 on 31 Dec 2020
    (late,) = scale.resolve_moy([366 * 1440 - 1], new_year)
    assert str(np.datetime64(int(late), "ms")) == "2020-12-31T23:59:00.000"
    assert scale.resolve_moy([527040], REF_MS)[0] == -1
    assert scale.resolve_moy_dsecond(458335, 5238, REF_MS) == REF_MS + 2905


def test_resolve_time_mark_wraps_into_next_hour() -> None:
    # 06:55:02.333 is 3302.333 s into the hour; mark 100 (10 s) lies in the next hour
    delta = scale.resolve_time_mark([33100, 100, 36001], REF_MS)
    assert delta[0] == pytest.approx(7.667) and delta[1] == pytest.approx(307.667)
    assert np.isnan(delta[2])


def test_distance() -> None:
    assert scale.distance_km(39, 116, 29.7241937, 107.4134465) == pytest.approx(1296.7, abs=0.1)


def test_resolve_dsecond_prefers_the_past_for_late_messages() -> None:
    """A secMark 34 s older than the receive time (a queue during an outage) stays in the past."""
    (late,) = scale.resolve_dsecond([(REF_MS - 34_000) % 60_000], REF_MS)
    assert late == REF_MS - 34_000
    (almost_minute,) = scale.resolve_dsecond([(REF_MS - 49_000) % 60_000], REF_MS)
    assert almost_minute == REF_MS - 49_000
    (skewed,) = scale.resolve_dsecond([(REF_MS + 8_000) % 60_000], REF_MS)  # clock a bit ahead
    assert skewed == REF_MS + 8_000
