"""Secrets in settings: no default value, refusals name the setting, errors never echo input."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from contracts.secrets import MissingSettingError, SettingsError, load_settings
from contracts.settings import DbConfig, KafkaConfig
from processors.normalize.config import NormalizeSettings
from processors.share.config import ShareSettings
from processors.sinks.config import SinkSettings


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("SENSEGATE_"):
            monkeypatch.delenv(key)


def test_unset_secret_names_its_setting_when_used() -> None:
    with pytest.raises(MissingSettingError, match="SENSEGATE_DB__DSN"):
        DbConfig().dsn.get_secret_value()
    with pytest.raises(MissingSettingError, match="SENSEGATE_KAFKA__SASL_PASSWORD"):
        KafkaConfig(sasl_username="x").client_kwargs()


@pytest.mark.parametrize(
    ("cls", "require", "expected"),
    [
        (NormalizeSettings, (), ["SENSEGATE_PSEUDONYM__KEYS", "SENSEGATE_DB__DSN"]),
        (ShareSettings, (), ["SENSEGATE_SHARE_KEYS__MASTERS", "SENSEGATE_KAFKA__SASL_PASSWORD"]),
        (SinkSettings, ("provenance.signing_key",), ["SENSEGATE_PROVENANCE__SIGNING_KEY"]),
    ],
)
def test_service_without_its_secrets_refuses_naming_them(
    monkeypatch: pytest.MonkeyPatch, cls: type, require: tuple[str, ...], expected: list[str]
) -> None:
    _clear(monkeypatch)
    with pytest.raises(MissingSettingError) as info:
        load_settings(cls, require=require)
    for name in expected:
        assert name in str(info.value)


def test_invalid_secret_is_reported_without_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    _clear(monkeypatch)
    monkeypatch.setenv("SENSEGATE_PSEUDONYM__KEYS", '{"k1": "tooShortSecret1"}')
    monkeypatch.setenv("SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID", "k1")
    with pytest.raises(SettingsError) as info:
        load_settings(NormalizeSettings, eager=False)
    assert "SENSEGATE_PSEUDONYM" in str(info.value)
    assert "tooShortSecret1" not in str(info.value)


def test_secrets_do_not_show_in_a_config_dump() -> None:
    cfg = KafkaConfig(sasl_username="svc", sasl_password=SecretStr("hunter2-hunter2"))
    assert "hunter2" not in cfg.model_dump_json()
    assert "hunter2" not in repr(cfg)
    assert "hunter2" not in DbConfig(dsn=SecretStr("postgresql://a:hunter2@h/d")).model_dump_json()
