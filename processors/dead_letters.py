"""Reading and replaying dead letters: the library behind ``python -m processors dlq``.

Reading uses no consumer group (it assigns every partition and reads up to the end offsets seen at
start), so listing never disturbs anything. Replay re-produces the original raw envelope, byte for
byte with its original metadata, to its raw topic, and commits the replay group's DLQ offsets after
the produce acknowledgements, so repeating ``replay`` only replays letters written since.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.dead_letter import DeadLetter, ReasonCode
from contracts.envelope import Envelope
from contracts.settings import KafkaConfig
from contracts.topics import raw_topic

__all__ = [
    "StoredLetter",
    "envelope_of",
    "read_letters",
    "replay_headers",
    "replay_letters",
    "stats",
]

logger = logging.getLogger(__name__)

# how long to wait for the topic's partitions (a missing topic reads as empty)
_ASSIGN_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class StoredLetter:
    """A dead letter with its own DLQ coordinates."""

    letter: DeadLetter
    partition: int
    offset: int


def replay_headers(letter: DeadLetter, env: Envelope) -> list[tuple[str, bytes]]:
    """Raw-topic headers to replay a letter with: the envelope's, and ``sg.seal`` when sealed."""
    seal = letter.envelope.get("seal")
    return env.kafka_headers() + ([("sg.seal", str(seal).encode())] if seal else [])


def envelope_of(letter: DeadLetter) -> Envelope | None:
    """The original raw envelope of a letter, or None when the letter did not carry one.

    A sealed letter's envelope carries the sealed bytes and the payload's own SHA-256 (from the
    letter's metadata), as the raw topic held them; replay it with ``replay_headers``.
    """
    e = letter.envelope
    try:
        return Envelope(
            sha256=str(e["sha256"]) if e.get("seal") else "",
            payload=letter.payload,
            topic=str(e["topic"]),
            family=str(e["family"]),
            device_id=str(e["device_id"]),
            driver=str(e.get("driver", "")),
            gateway_id=str(e["gateway_id"]),
            received_ns=int(e["received_ns"]),
            qos=int(e.get("qos", 1)),
            retain=bool(e.get("retain", False)),
            dup=bool(e.get("dup", False)),
            user_properties=tuple((str(a), str(b)) for a, b in e.get("user_properties", ())),
        )
    except (KeyError, TypeError, ValueError):
        return None


async def read_letters(
    kafka: KafkaConfig,
    topic: str,
    *,
    reasons: Iterable[ReasonCode] = (),
    group_id: str | None = None,
) -> tuple[list[StoredLetter], dict[TopicPartition, int]]:
    """Read letters up to the current end; with ``group_id`` start from that group's offsets.

    Returns the matching letters and, per partition, the next offset after what was read.
    """
    wanted = set(reasons)
    consumer = AIOKafkaConsumer(
        **kafka.client_kwargs(),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        consumer.subscribe([topic])
        letters: list[StoredLetter] = []
        ends: dict[TopicPartition, int] | None = None
        deadline = time.monotonic() + _ASSIGN_TIMEOUT_S
        while True:
            batch = await consumer.getmany(timeout_ms=300)
            tps = consumer.assignment()
            if ends is None:
                if not tps:
                    if time.monotonic() > deadline:
                        return [], {}
                    continue
                ends = await consumer.end_offsets(list(tps))
            for tp, msgs in batch.items():
                for msg in msgs:
                    if msg.offset < ends.get(tp, 0):
                        letter = DeadLetter.from_json(msg.value)
                        if not wanted or letter.reason in wanted:
                            letters.append(StoredLetter(letter, tp.partition, msg.offset))
            positions = {tp: await consumer.position(tp) for tp in ends}
            if all(positions[tp] >= ends[tp] for tp in ends):
                return letters, {tp: min(positions[tp], ends[tp]) for tp in ends}
    finally:
        await consumer.stop()


def stats(letters: Iterable[StoredLetter]) -> dict[str, dict[str, int]]:
    """Counts per reason: letters, and distinct source identities (what the oracle counts)."""
    total: Counter[str] = Counter()
    distinct: dict[str, set[str]] = {}
    for s in letters:
        total[s.letter.reason.value] += 1
        distinct.setdefault(s.letter.reason.value, set()).add(s.letter.source_identity)
    return {r: {"letters": n, "distinct": len(distinct[r])} for r, n in sorted(total.items())}


async def replay_letters(
    kafka: KafkaConfig,
    topic: str,
    *,
    reasons: Iterable[ReasonCode] = (),
    group_id: str = "sensegate-dlq-replay",
) -> tuple[int, int]:
    """Re-produce the raw envelopes of matching letters; returns (replayed, not replayable)."""
    letters, next_offsets = await read_letters(kafka, topic, reasons=reasons, group_id=group_id)
    producer = AIOKafkaProducer(**kafka.client_kwargs(), acks="all", enable_idempotence=True)
    await producer.start()
    replayed = skipped = 0
    try:
        futures = []
        for stored in letters:
            env = envelope_of(stored.letter)
            if env is None:
                skipped += 1
                logger.warning(
                    "letter at %d/%d has no envelope to replay", stored.partition, stored.offset
                )
                continue
            futures.append(
                await producer.send(
                    raw_topic(kafka.topic_prefix, env.family),
                    value=env.payload,
                    key=env.kafka_key(),
                    headers=replay_headers(stored.letter, env),
                )
            )
            replayed += 1
        for fut in futures:
            await fut
    finally:
        await producer.stop()
    if next_offsets:
        committer = AIOKafkaConsumer(
            **kafka.client_kwargs(), group_id=group_id, enable_auto_commit=False
        )
        await committer.start()
        try:
            committer.assign(list(next_offsets))
            await committer.commit(next_offsets)
        finally:
            await committer.stop()
    return replayed, skipped
