"""``python -m processors province``: the provincial platform's side of federation."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings

from contracts.credential import new_credential
from contracts.settings import SETTINGS_CONFIG, KafkaConfig
from processors.federation.config import FederationError
from processors.federation.grants import apply_province_grants
from processors.federation.province import LISTS
from processors.federation.province_io import ProvinceStore, run_merge, topic_counts
from processors.provenance.keys import load_public_key
from processors.share.kafka_acl_admin import KafkaSecurityError

__all__ = ["ProvinceConfig", "ProvinceSettings", "add_arguments", "run"]


class ProvinceConfig(BaseModel):
    """The provincial Kafka (as its ACL administrator) and the province's state folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kafka: KafkaConfig = KafkaConfig()
    state_dir: Path = Field(default=Path(".state/province"), description="province state folder")


class ProvinceSettings(BaseSettings):
    """``SENSEGATE_PROVINCE__KAFKA__*`` and ``SENSEGATE_PROVINCE__STATE_DIR``."""

    model_config = SETTINGS_CONFIG

    province: ProvinceConfig = ProvinceConfig()


def instance_user(code: str) -> str:
    """SCRAM user an instance replicates as at the province."""
    return f"instance-{code}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands: admit, merge, lists, conflicts."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    ad = sub.add_parser(
        "admit", help="admit an instance: SCRAM user, ACLs on its prefix, pinned key"
    )
    ad.add_argument("--code", required=True, help="the instance's code (its topic prefix here)")
    ad.add_argument("--public-key", required=True, help="its checkpoint signing public key")
    ad.add_argument(
        "--password-file", type=Path, default=None, help="write the password here (0600)"
    )
    sub.add_parser("merge", help="merge registrations and witness checkpoints of every instance")
    ls = sub.add_parser("lists", help="print a merged list (after merge)")
    ls.add_argument("--kind", choices=LISTS, default="resource")
    sub.add_parser("conflicts", help="second sources refused by the last merge")
    sub.add_parser(
        "topics", help="replicated topics of every admitted instance, with record counts"
    )


async def _admit(settings: ProvinceSettings, args: argparse.Namespace) -> int:
    load_public_key(args.public_key)  # refuse a malformed key before creating anything
    password = new_credential()
    user = instance_user(args.code)
    await apply_province_grants(settings.province.kafka, user, password, args.code)
    ProvinceStore(settings.province.state_dir).admit(args.code, args.public_key, user)
    if args.password_file is not None:
        args.password_file.touch(mode=0o600)
        args.password_file.write_text(password + "\n")
        print(f"instance {args.code} admitted as {user}; password in {args.password_file}")
    else:
        print(f"instance {args.code} admitted as {user} password {password} (shown once)")
    return 0


async def _merge(settings: ProvinceSettings) -> int:
    store = ProvinceStore(settings.province.state_dir)
    report = await run_merge(settings.province.kafka, store, settings.province.kafka.topic_prefix)
    merged = report.merged
    print(f"{len(merged.entries)} entries from {len(store.instances())} instance(s)")
    for kind in LISTS:
        print(f"  {kind} list: {len(merged.listed(kind))}")
    for conflict in merged.conflicts:
        print(f"CONFLICT {conflict.describe()}")
    failed = 0
    for code, verdict in report.checkpoints.items():
        print(f"{code}: {len(verdict.accepted)} checkpoint(s) witnessed")
        for record, problem in verdict.rejected:
            failed += 1
            print(f"{code}: checkpoint seq {record.get('seq')} REJECTED: {problem}")
    return 1 if failed else 0


async def _topics(settings: ProvinceSettings) -> int:
    kafka = settings.province.kafka
    codes = ProvinceStore(settings.province.state_dir).instances()
    counts = await topic_counts(kafka, tuple(f"{c}." for c in codes))
    for topic, count in sorted(counts.items()):
        print(f"{count:>9}  {topic}")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run one province action; 1 when a checkpoint failed verification or an action failed."""
    settings = ProvinceSettings()
    try:
        if args.action == "admit":
            return asyncio.run(_admit(settings, args))
        if args.action == "merge":
            return asyncio.run(_merge(settings))
        if args.action == "topics":
            return asyncio.run(_topics(settings))
        path = settings.province.state_dir / "catalog.json"
        if not path.exists():
            msg = f"{path} missing: run 'python -m processors province merge'"
            raise FederationError(msg)
        doc = json.loads(path.read_text())
        lines = doc["conflicts"] if args.action == "conflicts" else doc["lists"][args.kind]
        for line in lines:
            print(line)
        return 0
    except (FederationError, KafkaSecurityError, ValueError) as exc:
        print(f"province: {exc}", file=sys.stderr)
        return 1
