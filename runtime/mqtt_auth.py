"""Apply an ``MqttConfig``'s credentials and TLS settings to a paho client (one place for all)."""

from __future__ import annotations

import ssl

import paho.mqtt.client as mqtt

from contracts.settings import MqttConfig

__all__ = ["configure_client"]


def configure_client(client: mqtt.Client, config: MqttConfig) -> None:
    """Set user name/password and, when ``config.tls`` (or a CA/cert file) is set, TLS."""
    if config.username:
        password = config.password.get_secret_value() if config.password else None
        client.username_pw_set(config.username, password)
    if config.tls or config.tls_ca_file or config.tls_cert_file:
        # Certificate and host name are always verified: an unverified TLS link would let anyone
        # on the path read the credential it carries.
        client.tls_set(
            ca_certs=str(config.tls_ca_file) if config.tls_ca_file else None,
            certfile=str(config.tls_cert_file) if config.tls_cert_file else None,
            keyfile=str(config.tls_key_file) if config.tls_key_file else None,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
