from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from processors.exceptions import ConfigurationError
from processors.share.deidentify import (
    METRES_PER_DEGREE,
    CellWindow,
    RotatingKeyring,
    WindowKey,
    grid_cell,
    time_bucket,
)

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
KEYS = {"m1": SecretStr("a" * 32), "m2": SecretStr("b" * 32)}


def _pseudo(
    ring: RotatingKeyring, value: object, moment: datetime, **kw: object
) -> tuple[str, str]:
    args: dict[str, object] = {"tier": "share", "dataset": "d", "item": "ptc_id", "epoch_days": 1}
    args.update(kw)
    return ring.pseudonym(value, moment=moment, **args)  # type: ignore[arg-type]


def test_hmac_stable_within_key_and_epoch() -> None:
    ring = RotatingKeyring(KEYS, "m1")
    a, key_a = _pseudo(ring, "12345", T0)
    b, key_b = _pseudo(ring, 12345, T0 + timedelta(hours=3))
    assert a == b and key_a == key_b
    assert key_a.startswith("m1:share:")
    assert len(a) == 32 and "12345" not in a


def test_hmac_rotates_with_epoch_master_tier_and_item() -> None:
    ring = RotatingKeyring(KEYS, "m1")
    base, key = _pseudo(ring, "12345", T0)
    next_day, next_key = _pseudo(ring, "12345", T0 + timedelta(days=1))
    assert next_day != base and next_key != key
    other_master, other_key = _pseudo(RotatingKeyring(KEYS, "m2"), "12345", T0)
    assert other_master != base and other_key.startswith("m2:")
    assert _pseudo(ring, "12345", T0, tier="open")[0] != base
    assert _pseudo(ring, "12345", T0, item="rsu_id")[0] != base
    assert _pseudo(ring, "12345", T0, epoch_days=30)[1] != key


def test_keyring_refuses_bad_configuration() -> None:
    with pytest.raises(ConfigurationError):
        RotatingKeyring(KEYS, "missing")
    with pytest.raises(ConfigurationError):
        RotatingKeyring({"short": SecretStr("x")}, "short")


@given(
    lat=st.floats(min_value=-80, max_value=80),
    lon=st.floats(min_value=-179.9, max_value=179.9),
    size=st.sampled_from([100, 500, 1000, 5000]),
)
def test_grid_cell_contains_point_and_is_stable(lat: float, lon: float, size: int) -> None:
    cell = grid_cell(lat, lon, size)
    # the centre lies within half a cell of the point (north-south exactly, east-west scaled)
    assert abs(cell.lat - lat) * METRES_PER_DEGREE <= size / 2 + 1
    # generalising the centre again gives the same cell: released positions carry no extra detail
    assert grid_cell(cell.lat, cell.lon, size) == cell


def test_grid_cell_merges_nearby_points() -> None:
    a = grid_cell(43.91234, 125.32345, 1000)
    b = grid_cell(43.91236, 125.32349, 1000)
    assert a == b
    assert a.cell_id.startswith("g1000:")
    assert a.lat != 43.91234


def test_time_bucket_floors_and_drops_subseconds() -> None:
    moment = datetime(2025, 3, 1, 8, 7, 59, 999_000, tzinfo=UTC)
    assert time_bucket(moment, 300) == datetime(2025, 3, 1, 8, 5, tzinfo=UTC)
    assert time_bucket(moment, 3600) == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert time_bucket(moment, 1) == moment.replace(microsecond=0)
    with pytest.raises(ConfigurationError):
        time_bucket(moment, 0)


def _key(cell: str, minute: int) -> WindowKey:
    return WindowKey("t", cell, T0 + timedelta(minutes=minute))


def test_k_suppression_releases_only_cells_with_k_entities() -> None:
    window = CellWindow(bucket_s=300, k=3)
    for i, entity in enumerate(["a", "b", "c", "a"]):
        window.add(_key("big", 0), entity, f"row{i}", ("t", 0), i)
    window.add(_key("small", 0), "x", "lonely", ("t", 0), 10)
    window.add(_key("small", 0), "x", "lonely again", ("t", 0), 11)
    assert window.held_offsets() == {("t", 0): 0}
    released = list(window.close_until(T0 + timedelta(minutes=6)))
    by_cell = {r.key.cell_id: r for r in released}
    assert by_cell["big"].released and by_cell["big"].entity_count == 3
    assert len(by_cell["big"].rows) == 4
    assert not by_cell["small"].released and by_cell["small"].entity_count == 1
    assert window.held_offsets() == {}


def test_closed_window_refuses_late_rows() -> None:
    window = CellWindow(bucket_s=300, k=1)
    window.add(_key("c", 0), "a", "r", ("t", 0), 0)
    assert [r.key.cell_id for r in window.close_until(T0 + timedelta(minutes=5))] == ["c"]
    assert window.add(_key("c", 0), "b", "late", ("t", 0), 1) is False
    assert window.late == 1
    assert window.add(_key("c", 5), "b", "next bucket", ("t", 0), 2) is True


def test_window_stays_open_until_bucket_end_plus_lateness() -> None:
    window = CellWindow(bucket_s=300, k=1, lateness=timedelta(seconds=60))
    window.add(_key("c", 0), "a", "r", ("t", 0), 0)
    assert list(window.close_until(T0 + timedelta(minutes=5, seconds=30))) == []
    assert len(list(window.close_until(T0 + timedelta(minutes=6)))) == 1
