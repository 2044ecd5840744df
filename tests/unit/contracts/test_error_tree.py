"""One error tree: every project exception sits under its package's root, which sits under SensegateError."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import pytest
from paho.mqtt.exception import MalformedPacket, MQTTException

from contracts.dead_letter import ReasonCode
from contracts.envelope import EnvelopeFormatError
from contracts.errors import Rejected, SensegateError
from gateway.exceptions import GatewayError
from processors.codecs.base import CodecError
from processors.exceptions import ProcessorError
from processors.normalize.contract import RecordRejected
from processors.registry.industrial_id import IdentifierError
from processors.sinks.rows import RowRejected
from simulators.exceptions import SimulatorError

# Third-party bases a project exception may add to its root, and why:
# paho's read loop drops a connection only for its own MalformedPacket (gateway.paho_client).
FOREIGN_BASES: frozenset[type] = frozenset({MalformedPacket, MQTTException})

# package -> the root every exception defined in it must derive from
ROOTS: dict[str, type[SensegateError]] = {
    "contracts": SensegateError,
    "runtime": SensegateError,
    "gateway": GatewayError,
    "processors": ProcessorError,
    "simulators": SimulatorError,
}


def project_exceptions() -> Iterator[type[BaseException]]:
    """Every exception class defined in a module of the project's packages."""
    for package in ROOTS:
        root = importlib.import_module(package)
        names = [package] + [
            info.name
            for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
            if not info.name.endswith("__main__")
        ]
        for name in names:
            module = importlib.import_module(name)
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, BaseException) and cls.__module__ == name:
                    yield cls


EXCEPTIONS = sorted(set(project_exceptions()), key=lambda c: f"{c.__module__}.{c.__qualname__}")


def test_the_scan_finds_the_tree() -> None:
    found = {c.__name__ for c in EXCEPTIONS}
    assert {"SensegateError", "Rejected", "CodecError", "RowRejected", "LppError"} <= found
    assert len(EXCEPTIONS) >= 30


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_each_exception_derives_from_its_package_root(cls: type[BaseException]) -> None:
    assert issubclass(cls, ROOTS[cls.__module__.split(".")[0]])
    # Nothing but project classes between it and Exception: no ValueError or other built-in error.
    foreign = [
        b
        for b in cls.__mro__
        if b not in (Exception, BaseException, object, *FOREIGN_BASES)
        and b.__module__.split(".")[0] not in ROOTS
    ]
    assert foreign == []
    assert isinstance(getattr(cls, "retriable", None), bool)


@pytest.mark.parametrize(
    ("cls", "root"),
    [
        (CodecError, ProcessorError),
        (IdentifierError, ProcessorError),
        (RecordRejected, ProcessorError),
        (RowRejected, ProcessorError),
        (EnvelopeFormatError, SensegateError),
    ],
)
def test_rejections_share_one_base(cls: type[Rejected], root: type[SensegateError]) -> None:
    assert issubclass(cls, Rejected) and issubclass(cls, root)
    assert cls.retriable is False


def test_a_rejection_carries_reason_and_detail() -> None:
    err = RowRejected(ReasonCode.DATA_REJECTED, "item x: 'a' is not a double")
    assert (err.reason, err.detail) == (ReasonCode.DATA_REJECTED, "item x: 'a' is not a double")
    assert str(err) == "data_rejected: item x: 'a' is not a double"
    envelope = EnvelopeFormatError("malformed envelope headers: 'sg.gw'")
    assert envelope.reason is ReasonCode.ENVELOPE_INVALID
    assert envelope.detail == "malformed envelope headers: 'sg.gw'"
