"""``python -m processors federation``: upstream replication of this instance to the province."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from pydantic_settings import BaseSettings

from contracts.settings import SETTINGS_CONFIG, KafkaConfig
from processors.catalog import load_catalog
from processors.federation import FederationConfig, FederationError, allowed_topics
from processors.federation.configure import configure_instance
from processors.federation.mm2 import mirror_command
from processors.provenance.keys import Signer
from processors.sinks.config import ProvenanceConfig

__all__ = ["FederationSettings", "add_arguments", "run"]


class FederationSettings(BaseSettings):
    """Operator (ACL administrator) Kafka connection, federation settings and the signing key."""

    model_config = SETTINGS_CONFIG

    kafka: KafkaConfig = KafkaConfig()
    federation: FederationConfig = FederationConfig()
    provenance: ProvenanceConfig = ProvenanceConfig()


def _state() -> Path:
    return Path(os.environ.get("SENSEGATE_STATE", ".state")) / "federation"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands: allowlist, configure, run-mirror."""
    parser.add_argument(
        "--catalog", type=Path, default=None, help="catalog folder (default catalog/)"
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("allowlist", help="print the topics the catalog lets leave this instance")
    cf = sub.add_parser(
        "configure", help="apply the allow-list (ACLs), write mm2.properties, publish registrations"
    )
    cf.add_argument("--folder", type=Path, default=None, help="default $SENSEGATE_STATE/federation")
    cf.add_argument("--replication-factor", type=int, default=-1, help="-1: the province's default")
    rm = sub.add_parser("run-mirror", help="run MirrorMaker 2 in the foreground (supervised)")
    rm.add_argument("--folder", type=Path, default=None, help="default $SENSEGATE_STATE/federation")


async def _configure(settings: FederationSettings, args: argparse.Namespace) -> int:
    signing = settings.provenance.signing_key
    public_key = Signer(signing).public_key if signing is not None else ""
    done = await configure_instance(
        settings.kafka,
        settings.federation,
        load_catalog(args.catalog),
        args.folder or _state(),
        public_key=public_key,
        replication_factor=args.replication_factor,
    )
    print(f"{len(done.topics)} topic(s) may leave this instance:")
    for topic in done.topics:
        print(f"  {topic}")
    print(
        f"ACLs of {settings.federation.replication_user}: +{done.acls_added} -{done.acls_removed}"
    )
    print(f"{done.registrations} registration(s) published; MirrorMaker config {done.properties}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one federation action."""
    settings = FederationSettings()
    try:
        if args.action == "allowlist":
            catalog = load_catalog(args.catalog)
            fed = settings.federation
            for topic in allowed_topics(catalog, settings.kafka.topic_prefix, fed.province_scope):
                print(topic)
            return 0
        if args.action == "configure":
            return asyncio.run(_configure(settings, args))
        folder = args.folder or _state()
        properties = folder / "mm2.properties"
        if not properties.exists():
            msg = f"{properties} missing: run 'python -m processors federation configure' first"
            raise FederationError(msg)
        command = mirror_command(properties, folder / "logs")
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        os.execvp(command[0], command)  # noqa: S606 - replaces this process by the supervised JVM
    except FederationError as exc:
        print(f"federation: {exc}", file=sys.stderr)
        return 1
