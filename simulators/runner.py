"""Run a stream of simulated items against a broker: pacing, acks, outcome log, replay file, progress.

``run_items`` is the engine shared by fleet runs and replays: it paces items by their simulated time
(``speed`` = 1 is real time, 0 = as fast as possible), opens connections as Control items ask,
publishes, matches PUBACKs, writes one outcome-log line per message and, on request, the replay file.
Every run ends with a ``RunSummary``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from simulators.credentials import CredentialBook, Login
from simulators.exceptions import BrokerError
from simulators.model import MAIN_CONNECTION, Control, SimItem, SimMessage
from simulators.oracle import LogEntry, OutcomeLog
from simulators.publisher import MqttPublisher
from simulators.replay import ReplayWriter

__all__ = ["RunOptions", "RunSummary", "run_items"]

logger = logging.getLogger(__name__)
# MQTT v5 PUBACK reason codes: 0x80 and above are failures; 0x10 "No matching subscribers".
_PUBACK_FAILURE, _PUBACK_NO_SUBSCRIBERS = 0x80, 0x10


@dataclass(frozen=True)
class RunOptions:
    """How to publish: broker, pacing, bounds and where to write the log and replay file."""

    host: str = "127.0.0.1"
    port: int = 11883
    username: str | None = None
    password: str | None = None
    speed: float = 1.0
    log_path: Path | None = None
    save_path: Path | None = None
    ack_timeout_s: float = 30.0
    max_pending: int = 2000
    progress: bool = True
    run_id: str = ""
    client_prefix: str = "sgsim"
    # Issued device credentials (simulators/credentials.py); None: every connection uses
    # username/password above.
    credentials: CredentialBook | None = None
    tls_ca: Path | None = None


@dataclass
class RunSummary:
    """What a run did; ``published`` counts MQTT publishes, ``outcomes`` the log lines by outcome."""

    run_id: str
    published: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    refused: int = 0  # PUBACK with a failure reason code (e.g. 0x87 not authorized)
    # PUBACK 0x10: accepted (a success code, logged "ok") but nobody subscribed, so the broker
    # dropped it; the oracle still counts these as lost. Kept apart to show where they were lost.
    no_subscribers: int = 0
    by_family: Counter[str] = field(default_factory=Counter)
    by_kind: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    wall_s: float = 0.0
    log_path: str | None = None
    save_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "run_id": self.run_id,
            "published": self.published,
            "outcomes": dict(self.outcomes),
            "by_family": dict(self.by_family),
            "by_kind": dict(self.by_kind),
            "faults": dict(self.faults),
            "refused": self.refused,
            "no_subscribers": self.no_subscribers,
            "wall_s": round(self.wall_s, 3),
            "rate_msg_s": round(self.published / self.wall_s, 1) if self.wall_s else None,
            "log": self.log_path,
            "replay": self.save_path,
        }

    def render(self) -> str:
        """Human-readable closing summary."""
        d = self.to_dict()
        lines = [
            f"run {self.run_id}: {self.published} messages in {d['wall_s']} s ({d['rate_msg_s']} msg/s)",
            "  outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(self.outcomes.items())),
            "  families: " + ", ".join(f"{k}={v}" for k, v in sorted(self.by_family.items())),
        ]
        if self.refused:
            lines.append(f"  refused by the broker (PUBACK reason >= 0x80): {self.refused}")
        if self.no_subscribers:
            lines.append(
                "  acked with no matching subscribers (PUBACK 0x10, dropped by the broker): "
                f"{self.no_subscribers}"
            )
        if self.faults:
            lines.append(
                "  faults:   " + ", ".join(f"{k}={v}" for k, v in sorted(self.faults.items()))
            )
        if self.log_path:
            lines.append(f"  outcome log: {self.log_path}")
        if self.save_path:
            lines.append(f"  replay file: {self.save_path}")
        return "\n".join(lines)


class _Progress:
    """A one-line progress display on stderr (a line every 5 s when stderr is not a terminal)."""

    def __init__(self, enabled: bool, stream: IO[str] = sys.stderr) -> None:
        self.enabled = enabled
        self.stream = stream
        self.tty = stream.isatty()
        self._last = 0.0
        self._t0 = time.monotonic()

    def update(self, sent: int, acked: int, pending: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < (0.5 if self.tty else 5.0):
            return
        self._last = now
        rate = sent / max(1e-6, now - self._t0)
        line = f"sent {sent:>8}  acked {acked:>8}  pending {pending:>6}  {rate:8.1f} msg/s"
        if self.tty:
            self.stream.write("\r" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.enabled and self.tty:
            self.stream.write("\n")
            self.stream.flush()


def make_run_id(*parts: object) -> str:
    """Deterministic short id of a run from its parameters."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:10]


async def run_items(
    items: Iterable[SimItem],
    options: RunOptions,
    on_command: Callable[[str, str, bytes], None] | None = None,
) -> RunSummary:
    """Publish ``items`` as paced by their ``t_ms``; returns the summary once every ack is in.

    Guarantees: each message gets exactly one outcome-log line (``ok`` on PUBACK, ``fail`` when not
    sent, ``info`` when sent but unconfirmed by the end or QoS 0); the replay file holds every item
    in publish order. On a broker error the run stops, pending messages are logged ``info``.
    """
    run_id = options.run_id or make_run_id(time.time_ns())
    summary = RunSummary(
        run_id,
        log_path=str(options.log_path) if options.log_path else None,
        save_path=str(options.save_path) if options.save_path else None,
    )
    log = OutcomeLog(options.log_path)
    writer = ReplayWriter(options.save_path, {"run_id": run_id}) if options.save_path else None
    pending: dict[tuple[str, int], tuple[LogEntry, SimMessage]] = {}
    drained = asyncio.Event()
    drained.set()
    progress = _Progress(options.progress)
    acked = 0

    def resolve(key: tuple[str, int], outcome: str) -> None:
        nonlocal acked
        item = pending.pop(key, None)
        if item is None:
            return
        entry, _ = item
        log.write(_with(entry, outcome, time.time_ns()))
        summary.outcomes[outcome] += 1
        acked += outcome == "ok"
        if len(pending) < options.max_pending:
            drained.set()

    def on_ack(conn: str, mid: int, reason: int) -> None:
        key = (conn, mid)
        failed = reason >= _PUBACK_FAILURE
        summary.refused += failed and key in pending
        summary.no_subscribers += reason == _PUBACK_NO_SUBSCRIBERS and key in pending
        if key in pending:
            qos = pending[key][1].qos
            resolve(key, "fail" if failed else ("ok" if qos > 0 else "info"))

    publisher = MqttPublisher(
        options.host,
        options.port,
        f"{options.client_prefix}-{run_id}",
        on_ack,
        on_command=on_command,
        username=options.username,
        password=options.password,
        tls_ca=options.tls_ca,
    )
    book = options.credentials
    t0 = time.monotonic()
    first_t: int | None = None
    count = 0
    try:
        for item in items:
            if first_t is None:
                first_t = item.t_ms
            if options.speed > 0:
                due = (item.t_ms - first_t) / 1000 / options.speed
                delay = due - (time.monotonic() - t0)
                if delay > 0:
                    await asyncio.sleep(delay)
            if writer is not None:
                writer.write(item)
            if isinstance(item, Control):
                await _control(publisher, item, run_id, count, log=log, summary=summary, book=book)
                count += 1
                continue
            msg = item
            count += 1
            message_id = f"{run_id}-{count:08d}"
            entry = LogEntry(
                message_id,
                msg.device_id,
                msg.family,
                LogEntry.expected_of(msg),
                msg.expect,
                msg.sha256,
                "info",
                time.time_ns(),
                None,
                msg.topic,
                msg.qos,
                msg.kind,
                msg.fault,
                msg.expected_values,
            )
            summary.by_family[msg.family] += 1
            summary.by_kind[msg.kind] += 1
            if msg.fault:
                summary.faults[msg.fault] += 1
            connection, login = _route(msg, book)
            if not msg.publish or (book is not None and login is None):
                # not sent: an injected gap, or no identity of the fleet may publish this topic
                log.write(_with(entry, "fail", None))
                summary.outcomes["fail"] += 1
                continue
            if not publisher.has(connection):
                await publisher.open(connection, login=login)
            while len(pending) >= options.max_pending:
                drained.clear()
                await drained.wait()
            mid = publisher.publish(
                connection,
                msg.topic,
                msg.payload,
                msg.qos,
                retain=msg.retain,
                message_id=message_id,
            )
            summary.published += 1
            pending[(connection, mid)] = (entry, msg)
            progress.update(summary.published, acked, len(pending))
            # let paho's callbacks reach the loop even when publishing flat out
            if summary.published % 200 == 0:
                await asyncio.sleep(0)
        deadline = time.monotonic() + options.ack_timeout_s
        while pending and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            progress.update(summary.published, acked, len(pending))
    except BrokerError:
        logger.exception("run %s stopped by a broker error", run_id)
        raise
    finally:
        for key in list(pending):
            resolve(key, "info")
        progress.update(summary.published, acked, 0, force=True)
        progress.done()
        with contextlib.suppress(Exception):
            await publisher.close()
        log.close()
        if writer is not None:
            writer.close()
        summary.wall_s = time.monotonic() - t0
    return summary


def _route(msg: SimMessage, book: CredentialBook | None) -> tuple[str, Login | None]:
    """The connection (and login) that sends ``msg``.

    With issued credentials the shared main connection splits into one per identity (by topic).
    """
    if book is None:
        return msg.connection, None
    if msg.connection != MAIN_CONNECTION:
        return msg.connection, book.for_connection(msg.connection)
    login = book.for_topic(msg.topic)
    return (f"{MAIN_CONNECTION}|{login.username}" if login else msg.connection), login


def _with(entry: LogEntry, outcome: str, t_ack: int | None) -> LogEntry:
    return dataclasses.replace(entry, outcome=outcome, t_ack=t_ack)


async def _control(
    publisher: MqttPublisher,
    item: Control,
    run_id: str,
    count: int,
    *,
    log: OutcomeLog,
    summary: RunSummary,
    book: CredentialBook | None = None,
) -> None:
    if book is not None and item.connection == MAIN_CONNECTION:
        # the main connection stands for one connection per identity: apply to each of them
        names = publisher.names(f"{MAIN_CONNECTION}|")
        for name in names:
            if item.action == "connect":
                await publisher.open(name)
            else:
                publisher.drop(name)
        summary.faults[item.fault or "disconnect"] += item.action == "disconnect"
        return
    if item.action == "connect":
        login = book.for_connection(item.connection) if book is not None else None
        await publisher.open(item.connection, item.will, item.subscribe, login=login)
        return
    if not publisher.has(item.connection):
        return
    publisher.drop(item.connection)
    summary.faults[item.fault or "disconnect"] += 1
    if item.will is not None:
        # the broker publishes the Will for us: logged as sent, outcome unknown, no row expected
        will = item.will
        sha = hashlib.sha256(will.payload).hexdigest()
        log.write(
            LogEntry(
                f"{run_id}-{count + 1:08d}w",
                item.device_id,
                item.family,
                ("none",),
                "none",
                sha,
                "info",
                time.time_ns(),
                None,
                will.topic,
                will.qos,
                "NDEATH:will",
                item.fault,
            )
        )
        summary.outcomes["info"] += 1
    await asyncio.sleep(0.05)
