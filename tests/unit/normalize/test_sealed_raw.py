"""Raw payloads sealed by the gateway, opened by normalize (processors.normalize.runner): pure logic."""

from __future__ import annotations

from dataclasses import dataclass, field

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.envelope import Envelope
from contracts.sealed import new_key_id, raw_context, seal
from processors.dead_letters import envelope_of, replay_headers
from processors.normalize.processor import dead_letter_for
from processors.normalize.runner import sealed_raw_kids, to_raw_records

KEY = b"r" * 32
KID = new_key_id()
PAYLOAD = b'{"id": "RSU-1", "ptcId": 1002, "lat": 438802742}'


@dataclass
class _Msg:
    """The parts of an aiokafka record to_raw_records reads."""

    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    topic: str = "sensegate.raw.v2x"
    partition: int = 0
    offset: int = 7
    key: bytes = b"RSU-1"


def _sealed(
    payload: bytes = PAYLOAD, kid: str = KID, *, rx_ns: int = 1_765_000_000_000_000_000
) -> _Msg:
    env = Envelope(payload, "V2X/RSU/RSU-1/RSM/UP", "v2x", "RSU-1", rx_ns, "gw-1")
    token = seal(KEY, kid, payload, raw_context("v2x", "RSU-1", rx_ns))
    return _Msg(token.encode(), [*env.kafka_headers(), ("sg.seal", kid.encode())])


def test_a_sealed_raw_payload_opens_with_its_epoch_key() -> None:
    msg = _sealed()
    assert PAYLOAD not in msg.value and b"1002" not in msg.value
    assert sealed_raw_kids([msg]) == {KID}
    raws, dead = to_raw_records([msg], {KID: KEY})
    assert dead == [] and raws[0].envelope.payload == PAYLOAD
    # sg.sha256 still names the payload's hash: the envelope check passes after opening
    assert raws[0].envelope.sha256 == Envelope(PAYLOAD, "t", "v2x", "RSU-1", 1, "g").sha256


def test_a_destroyed_key_is_a_subject_erased_letter_without_the_payload() -> None:
    msg = _sealed()
    raws, dead = to_raw_records([msg], {})
    assert raws == [] and [d.reason for d in dead] == [ReasonCode.SUBJECT_ERASED]
    assert dead[0].payload == msg.value  # the sealed bytes, not the payload


def test_tampered_or_moved_raw_payloads_are_refused() -> None:
    moved = _sealed()
    moved.headers = [
        (k, b"1765000000000000001" if k == "sg.rx_ns" else v) for k, v in moved.headers
    ]
    relabelled = _sealed()
    relabelled.headers = [
        (k, new_key_id().encode() if k == "sg.seal" else v) for k, v in relabelled.headers
    ]
    for msg in (moved, relabelled):
        raws, dead = to_raw_records([msg], {KID: KEY})
        assert raws == [] and [d.reason for d in dead] == [ReasonCode.SEAL_INVALID]


def test_plain_raw_payloads_pass_as_before() -> None:
    env = Envelope(PAYLOAD, "V2X/RSU/RSU-1/RSM/UP", "v2x", "RSU-1", 5, "gw-1")
    raws, dead = to_raw_records([_Msg(PAYLOAD, env.kafka_headers())])
    assert dead == [] and raws[0].envelope.payload == PAYLOAD


def test_a_normalize_dead_letter_keeps_the_sealed_bytes_and_replays_sealed() -> None:
    msg = _sealed(b'{"not": "an rsm"}')
    (raw,), _ = to_raw_records([msg], {KID: KEY})
    letter = dead_letter_for(raw, ReasonCode.DECODE_ERROR, "not a CSAE message")
    assert letter.payload == msg.value and b"not" not in letter.payload
    assert letter.envelope["seal"] == KID
    again = DeadLetter.from_json(letter.to_json())
    env = envelope_of(again)
    assert env is not None and env.payload == msg.value
    headers = replay_headers(again, env)
    # what a replay produces opens to the original payload, as the first time
    (replayed,), dead = to_raw_records([_Msg(env.payload, headers)], {KID: KEY})
    assert dead == [] and replayed.envelope.payload == b'{"not": "an rsm"}'
    assert again.source_identity == letter.source_identity
