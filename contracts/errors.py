"""Root of sensegate's error tree: every project exception derives from ``SensegateError``.

SensegateError                              retriable: bool (class-level policy flag)
 ├── Rejected(reason, detail)               one input becomes a dead letter; never retriable
 │    └── contracts.envelope.EnvelopeFormatError
 ├── gateway.exceptions.GatewayError        root of the gateway package
 ├── processors.exceptions.ProcessorError   root of the processors package; its rejections
 │                                          (CodecError, RecordRejected, RowRejected) are also Rejected
 └── simulators.exceptions.SimulatorError   root of the simulators package

Each package's own tree is drawn in its exceptions module. No project exception derives from
``ValueError`` or another built-in error outside this tree (tests/unit/contracts/test_error_tree.py).
"""

from __future__ import annotations

from contracts.dead_letter import ReasonCode

__all__ = ["Rejected", "SensegateError"]


class SensegateError(Exception):
    """Base of every error raised by sensegate code.

    Callers branch on the ``retriable`` policy flag, not on the concrete type.
    """

    retriable: bool = False


class Rejected(SensegateError):
    """One input cannot be used; the stage writes a dead letter with ``reason`` and ``detail``.

    Per input and never retriable: retrying the same bytes gives the same answer. A package's
    rejection derives from its package root as well, e.g. ``CodecError(ProcessorError, Rejected)``.
    """

    retriable = False

    def __init__(self, reason: ReasonCode, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
