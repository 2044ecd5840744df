"""Error tree of the gateway package.

GatewayError(SensegateError)          retriable: bool policy flag
 ├── ConfigurationError               invalid settings or routes; fatal at start-up
 ├── RouteError                       a route pattern or template is malformed (configuration time)
 ├── ProduceError                     a Kafka send failed or its outcome is unknown; retriable
 │    └── ProduceTimeoutError         the send did not resolve within the produce timeout (indefinite)
 └── paho_client.MalformedPublish     a PUBLISH breaks the MQTT v5 layout; also paho's MalformedPacket
"""

from __future__ import annotations

from contracts.errors import SensegateError

__all__ = [
    "ConfigurationError",
    "GatewayError",
    "ProduceError",
    "ProduceTimeoutError",
    "RouteError",
]


class GatewayError(SensegateError):
    """Base of every gateway error."""


class ConfigurationError(GatewayError):
    """Invalid gateway configuration; raised at start-up, never per message."""


class RouteError(ConfigurationError):
    """A route's topic filter or device template cannot be used."""


class ProduceError(GatewayError):
    """A Kafka send failed; the message is not acknowledged and is retried."""

    retriable = True


class ProduceTimeoutError(ProduceError):
    """A Kafka send did not resolve in time: its outcome is unknown, so it is retried, never acked."""
