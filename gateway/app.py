"""The gateway service: MQTT bridge -> record builder -> Kafka, with ordered acks and graceful stop.

Guarantee: a QoS 1 message is PUBACKed only after Kafka acknowledged its raw envelope or its dead
letter (``acks=all``), and PUBACKs leave in receive order. A failed or timed-out produce is retried,
never acked. Memory is bounded: at most ``queue_capacity`` messages are held; past that paho's
thread waits, and the broker stops sending QoS 1 messages at the Receive Maximum.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter

from contracts.dead_letter import ReasonCode
from gateway.acks import AckTracker, Ticket
from gateway.broker_audit import BrokerAudit, LogFileAudit
from gateway.config import GatewaySettings
from gateway.exceptions import ProduceError, ProduceTimeoutError
from gateway.forward import Outgoing, RecordBuilder
from gateway.kafka_out import KafkaOut, Pending
from gateway.key_wait import KeyWait
from gateway.metrics import GatewayMetrics
from gateway.mqtt_bridge import ConnectionEvent, Inbound, MqttBridge
from gateway.routing import Router
from gateway.sealing import KeyUnavailable, RawSealer
from gateway.sweeper import Attempt, DeadlineSweeper
from runtime.faults import fault_point
from runtime.http_endpoint import HealthServer
from runtime.supervise import Supervisor, cancel_all

__all__ = ["Gateway"]

logger = logging.getLogger(__name__)

_ERROR_LOG_INTERVAL_S = 1.0


@dataclass(slots=True, eq=False)
class _Flight:
    """One message between take and ack: its record (replaced by a dead letter if too large)."""

    msg: Inbound
    record: Outgoing
    ticket: Ticket
    owned: bool = False  # handed to a Kafka batch or a retry task, which completes it


_Batch = tuple[list[_Flight], Pending]


class Gateway:
    """One gateway instance; ``run()`` until ``request_stop()``; loop-affine (one event loop).

    Every task and the paho thread are supervised (runtime.supervise): if one ends unexpectedly,
    ``ready`` turns false, the gateway shuts down as on a stop request and ``run()`` raises
    ``ServiceFailed``.
    """

    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics | None = None) -> None:
        self.settings = settings
        self._cfg = settings.gateway
        self.metrics = metrics or GatewayMetrics()
        self.supervisor = Supervisor("gateway")
        self._builder = RecordBuilder(
            self._cfg, Router(self._cfg.routes), settings.kafka.topic_prefix
        )
        self._out = KafkaOut(
            settings.kafka,
            self._cfg,
            on_recreate=self.metrics.producer_recreated.inc,
            supervisor=self.supervisor,
        )
        # Raw payloads of personal-data families are sealed per device and epoch (erasure).
        self._sealer: RawSealer | None = None
        if self._cfg.seal_families and settings.db is not None:
            self._sealer = RawSealer(
                self._cfg.seal_families, self._cfg.seal_epoch_s, settings.db,
                timeout_s=self._cfg.produce_timeout_s,
            )  # fmt: skip
        self._keys: KeyWait[_Flight] | None = None
        if self._sealer is not None:
            self._keys = KeyWait(
                self._sealer, self._send, self._end, self._key_error,
                (self._cfg.retry_backoff_min_s, self._cfg.retry_backoff_max_s),
            )  # fmt: skip
        self._tracker = AckTracker(self._ack)
        self._bridge: MqttBridge | None = None
        self._health: HealthServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._fault = fault_point("gateway.dispatch")  # test-only; None unless armed
        self._last_error_log = 0.0
        self._orphans_seen = 0
        self._ack_batch: list[tuple[int, int, int]] = []
        self._sweeper: DeadlineSweeper[_Batch] = DeadlineSweeper(self._cfg.produce_timeout_s)
        self._in_flight = 0
        self._drained = asyncio.Event()
        self._drained.set()
        self._abandoned = False
        self._received: dict[int, Counter] = {}
        self._produced: dict[str, Counter] = {}
        self.metrics.in_flight.set_function(self._held)

    def _held(self) -> float:
        queued = self._bridge.queued if self._bridge is not None else 0
        return float(self._tracker.pending + queued)

    # --- public surface ---------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """True while taking messages: MQTT subscribed, a Kafka producer started, no task failed."""
        bridge = self._bridge
        return (
            not self._stopping
            and self.supervisor.healthy
            and bridge is not None
            and bridge.connected
            and self._out.ready
        )

    @property
    def health_port(self) -> int:
        """Port of the HTTP endpoint (0 when disabled or not started)."""
        return (self._health.port or 0) if self._health else 0

    def request_stop(self) -> None:
        """Ask ``run()`` to shut down gracefully (safe from signal handlers on the loop)."""
        self.supervisor.request_stop()

    async def run(self) -> None:
        """Serve until ``request_stop()``, then drain, ack, disconnect and return.

        Raises ServiceFailed (after the same shutdown) when a supervised task or thread failed.
        """
        loop = asyncio.get_running_loop()
        supervisor = self.supervisor
        metrics_cfg = self.settings.metrics
        if metrics_cfg.port:
            self._health = HealthServer(metrics_cfg, lambda: self.ready, self.metrics.registry)
            await self._health.start()
        if self._sealer is not None and self.settings.db is not None:
            self.settings.db.dsn.get_secret_value()  # no key table configured: refuse to start
        await self._out.start()
        bridge = MqttBridge(
            self.settings.mqtt,
            self._cfg,
            loop,
            self._on_connection,
            on_thread_exit=supervisor.thread_reporter("paho-network-thread"),
        )
        self._bridge = bridge
        logger.info(
            "gateway %s starting: mqtt %s:%d subscriptions %s, kafka %s",
            self._cfg.instance_id,
            self.settings.mqtt.host,
            self.settings.mqtt.port,
            list(self._cfg.effective_subscriptions),
            self.settings.kafka.bootstrap_servers,
        )
        # Take nothing from the broker before Kafka can take it (the session keeps it meanwhile).
        stop_wait = asyncio.create_task(supervisor.wait())
        ready_wait = asyncio.create_task(self._out.wait_ready())
        await asyncio.wait({stop_wait, ready_wait}, return_when=asyncio.FIRST_COMPLETED)
        ready_wait.cancel()
        if not supervisor.stopping:
            bridge.start()
        audit: BrokerAudit | LogFileAudit | None = None
        if self._cfg.broker_log_file is not None:
            audit = LogFileAudit(
                self._cfg.broker_log_file,
                self.metrics.broker_refusals,
                on_thread_exit=supervisor.thread_reporter("broker-log-audit"),
            )
            audit.start()
        elif self._cfg.broker_audit:
            audit = BrokerAudit(
                self.settings.mqtt,
                f"{self._cfg.effective_client_id}-audit",
                self.metrics.broker_refusals,
                on_thread_exit=supervisor.thread_reporter("broker-audit-thread"),
            )
            audit.start()
        dispatcher = supervisor.spawn(self._dispatch_loop(bridge), name="gateway-dispatch")
        sweeper = supervisor.spawn(self._sweep(), name="gateway-produce-sweeper")
        if self._keys is not None:
            sweeper_and_keys = {
                sweeper, supervisor.spawn(self._keys.run(), name="gateway-key-wait")
            }  # fmt: skip
        else:
            sweeper_and_keys = {sweeper}
        await stop_wait
        await self._shutdown(bridge, dispatcher, sweeper_and_keys)
        if audit is not None:
            await asyncio.to_thread(audit.stop)
        if self._sealer is not None:
            await self._sealer.close()
        await supervisor.close()
        supervisor.check()

    # --- pipeline ---------------------------------------------------------------------------
    #
    # Hot path without a task, a timer or a future per message: what one take() returns is
    # grouped by topic-partition (receive order kept within each group, so per-device order),
    # each group goes to the producer as whole batches, a done-callback per batch completes its
    # tickets, and one sweeper task times out batches whose ack is overdue. Only failures take
    # the slow path: a retry task per message. Messages waiting for a raw key the database cannot
    # give yet wait together in gateway.key_wait and come back to the batch path.

    async def _dispatch_loop(self, bridge: MqttBridge) -> None:
        while True:
            await self._dispatch(await bridge.take())

    async def _dispatch(self, msgs: list[Inbound]) -> None:
        self._count_received(msgs)
        flights = [self._admit(msg) for msg in msgs]
        try:
            if self._fault is not None:
                self._fault()
            if self._sealer is not None and self._keys is not None:
                flights = await self._seal(self._sealer, self._keys, flights)
            await self._send(flights)
        except BaseException:
            for flight in flights:
                if not flight.owned:
                    self._end(flight)  # shutdown or a fault: left unacked for redelivery
            raise

    async def _send(self, flights: list[_Flight]) -> None:
        """Hand ``flights`` to the producer as whole batches per topic-partition."""
        partition = self._out.partition
        try:
            groups: dict[tuple[str, int], list[_Flight]] = {}
            for flight in flights:
                record = flight.record
                where = (record.topic, await partition(record.topic, record.key))
                group = groups.get(where)
                if group is None:
                    group = groups[where] = []
                group.append(flight)
            for (topic, part), members in groups.items():
                await self._hand_over(topic, part, members)
        except ProduceError as exc:  # no partition metadata: every message takes the slow path
            self._retry_all([f for f in flights if not f.owned], exc)

    async def _seal(
        self, sealer: RawSealer, keys: KeyWait[_Flight], flights: list[_Flight]
    ) -> list[_Flight]:
        """Seal what the batch needs sealed; without keys, those wait in ``keys``.

        The rest (unsealed families, dead letters) goes on: a failing key database holds up only
        the messages that need a key it cannot give.
        """
        try:
            sealed = await sealer.seal([f.record for f in flights], probe=False)
        except KeyUnavailable:
            keys.park([f for f in flights if sealer.wants(f.record)])
            return [f for f in flights if not f.owned]
        for flight, record in zip(flights, sealed, strict=True):
            flight.record = record
        return flights

    def _key_error(self, exc: KeyUnavailable) -> None:
        self.metrics.produce_errors.labels("error").inc()
        self._log_produce_error(exc)

    def _count_received(self, msgs: list[Inbound]) -> None:
        # One increment per QoS and batch: the counter takes a lock per call (8 % of the
        # gateway's samples when it was counted per message).
        per_qos: dict[int, int] = {}
        for msg in msgs:
            per_qos[msg.qos] = per_qos.get(msg.qos, 0) + 1
        for qos, n in per_qos.items():
            counter = self._received.get(qos)
            if counter is None:
                counter = self._received[qos] = self.metrics.received.labels(str(qos))
            counter.inc(n)

    def _admit(self, msg: Inbound) -> _Flight:
        flight = _Flight(
            msg, self._builder.build(msg), self._tracker.add(msg.generation, msg.mid, msg.qos)
        )
        self._begin(flight)
        return flight

    async def _hand_over(self, topic: str, partition: int, members: list[_Flight]) -> None:
        records = [(f.record.key, f.record.value, f.record.headers) for f in members]
        start = 0
        while start < len(members):
            try:
                pending, taken = await self._out.enqueue_batch(topic, partition, records[start:])
            except ProduceError as exc:
                self._retry_all(members[start:], exc)
                return
            chunk = members[start : start + taken]
            start += taken
            for flight in chunk:
                flight.owned = True
            attempt = self._sweeper.add((chunk, pending), time.monotonic())
            pending.future.add_done_callback(functools.partial(self._on_result, attempt))

    def _on_result(self, attempt: Attempt[_Batch], future: asyncio.Future[object]) -> None:
        if attempt.settled:
            return  # timed out already: its retries own the messages
        attempt.settled = True
        self._sweeper.prune()  # acks arrive mostly in order: keeps the FIFO short
        flights, pending = attempt.item
        if self._abandoned:
            for flight in flights:
                self._end(flight)
            return
        exc = None if future.cancelled() else future.exception()
        if future.cancelled() or exc is not None:
            cause = exc if exc is not None else asyncio.CancelledError()
            self._retry_all(flights, self._out.failure(cause, pending.topic, pending.epoch))
            return
        for flight in flights:
            self._finish(flight)

    async def _sweep(self) -> None:
        # One timer for all in-flight batches; checks a few times per timeout.
        period = min(0.5, self._cfg.produce_timeout_s / 4)
        while True:
            await asyncio.sleep(period)
            for attempt in self._sweeper.expired(time.monotonic()):
                flights, pending = attempt.item
                if pending.future.done():
                    attempt.settled = False  # its callback is already scheduled: let it decide
                    self._on_result(attempt, pending.future)
                    continue
                err = self._out.failure(TimeoutError(), pending.topic, pending.epoch)
                self._retry_all(flights, err)

    def _retry_all(self, flights: list[_Flight], error: ProduceError) -> None:
        # A permanent error (a record too large) belongs to one record of the batch: send each
        # alone, so only that one is dead-lettered; transient errors are retried after a backoff.
        for flight in flights:
            self._retry(flight, error if error.retriable else None)

    def _retry(self, flight: _Flight, error: ProduceError | None) -> None:
        flight.owned = True
        task = self.supervisor.spawn(
            self._deliver(flight, error), name="gateway-produce-retry", ends="any"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, flight: _Flight, error: ProduceError | None) -> None:
        """Slow path: retry one message with backoff until Kafka acknowledged it."""
        backoff = self._cfg.retry_backoff_min_s
        try:
            while True:
                try:
                    if error is not None:
                        raise error
                    if self._sealer is not None and self._sealer.wants(flight.record):
                        flight.record = (await self._sealer.seal([flight.record]))[0]
                    record = flight.record
                    await self._out.send(record.topic, record.key, record.value, record.headers)
                    break
                except ProduceError as exc:
                    error = None
                    if (
                        not exc.retriable
                        and flight.record.reason is not ReasonCode.PAYLOAD_TOO_LARGE
                    ):
                        # Kafka refused the size: dead-letter a truncated copy instead.
                        flight.record = self._builder.dead_letter(
                            flight.msg, ReasonCode.PAYLOAD_TOO_LARGE, str(exc)
                        )
                        continue
                    kind = "timeout" if isinstance(exc, ProduceTimeoutError) else "error"
                    self.metrics.produce_errors.labels(kind).inc()
                    self._log_produce_error(exc)
                    await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                    backoff = min(backoff * 2, self._cfg.retry_backoff_max_s)
        except BaseException:
            self._end(flight)
            raise
        self._finish(flight)

    def _begin(self, flight: _Flight) -> None:
        self._in_flight += 1
        self._drained.clear()

    def _end(self, flight: _Flight) -> None:
        self._bridge_release()
        self._in_flight -= 1
        if not self._in_flight:
            self._drained.set()

    def _finish(self, flight: _Flight) -> None:
        record, msg = flight.record, flight.msg
        if record.reason is None:
            counter = self._produced.get(record.family)
            if counter is None:
                counter = self._produced[record.family] = self.metrics.produced.labels(
                    record.family
                )
            counter.inc()
            self.metrics.produce_latency.observe((time.time_ns() - msg.received_ns) / 1e9)
        else:
            self.metrics.dead_lettered.labels(record.reason.value).inc()
            logger.info(
                "dead-lettered %s from topic %r device %r",
                record.reason.value,
                msg.topic,
                record.key.decode(errors="replace"),
            )
        self._tracker.complete(flight.ticket)
        self._end(flight)

    def _bridge_release(self) -> None:
        if self._bridge is not None:
            self._bridge.release_slot()

    def _log_produce_error(self, exc: ProduceError) -> None:
        now = time.monotonic()
        if now - self._last_error_log >= _ERROR_LOG_INTERVAL_S:
            self._last_error_log = now
            logger.warning(
                "produce failed, retrying (not acked): %s [in flight %d, producer re-creations %d]",
                exc,
                self._tracker.pending,
                self._out.recreations,
            )

    def _ack(self, generation: int, mid: int, qos: int) -> bool:
        # Collect the acks released during one loop iteration and send them together (in order).
        if self._bridge is None:
            return False
        if not self._ack_batch:
            asyncio.get_running_loop().call_soon(self._flush_acks)
        self._ack_batch.append((generation, mid, qos))
        return True

    def _flush_acks(self) -> None:
        batch, self._ack_batch = self._ack_batch, []
        if self._bridge is not None and batch:
            sent = self._bridge.ack_many(batch)
            if sent:
                self.metrics.acknowledged.inc(sent)

    def _on_connection(self, event: ConnectionEvent) -> None:
        if event.connected:
            self._tracker.begin_generation(event.generation)
            orphans = self._tracker.orphaned - self._orphans_seen
            self._orphans_seen = self._tracker.orphaned
            if orphans:
                self.metrics.orphaned.inc(orphans)
                logger.warning(
                    "%d unacked messages of the previous connection will be redelivered", orphans
                )
            self.metrics.connections.inc()
            self.metrics.connected.set(1)
            if not event.session_present and event.generation > 1:
                self.metrics.session_lost.inc()
                logger.error(
                    "MQTT session was not present on reconnect: messages queued for it are lost (W6)"
                )
        else:
            self.metrics.connected.set(0)

    # --- shutdown ---------------------------------------------------------------------------

    async def _shutdown(
        self, bridge: MqttBridge, dispatcher: asyncio.Task[Any], helpers: set[asyncio.Task[Any]]
    ) -> None:
        self._stopping = True
        logger.info("stopping: draining %d in-flight messages", self._in_flight)
        bridge.pause()
        await cancel_all({dispatcher})
        # Messages still queued were never taken: leave them unacked for redelivery.
        bridge.drop_queued()
        try:
            await asyncio.wait_for(self._drained.wait(), self._cfg.drain_timeout_s)
        except TimeoutError:
            logger.warning(
                "drain timed out: %d messages left unacked (the broker redelivers them)",
                self._in_flight,
            )
        self._abandoned = True
        await cancel_all(set(self._tasks))
        await cancel_all(helpers)  # the sweeper, and the key wait (parked messages stay unacked)
        await asyncio.to_thread(bridge.stop)
        self.metrics.connected.set(0)
        await self._out.stop()
        if self._health is not None:
            await self._health.stop()
        logger.info(
            "gateway %s stopped: acked %d, orphaned %d",
            self._cfg.instance_id,
            self._tracker.acked,
            self._tracker.orphaned,
        )
