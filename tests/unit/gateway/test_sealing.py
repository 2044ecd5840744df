"""Raw sealing without a key database: epoch boundaries, which records are sealed, failing fast."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from contracts.dead_letter import ReasonCode
from contracts.settings import DbConfig
from gateway.forward import Outgoing
from gateway.sealing import KeyUnavailable, RawSealer, epoch_start

NS = 1_000_000_000
# A DSN nothing listens on: the tests below must never need the database.
NOWHERE = DbConfig(dsn=SecretStr("postgresql://nobody@127.0.0.1:9/none"), schema_name="s")


def _record(family: str, **kw: object) -> Outgoing:
    return Outgoing(
        topic=f"raw.{family}", key=b"rsu1", value=b"frame", headers=[], family=family,
        device_id="rsu1", received_ns=1_700_000_000 * NS, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    ("received_ns", "epoch_s", "start"),
    [
        (0, 3600, 0),
        (3600 * NS - 1, 3600, 0),  # the last nanosecond of the first epoch
        (3600 * NS, 3600, 3600 * NS),  # the first of the next
        (7 * NS + 5, 2, 6 * NS),
        (1_700_000_001_999_999_999, 2, 1_700_000_000 * NS),
    ],
)
def test_epoch_start_is_the_slice_a_receive_time_falls_in(
    received_ns: int, epoch_s: int, start: int
) -> None:
    assert epoch_start(received_ns, epoch_s) == start


def test_only_raw_records_of_sealed_families_not_yet_sealed_are_wanted() -> None:
    sealer = RawSealer(["v2x"], 3600, NOWHERE, timeout_s=1.0)
    assert sealer.wants(_record("v2x"))
    assert not sealer.wants(_record("agri"))
    assert not sealer.wants(_record("v2x", sealed=True))  # a retry of a record sealed before
    assert not sealer.wants(_record("v2x", reason=ReasonCode.PAYLOAD_TOO_LARGE))  # dead letter


async def test_records_not_to_seal_pass_unchanged_without_touching_the_database() -> None:
    sealer = RawSealer(["v2x"], 3600, NOWHERE, timeout_s=1.0)
    records = [_record("agri"), _record("v2x", sealed=True)]
    assert await sealer.seal(records) == records
    await sealer.close()


async def test_while_the_database_fails_the_dispatch_loop_does_not_wait_for_it() -> None:
    # NOWHERE refuses connections at once: a real failed registration, no service needed.
    sealer = RawSealer(["v2x"], 3600, NOWHERE, timeout_s=5.0)
    v2x, agri = _record("v2x"), _record("agri")
    with pytest.raises(KeyUnavailable, match=r"Connection refused|connection failed"):
        await sealer.seal([v2x])  # a retry probes the database
    with pytest.raises(KeyUnavailable, match="failing"):
        await sealer.seal([agri, v2x], probe=False)  # the dispatch loop does not
    assert await sealer.seal([agri], probe=False) == [agri]  # nothing to seal: no database
    await sealer.close()
