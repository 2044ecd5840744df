"""Root of sensegate's error tree; every package's own root derives from it.

SensegateError                 retriable: bool (class-level policy flag)
 ├── gateway.exceptions.GatewayError
 ├── processors.exceptions.ProcessorError
 │    └── processors.codecs.base.CodecError (per-record, carries a reason code)
 └── simulators.exceptions.SimulatorError
"""

from __future__ import annotations

__all__ = ["SensegateError"]


class SensegateError(Exception):
    """Base of every error raised by sensegate code.

    Callers branch on the ``retriable`` policy flag, not on the concrete type.
    """

    retriable: bool = False
