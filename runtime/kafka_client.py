"""Kafka client settings for operator tools, tests and benchmarks: the admin principal by default.

Tools that only know a bootstrap address ask here for the full client settings. A broker
``register``ed by the caller (a private test broker) gets its own credentials; any other address
gets the operator's settings from the environment (``SENSEGATE_KAFKA__*``, as in
``secrets/env/operator.env``) with that bootstrap address. There is no anonymous fallback.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, KafkaConfig

__all__ = ["client_kwargs", "config_for", "register"]

_REGISTERED: dict[str, KafkaConfig] = {}


class _OperatorEnv(BaseSettings):
    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()


def register(config: KafkaConfig) -> None:
    """Use ``config`` for every client of ``config.bootstrap_servers`` (private brokers)."""
    _REGISTERED[config.bootstrap_servers] = config


def config_for(bootstrap: str, **overrides: Any) -> KafkaConfig:
    """Full client settings for ``bootstrap``, with field ``overrides`` (e.g. ``topic_prefix``)."""
    base = _REGISTERED.get(bootstrap) or _OperatorEnv().kafka.model_copy(
        update={"bootstrap_servers": bootstrap}
    )
    return base.model_copy(update=overrides) if overrides else base


def client_kwargs(bootstrap: str, **extra: Any) -> dict[str, Any]:
    """Aiokafka keyword arguments for ``bootstrap`` plus ``extra`` client options."""
    return {**config_for(bootstrap).client_kwargs(), **extra}
