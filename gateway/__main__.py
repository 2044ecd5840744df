"""``python -m gateway``: run the MQTT-to-Kafka gateway until SIGTERM/SIGINT (exit code 0).

Exit code 1 when a supervised task failed (runtime.supervise), 2 for invalid settings.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import logging
import signal
import sys
from typing import Any

from pydantic import ValidationError

from contracts.secrets import (
    MissingSettingError,
    SettingsError,
    describe_validation,
    missing_settings,
)
from gateway.app import Gateway
from gateway.config import GatewaySettings
from gateway.logs import configure_logging
from runtime.exceptions import ServiceFailed

__all__ = ["build_parser", "load_settings", "main"]

logger = logging.getLogger("gateway")


def build_parser() -> argparse.ArgumentParser:
    """Command-line options; each overrides the matching SENSEGATE_* environment variable."""
    parser = argparse.ArgumentParser(
        prog="python -m gateway",
        description=(
            "sensegate gateway: MQTT v5 (persistent session, QoS 1, manual ack) to Kafka raw "
            "topics; a message is acknowledged only after Kafka has it. Settings come from "
            "SENSEGATE_* environment variables (see docs/gateway.md); options below override them."
        ),
    )
    parser.add_argument("--mqtt-host", help="MQTT broker host (SENSEGATE_MQTT__HOST)")
    parser.add_argument("--mqtt-port", type=int, help="MQTT broker port (SENSEGATE_MQTT__PORT)")
    parser.add_argument(
        "--kafka", help="Kafka bootstrap servers (SENSEGATE_KAFKA__BOOTSTRAP_SERVERS)"
    )
    parser.add_argument("--topic-prefix", help="Kafka topic prefix (SENSEGATE_KAFKA__TOPIC_PREFIX)")
    parser.add_argument(
        "--instance-id", help="gateway instance id (SENSEGATE_GATEWAY__INSTANCE_ID)"
    )
    parser.add_argument("--client-id", help="MQTT client id (SENSEGATE_GATEWAY__CLIENT_ID)")
    parser.add_argument(
        "--share-group", help="MQTT v5 shared subscription group (SENSEGATE_GATEWAY__SHARE_GROUP)"
    )
    parser.add_argument(
        "--subscribe",
        action="append",
        metavar="FILTER",
        help="topic filter to subscribe to; repeatable (SENSEGATE_GATEWAY__SUBSCRIPTIONS)",
    )
    parser.add_argument(
        "--max-in-flight", type=int, help="Receive Maximum (SENSEGATE_GATEWAY__MAX_IN_FLIGHT)"
    )
    parser.add_argument(
        "--metrics-port", type=int, help="HTTP port for /metrics /healthz /readyz; 0 = off"
    )
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", choices=["json", "text"])
    parser.add_argument(
        "--print-config", action="store_true", help="print the effective settings and exit"
    )
    return parser


def load_settings(args: argparse.Namespace) -> GatewaySettings:
    """Settings from the environment with command-line overrides applied."""
    overrides: dict[str, dict[str, Any]] = {"mqtt": {}, "kafka": {}, "metrics": {}, "gateway": {}}
    pairs = (
        ("mqtt", "host", args.mqtt_host),
        ("mqtt", "port", args.mqtt_port),
        ("kafka", "bootstrap_servers", args.kafka),
        ("kafka", "topic_prefix", args.topic_prefix),
        ("metrics", "port", args.metrics_port),
        ("gateway", "instance_id", args.instance_id),
        ("gateway", "client_id", args.client_id),
        ("gateway", "share_group", args.share_group),
        ("gateway", "subscriptions", tuple(args.subscribe) if args.subscribe else None),
        ("gateway", "max_in_flight", args.max_in_flight),
        ("gateway", "log_level", args.log_level),
        ("gateway", "log_format", args.log_format),
    )
    for section, key, value in pairs:
        if value is not None:
            overrides[section][key] = value
    return GatewaySettings.model_validate({k: v for k, v in overrides.items() if v})


async def _serve(settings: GatewaySettings) -> None:
    gateway = Gateway(settings)
    gateway.supervisor.stop_on_signals()
    await gateway.run()


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings(args)
        missing = missing_settings(settings)
        if missing and not args.print_config:
            raise MissingSettingError(missing)
    except ValidationError as exc:
        # Never print pydantic's own message: it echoes the input, secrets included.
        print(f"gateway: {SettingsError(describe_validation(exc))}", file=sys.stderr)
        return 2
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        print(json.dumps(settings.model_dump(mode="json"), indent=2))
        return 0
    cfg = settings.gateway
    # `kill -USR1 <pid>` dumps every thread's stack to stderr (diagnosing a stuck shutdown).
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    configure_logging(cfg.log_level, cfg.log_format, cfg.instance_id)
    try:
        asyncio.run(_serve(settings))
    except ServiceFailed as exc:
        # The traceback of the cause was logged when it happened; a non-zero exit gets a restart.
        logger.error("gateway exits with status 1: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
