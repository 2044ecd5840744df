"""Errors raised by the simulators.

SensegateError
 └── SimulatorError             retriable = False
      ├── ConfigError           bad options (unknown fault name, rate <= 0, ...)
      ├── EncoderUnavailable    a codec helper's encoder is not importable in this build
      ├── ReplayFormatError     a replay file is not in the documented format
      └── BrokerError           retriable = True; the MQTT broker refused or dropped us
"""

from __future__ import annotations

from contracts.errors import SensegateError

__all__ = [
    "BrokerError",
    "ConfigError",
    "EncoderUnavailable",
    "ReplayFormatError",
    "SimulatorError",
]


class SimulatorError(SensegateError):
    """Root of every simulator error."""

    retriable = False


class ConfigError(SimulatorError):
    """Invalid simulator options; raised before anything is published."""


class EncoderUnavailable(SimulatorError):
    """A project codec needed to encode a family's payloads cannot be imported."""


class ReplayFormatError(SimulatorError):
    """A replay file does not follow the documented format."""


class BrokerError(SimulatorError):
    """The MQTT broker could not be reached or refused the connection."""

    retriable = True
