"""Gateway settings: defaults, environment, validation at start-up."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from gateway.__main__ import build_parser, load_settings
from gateway.config import DEFAULT_SUBSCRIPTIONS, GatewayConfig, GatewaySettings


def test_defaults_match_stack_and_layouts() -> None:
    s = GatewaySettings()
    assert s.mqtt.port == 11883
    assert s.kafka.topic_prefix == "sensegate."
    cfg = s.gateway
    assert cfg.subscriptions == DEFAULT_SUBSCRIPTIONS
    assert cfg.effective_subscriptions == DEFAULT_SUBSCRIPTIONS
    assert cfg.effective_client_id == f"sensegate-gw-{cfg.instance_id}"
    assert cfg.queue_capacity == 2 * cfg.max_in_flight


def test_environment_nested(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSEGATE_MQTT__PORT", "1884")
    monkeypatch.setenv("SENSEGATE_GATEWAY__INSTANCE_ID", "gw-a")
    monkeypatch.setenv("SENSEGATE_GATEWAY__MAX_IN_FLIGHT", "50")
    monkeypatch.setenv("SENSEGATE_GATEWAY__SHARE_GROUP", "ingest")
    monkeypatch.setenv("SENSEGATE_GATEWAY__SUBSCRIPTIONS", '["V2X/RSU/+/+/UP/#", "$share/x/a/#"]')
    s = GatewaySettings()
    assert s.mqtt.port == 1884
    assert s.gateway.max_in_flight == 50
    assert s.gateway.effective_client_id == "sensegate-gw-gw-a"
    assert s.gateway.effective_subscriptions == ("$share/ingest/V2X/RSU/+/+/UP/#", "$share/x/a/#")


def test_cli_overrides_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENSEGATE_GATEWAY__INSTANCE_ID", "from-env")
    monkeypatch.setenv("SENSEGATE_GATEWAY__MAX_IN_FLIGHT", "50")
    args = build_parser().parse_args(
        ["--instance-id", "cli", "--subscribe", "a/#", "--subscribe", "b/+", "--mqtt-port", "2"]
    )
    s = load_settings(args)
    assert s.gateway.instance_id == "cli"
    assert s.gateway.max_in_flight == 50  # untouched env value survives
    assert s.gateway.subscriptions == ("a/#", "b/+")
    assert s.mqtt.port == 2


def test_settings_are_frozen() -> None:
    cfg = GatewayConfig()
    with pytest.raises(ValidationError):
        cfg.max_in_flight = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    "bad",
    [
        {"subscriptions": ()},
        {"subscriptions": ("a/#/b",)},
        {"subscriptions": ("a/b+",)},
        {"subscriptions": ("$share/g",)},
        {"share_group": "a/b"},
        {"share_group": ""},
        {"max_in_flight": 0},
        {"max_in_flight": 70000},
        {"produce_timeout_s": 0},
        {"dlq_keep_bytes": 10, "max_payload_bytes": 5},
        {"max_payload_bytes": 2_000_000},  # does not fit max_request_bytes once base64-encoded
        {"retry_backoff_min_s": 5, "retry_backoff_max_s": 1},
        {"reconnect_min_s": 10, "reconnect_max_s": 1},
        {"routes": ({"filter": "a/#/b", "family": "v2x", "device": "{0}"},)},
        {"routes": ({"filter": "a/+", "family": "nope", "device": "{1}"},)},
        {"unknown_option": 1},
    ],
)
def test_invalid_config_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        GatewayConfig.model_validate(bad)


def test_custom_routes_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "SENSEGATE_GATEWAY__ROUTES",
        '[{"filter": "farm/+/up", "family": "agri", "device": "{1|lower}"}]',
    )
    s = GatewaySettings()
    assert len(s.gateway.routes) == 1
    assert s.gateway.routes[0].device == "{1|lower}"


def test_batch_must_fit_in_a_request() -> None:
    assert GatewayConfig(batch_bytes=2_000_000).batch_bytes == 2_000_000
    with pytest.raises(ValidationError, match="batch_bytes"):
        GatewayConfig(batch_bytes=3_000_000)
