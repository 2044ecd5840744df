"""Create (or re-key) the pipeline services' SCRAM principals and their least-privilege ACLs.

Run by ``stack/stack.sh`` as the admin principal (settings from ``secrets/env/operator.env``), every
time the stack comes up: passwords come from ``STATE/secrets``, so the broker always agrees with the
files the services are started with. Idempotent; prints counts, never passwords.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.cli.settings import AdminSettings
from processors.share.kafka_acl_admin import KafkaSecurityAdmin
from processors.share.principals import SERVICES, service_acls
from stack.credentials import password

__all__ = ["ensure_service_principals"]


async def ensure_service_principals(state: Path) -> int:
    """Upsert every service's SCRAM credential and ACLs; returns the number of ACLs."""
    settings = load_settings(AdminSettings, eager=False)
    # Re-applied on every start: ACL sets grow with the catalog (the share service writes the
    # data topics of derived entries).
    derived = [e.code for e in load_catalog() if e.derived_from]
    prefix = settings.kafka.topic_prefix
    acls = [a for s in SERVICES for a in service_acls(s, prefix, derived)]
    async with KafkaSecurityAdmin(settings.kafka) as admin:
        for service, (user, _group) in SERVICES.items():
            await admin.upsert_scram_user(user, password(state, f"kafka-{service}"))
        await admin.create_acls(acls)
    return len(acls)


def main(argv: list[str]) -> int:
    """``python -m stack.kafka_users STATE``."""
    if len(argv) != 1:
        print("usage: python -m stack.kafka_users STATE", file=sys.stderr)
        return 2
    count = asyncio.run(ensure_service_principals(Path(argv[0])))
    print(f"kafka: {len(SERVICES)} service principals, {count} ACLs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
