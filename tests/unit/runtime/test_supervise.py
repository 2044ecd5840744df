"""The supervisor: the first unexpected end of a task or thread fails the service, once, loudly."""

from __future__ import annotations

import asyncio
import logging
import threading

import pytest

from contracts.settings import MetricsConfig
from runtime.exceptions import ServiceFailed, TaskEnded
from runtime.http_endpoint import HealthServer
from runtime.supervise import Supervisor
from tests.fixtures.ports import free_port


async def _forever() -> None:
    await asyncio.Event().wait()


async def _raise_after(delay: float, error: BaseException) -> None:
    await asyncio.sleep(delay)
    raise error


async def test_failed_task_flips_health_wakes_wait_logs_and_cancels_siblings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    boom = ValueError("dispatcher bug")
    sup = Supervisor("svc")
    sibling = sup.spawn(_forever(), name="sibling")
    sup.spawn(_raise_after(0.01, boom), name="worker")
    assert sup.healthy
    with caplog.at_level(logging.ERROR, logger="runtime.supervise"):
        await asyncio.wait_for(sup.wait(), 5)
    assert not sup.healthy
    assert sup.stopping
    assert sup.failure is boom
    record = next(r for r in caplog.records if "worker failed" in r.getMessage())
    assert record.exc_info is not None and record.exc_info[1] is boom  # traceback in the log
    assert not sibling.done()
    await sup.close()
    assert sibling.cancelled()
    with pytest.raises(ServiceFailed) as caught:
        sup.check()
    assert caught.value.__cause__ is boom
    assert "worker" in str(caught.value)


async def test_only_the_first_failure_counts_but_every_one_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    first, second = ValueError("first"), KeyError("second")
    sup = Supervisor("svc")
    with caplog.at_level(logging.ERROR, logger="runtime.supervise"):
        sup.spawn(_raise_after(0, first), name="a")
        sup.spawn(_raise_after(0.02, second), name="b", ends="any")
        await sup.wait()
        await asyncio.sleep(0.05)
    assert sup.failure is first
    messages = [r.getMessage() for r in caplog.records]
    assert any("a failed, stopping" in m for m in messages)
    assert any("b failed as well" in m for m in messages)
    await sup.close()


async def test_a_never_ending_task_that_returns_early_is_a_failure() -> None:
    async def returns() -> None:
        await asyncio.sleep(0)

    sup = Supervisor("svc")
    sup.spawn(returns(), name="loop")
    await asyncio.wait_for(sup.wait(), 5)
    assert isinstance(sup.failure, TaskEnded)
    assert "loop returned" in str(sup.failure)
    await sup.close()


async def test_ends_after_a_stop_request_and_cancellation_at_close_are_not_failures() -> None:
    sup = Supervisor("svc")

    async def loop_until_stop() -> None:
        await sup.stop_event.wait()

    finished = sup.spawn(loop_until_stop(), name="loop")
    hung = sup.spawn(_forever(), name="hung")
    sup.request_stop()
    await sup.close(grace_s=0.2)
    assert finished.done() and not finished.cancelled()  # ended by itself within the grace
    assert hung.cancelled()
    assert sup.healthy
    sup.check()


async def test_cancelled_while_running_is_a_failure() -> None:
    sup = Supervisor("svc")
    task = sup.spawn(_forever(), name="victim")
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait_for(sup.wait(), 5)
    assert isinstance(sup.failure, TaskEnded)
    assert "victim was cancelled" in str(sup.failure)


async def test_stops_and_any_endings() -> None:
    sup = Supervisor("svc")

    async def quick() -> None:
        await asyncio.sleep(0)

    sup.spawn(quick(), name="helper", ends="any")
    await asyncio.sleep(0.01)
    assert not sup.stopping  # a helper may end
    sup.spawn(quick(), name="bounded-run", ends="stops")
    await asyncio.wait_for(sup.wait(), 5)  # a bounded run's end stops the service...
    assert sup.healthy  # ...without failing it
    await sup.close()


async def test_watch_adopts_a_task_created_elsewhere() -> None:
    sup = Supervisor("svc")
    boom = RuntimeError("refresh bug")
    sup.watch(asyncio.create_task(_raise_after(0, boom)))
    await asyncio.wait_for(sup.wait(), 5)
    assert sup.failure is boom


async def test_close_leaves_a_watched_task_to_its_owner() -> None:
    sup = Supervisor("svc")
    owned_elsewhere = sup.watch(asyncio.create_task(_forever(), name="refresh"))
    await sup.close(grace_s=5)  # returns at once: nothing of its own to wait for
    assert not owned_elsewhere.done()
    owned_elsewhere.cancel()  # the owner's stop(), while the service is stopping
    await asyncio.wait({owned_elsewhere})
    assert sup.healthy


async def test_thread_reporter_fails_on_exception_or_early_end_but_not_while_stopping() -> None:
    sup = Supervisor("svc")
    report = sup.thread_reporter("worker-thread")
    boom = OSError("socket bug")
    thread = threading.Thread(target=report, args=(boom,))
    thread.start()
    thread.join()
    await asyncio.wait_for(sup.wait(), 5)
    assert sup.failure is boom

    quiet = Supervisor("svc")
    ended = quiet.thread_reporter("worker-thread")
    ended(None)
    await asyncio.wait_for(quiet.wait(), 5)
    assert isinstance(quiet.failure, TaskEnded)

    stopping = Supervisor("svc")
    stopped = stopping.thread_reporter("worker-thread")
    stopping.request_stop()
    stopped(None)
    await asyncio.sleep(0.01)
    assert stopping.healthy


async def test_async_with_raises_service_failed_even_when_the_failure_propagates() -> None:
    boom = ValueError("consume bug")
    with pytest.raises(ServiceFailed) as caught:
        async with Supervisor("svc") as sup:
            task = sup.spawn(_raise_after(0, boom), name="consume")
            await sup.wait()
            await task  # the owner re-raises the task's error while unwinding
    assert caught.value.__cause__ is boom


async def test_setup_errors_pass_through_and_tasks_are_cancelled() -> None:
    with pytest.raises(KeyError):
        async with Supervisor("svc") as sup:
            task = sup.spawn(_forever(), name="loop")
            msg = "setup"
            raise KeyError(msg)
    assert task.cancelled()
    assert sup.healthy


async def test_readyz_turns_red_when_a_task_fails() -> None:
    sup = Supervisor("svc")
    server = HealthServer(MetricsConfig(host="127.0.0.1", port=free_port()), lambda: sup.healthy)
    async with server:
        assert server.port is not None
        assert await _status(server.port, "/readyz") == 200
        sup.spawn(_raise_after(0, ValueError("bug")), name="loop")
        await sup.wait()
        assert await _status(server.port, "/readyz") == 503
        assert await _status(server.port, "/healthz") == 200  # alive, but not to be sent traffic
    await sup.close()


async def _status(port: int, path: str) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    return int(data.split()[1])
