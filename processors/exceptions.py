"""Error root of the processors package: every processors error derives from ``ProcessorError``.

ProcessorError(SensegateError)
 ├── ConfigurationError                 bad settings, catalog or registry; fatal at start-up
 │    └── catalog.exceptions.CatalogError
 │         └── RegistrationError
 ├── StorageError                       retriable per SQLSTATE, decided in sinks.sqlstate alone
 │    └── sinks.writer.OffsetConflictError
 ├── codecs.base.CodecError             + Rejected: the payload cannot be decoded
 │    └── registry.industrial_id.IdentifierError
 ├── codecs.base.FormatError            a codec parser's finding, mapped by the codec to a CodecError
 │    └── LppError, JsonLimitError, UplinkSchemaError (lorawan); TopicError, PayloadError (sparkplug)
 ├── normalize.contract.RecordRejected  + Rejected: an input yields no records
 ├── normalize.runner.DeliveryError     retriable: outputs not acknowledged in time
 ├── sinks.rows.RowRejected             + Rejected: a consumed record cannot be stored
 ├── provenance: CanonicalError, ProofError, CorrectionError
 ├── share: GrantError, KafkaSecurityError (retriable for the broker's transient codes)
 └── registry.broker_auth.BrokerAdminError  retriable when the MQTT broker did not answer

"+ Rejected" marks the per-input rejections: they also derive from ``contracts.errors.Rejected``,
so each carries ``reason`` and ``detail`` for its dead letter and is never retriable.
"""

from __future__ import annotations

from contracts.errors import SensegateError

__all__ = ["ConfigurationError", "ProcessorError", "StorageError"]


class ProcessorError(SensegateError):
    """Base of every processors error."""


class ConfigurationError(ProcessorError):
    """Invalid configuration, catalog or registry; raised at start-up, never per message."""


class StorageError(ProcessorError):
    """A database operation failed; ``retriable`` says whether retrying the batch can succeed."""

    def __init__(self, message: str, *, retriable: bool, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.sqlstate = sqlstate
