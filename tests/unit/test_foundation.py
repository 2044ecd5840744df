"""Foundation checks: docker-compose stays consistent with the native stack and the settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from contracts.secrets import MissingSettingError
from contracts.settings import DbConfig, KafkaConfig, MqttConfig
from stack.compose import generate

ROOT = Path(__file__).resolve().parents[2]


def _stack_default(name: str) -> str:
    text = (ROOT / "stack" / "stack.sh").read_text()
    match = re.search(rf'{name}="\$\{{[A-Z_]+:-(\d+)\}}"', text)
    assert match, name
    return match.group(1)


def test_compose_has_expected_services() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= {
        "mosquitto",
        "kafka",
        "postgres",
        "gateway",
        "normalize",
        "sink",
        "share",
        "simulator",
    }
    assert services["kafka"]["image"].startswith("apache/kafka:4")
    assert services["postgres"]["image"].startswith("timescale/timescaledb")
    for name in ("mosquitto", "kafka", "postgres", "gateway", "normalize", "sink", "share"):
        assert "healthcheck" in services[name], name


def test_compose_ports_match_native_stack_and_settings(tmp_path: Path) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    mqtt, kafka, pg = (
        _stack_default("MQTT_PORT"),
        _stack_default("KAFKA_PORT"),
        _stack_default("PG_PORT"),
    )
    tls, mtls = _stack_default("MQTT_TLS_PORT"), _stack_default("MQTT_MTLS_PORT")
    assert services["mosquitto"]["ports"] == [
        f"127.0.0.1:{p}:{p}" for p in (mqtt, tls, mtls)
    ]
    assert services["kafka"]["ports"] == [f"127.0.0.1:{kafka}:{kafka}"]
    assert services["postgres"]["ports"] == [f"127.0.0.1:{pg}:{pg}"]
    assert MqttConfig().port == int(mqtt)
    assert KafkaConfig().bootstrap_servers.endswith(f":{kafka}")
    with pytest.raises(MissingSettingError, match="SENSEGATE_DB__DSN"):
        DbConfig().dsn.get_secret_value()  # no default password, anywhere
    assert services["gateway"]["environment"]["SENSEGATE_MQTT__PORT"] == mqtt
    # Each service's credentials come from its own generated env file, none from the YAML.
    envs = generate(tmp_path)
    by_name = {p.name: p for p in envs}
    for name in ("gateway", "normalize", "sink", "share"):
        (env_file,) = services[name]["env_file"]
        assert env_file.endswith(f"secrets/compose/{name}.env")
        text = by_name[f"{name}.env"].read_text()
        assert f"SENSEGATE_KAFKA__BOOTSTRAP_SERVERS=kafka:{kafka}" in text
    assert f"postgres:{pg}/" in by_name["sink.env"].read_text()
    raw = (ROOT / "docker-compose.yml").read_text()
    assert "sensegate:sensegate" not in raw and "POSTGRES_PASSWORD:" not in raw


def test_mosquitto_configs_keep_outage_limits() -> None:
    for path in (ROOT / "stack" / "mosquitto.conf.in", ROOT / "config" / "mosquitto-docker.conf"):
        conf = dict(
            line.split(None, 1)
            for line in path.read_text().splitlines()
            if line and not line.startswith("#")
        )
        assert conf["persistence"] == "true"
        assert int(conf["max_queued_messages"]) >= 1_000_000
        # a crash loses at most about a second of acknowledged messages (docs/reliability.md W2)
        assert conf["autosave_on_changes"] == "false"
        assert int(conf["autosave_interval"]) <= 1


def test_mosquitto_configs_refuse_anonymous_and_offer_tls() -> None:
    for path in (ROOT / "stack" / "mosquitto.conf.in", ROOT / "config" / "mosquitto-docker.conf"):
        lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
        assert "allow_anonymous false" in lines, path
        assert "per_listener_settings false" in lines, path  # the setting covers every listener
        assert not any(ln.startswith("allow_anonymous true") for ln in lines), path
        assert any(ln.startswith("plugin ") for ln in lines), path
        assert any(
            ln.startswith("plugin_opt_config_file") and "dynamic-security" in ln for ln in lines
        ), path
        assert sum(ln.startswith("listener ") for ln in lines) == 3, path
        assert sum(ln.startswith("certfile ") for ln in lines) == 2, path
        assert "require_certificate true" in lines and "use_identity_as_username true" in lines
