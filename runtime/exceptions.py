"""Error tree of the service runtime (supervision of a service's tasks, test-only fault injection).

RuntimeServiceError(SensegateError)
 ├── TaskEnded          a supervised task or thread ended while its service was running
 ├── ServiceFailed      a supervised task failed; the service stopped and must exit non-zero
 └── InjectedFault      raised by an armed test-only fault point (runtime.faults)
"""

from __future__ import annotations

from contracts.errors import SensegateError

__all__ = ["InjectedFault", "RuntimeServiceError", "ServiceFailed", "TaskEnded"]


class RuntimeServiceError(SensegateError):
    """Base of every runtime error."""


class TaskEnded(RuntimeServiceError):
    """A task or thread that must live as long as its service returned or was cancelled early."""


class ServiceFailed(RuntimeServiceError):
    """A supervised task failed, so the service stopped; the cause is chained (``__cause__``).

    Retriable: the process exits non-zero so that its supervisor restarts it, which is the retry.
    """

    retriable = True


class InjectedFault(RuntimeServiceError):
    """A test-only fault point fired (``SENSEGATE_TEST_FAULTS``); never raised in a deployment."""
