"""Instance side, one step: allow-list from the catalog, replication principal, MM2 file, registrations.

Run by ``make up`` when an upstream is configured and again after every catalog change; a
tightened entry loses its READ binding before MirrorMaker is restarted with the new file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from contracts.credential import new_credential
from contracts.settings import KafkaConfig
from processors.catalog.loader import Catalog
from processors.federation.allowlist import allowed_topics
from processors.federation.config import FederationConfig, FederationError
from processors.federation.grants import apply_instance_grants
from processors.federation.mm2 import render_properties
from processors.federation.registrations import publish_registrations, registration_records
from runtime.topic_admin import ensure_topics

__all__ = ["Configured", "configure_instance", "replication_source"]


@dataclass(frozen=True)
class Configured:
    """What ``configure_instance`` did."""

    topics: tuple[str, ...]
    properties: Path
    acls_added: int
    acls_removed: int
    registrations: int


def _secret(path: Path, given: SecretStr | None) -> str:
    if given is not None:
        return given.get_secret_value()
    if path.exists():
        return path.read_text().strip()
    value = new_credential()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def replication_source(fed: FederationConfig, password: str) -> KafkaConfig:
    """How MirrorMaker logs in at the instance: SCRAM on the SASL listener, never anonymous."""
    if not fed.source_bootstrap:
        msg = "SENSEGATE_FEDERATION__SOURCE_BOOTSTRAP (the instance's SASL listener) is not set"
        raise FederationError(msg)
    return KafkaConfig(
        bootstrap_servers=fed.source_bootstrap,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username=fed.replication_user,
        sasl_password=SecretStr(password),
    )


async def configure_instance(
    admin: KafkaConfig,
    fed: FederationConfig,
    catalog: Catalog,
    folder: Path,
    *,
    public_key: str = "",
    replication_factor: int = -1,
    register: bool = True,
) -> Configured:
    """Apply the catalog's allow-list on the instance and write ``folder/mm2.properties``."""
    fed.require()
    prefix = admin.topic_prefix
    topics = allowed_topics(catalog, prefix, fed.province_scope)
    password = _secret(folder / "replication.secret", fed.replication_password)
    source = replication_source(fed, password)
    # Revoke first: what the catalog no longer allows must stop before anything else changes.
    added, removed = await apply_instance_grants(admin, fed.replication_user, password, topics)
    await ensure_topics(admin, topics)
    properties = folder / "mm2.properties"
    text = render_properties(fed, source, topics, replication_factor=replication_factor)
    tmp = properties.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(tmp, properties)
    count = 0
    if register:
        count = await publish_registrations(
            admin, registration_records(catalog, fed, prefix, public_key)
        )
    return Configured(topics, properties, added, removed, count)
