"""Supervision of a service's long-running tasks and threads: the first unexpected end fails the service.

A service hands every task that must live as long as it does to one ``Supervisor``. When such a task
raises, or returns or is cancelled while the service is not stopping, the supervisor logs the
exception with its traceback, records it as the service's failure (the first one counts), turns
``healthy`` false (each service's ``/readyz`` includes it) and sets the stop event, which ends the
service's ``wait()``. The service then shuts down as it would on SIGTERM, and ``check()`` (or leaving
``async with``) raises ``ServiceFailed``; the entry points turn that into exit status 1, so whatever
runs the process (systemd, Kubernetes, an operator) restarts it instead of keeping it half-dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any, Literal

from runtime.exceptions import ServiceFailed, TaskEnded

__all__ = ["Ends", "Supervisor", "cancel_all"]

logger = logging.getLogger(__name__)

Ends = Literal["never", "stops", "any"]
"""How a task may end: ``never`` before the service stops (its return fails the service),
``stops`` (its return is the end of a bounded run: the service stops), ``any`` (a short-lived
helper such as one retry: only an exception fails the service)."""


class Supervisor:
    """Owns the stop event and the long-running tasks of one service; loop-affine.

    ``request_stop`` is safe from signal handlers; ``thread_reporter`` gives threads a way in.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._stop = asyncio.Event()
        self._owned: set[asyncio.Task[Any]] = set()  # spawned here: ended by close()
        self._failure: BaseException | None = None
        self._failed_in = ""

    @property
    def failure(self) -> BaseException | None:
        """The first failure, or None."""
        return self._failure

    @property
    def healthy(self) -> bool:
        """False from the first failure on (part of the service's readiness)."""
        return self._failure is None

    @property
    def stopping(self) -> bool:
        """True once a stop was requested or a task failed."""
        return self._stop.is_set()

    @property
    def stop_event(self) -> asyncio.Event:
        """Set when the service should stop; loops that end between batches watch it."""
        return self._stop

    def request_stop(self) -> None:
        """Ask the service to stop (SIGTERM, end of a bounded run); tasks may now end."""
        self._stop.set()

    def stop_on_signals(self) -> None:
        """Make SIGINT and SIGTERM request a stop (call on the service's loop)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):  # loops without signal support
                loop.add_signal_handler(sig, self.request_stop)

    async def wait(self) -> None:
        """Wait until a stop is requested or a task fails."""
        await self._stop.wait()

    def spawn(
        self, coro: Coroutine[Any, Any, Any], *, name: str, ends: Ends = "never"
    ) -> asyncio.Task[Any]:
        """Run ``coro`` as a supervised task of the running loop; ``close`` ends it."""
        task = asyncio.create_task(coro, name=name)
        self._owned.add(task)
        return self.watch(task, ends=ends)

    def watch(self, task: asyncio.Task[Any], *, ends: Ends = "never") -> asyncio.Task[Any]:
        """Supervise a task that a component owns and ends itself (e.g. a refresh task)."""
        task.add_done_callback(functools.partial(self._done, ends))
        return task

    def thread_reporter(self, name: str) -> Callable[[BaseException | None], None]:
        """A callable a thread calls as it exits (with its exception, or None); any thread.

        Call this on the loop: the reporter hands the exit over to it.
        """
        loop = asyncio.get_running_loop()

        def report(error: BaseException | None) -> None:
            # A closed loop means the service has ended already: nothing is left to stop.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._ended, name, error, "never")

        return report

    def fail(self, error: BaseException, where: str) -> None:
        """Record a failure of ``where`` (the first one counts), log it and stop the service."""
        if self._failure is None:
            self._failure, self._failed_in = error, where
            logger.error(
                "%s: %s failed, stopping the service: %r", self.service, where, error,
                exc_info=error,
            )  # fmt: skip
        else:
            logger.error("%s: %s failed as well: %r", self.service, where, error, exc_info=error)
        self._stop.set()

    def _done(self, ends: Ends, task: asyncio.Task[Any]) -> None:
        self._owned.discard(task)
        if task.cancelled():
            if not self.stopping:
                self.fail(TaskEnded(f"{task.get_name()} was cancelled"), task.get_name())
            return
        self._ended(task.get_name(), task.exception(), ends)

    def _ended(self, name: str, error: BaseException | None, ends: Ends) -> None:
        if error is not None:
            self.fail(error, name)
        elif ends == "stops":
            self.request_stop()
        elif ends == "never" and not self.stopping:
            self.fail(TaskEnded(f"{name} returned while the service was running"), name)

    async def close(self, grace_s: float = 0.0) -> None:
        """Stop: let spawned tasks end by themselves for up to ``grace_s``, then cancel the rest.

        Watched tasks are left to the components that own them (their ``stop``).
        """
        self._stop.set()
        tasks = set(self._owned)
        if tasks and grace_s > 0:
            await asyncio.wait(tasks, timeout=grace_s)
        await cancel_all(tasks)

    def check(self) -> None:
        """Raise ServiceFailed (caused by the first failure) if a task failed."""
        if self._failure is not None:
            msg = f"{self.service}: {self._failed_in} failed: {self._failure!r}"
            raise ServiceFailed(msg) from self._failure

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
        # A task's failure, re-raised while the service unwinds (e.g. by the owner awaiting the
        # task), is reported once, as ServiceFailed.
        self.check()


async def cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel tasks until they are done: Python 3.11's wait_for can swallow a cancellation."""
    while True:
        pending = {t for t in tasks if not t.done()}
        if not pending:
            break
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
    for task in tasks:
        if not task.cancelled():
            task.exception()  # retrieved, so nothing is logged as "never retrieved"
