"""Consume a share or open topic as a granted principal and print its records.

After ``python -m processors grants approve ID`` the operator hands the applicant the principal
name (``grant-<id>-<applicant>``), the one-time password and the granted topic. The grant allows
READ on exactly that topic and consumer groups whose name starts with ``grant-<id>-``.

Example::

    SG_PASSWORD='...' python examples/consume_granted.py \
        --bootstrap 127.0.0.1:19092 --user grant-7-jl_transport_dept \
        --topic sensegate.share.v2x_participant --group grant-7-dashboard --max 20

Records are JSON: DatasetRecord on share topics, OpenRecord (with ``rule_set``/``rule_version``)
on open topics. A topic outside the grant ends with "not authorized" (exit code 3).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import sys

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--bootstrap", default="127.0.0.1:19092")
    p.add_argument("--user", required=True, help="granted principal (SCRAM user name)")
    p.add_argument("--topic", required=True, help="the granted topic")
    p.add_argument("--group", default=None, help="consumer group; must start with grant-<id>-")
    p.add_argument("--protocol", default="SASL_SSL", choices=("SASL_PLAINTEXT", "SASL_SSL"))
    p.add_argument("--cafile", default=None, help="CA certificate of the broker (e.g. .state/pki/ca.crt)")
    p.add_argument("--max", type=int, default=0, help="stop after this many records (0: run on)")
    p.add_argument("--from-beginning", action="store_true")
    return p.parse_args()


async def consume(args: argparse.Namespace, password: str) -> int:
    """Print records until --max is reached or the user interrupts."""
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        security_protocol=args.protocol,
        sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username=args.user,
        sasl_plain_password=password,
        ssl_context=ssl.create_default_context(cafile=args.cafile) if args.protocol == "SASL_SSL" else None,
        group_id=args.group,
        auto_offset_reset="earliest" if args.from_beginning else "latest",
        enable_auto_commit=args.group is not None,
    )
    seen = 0
    try:
        await consumer.start()
        async for msg in consumer:
            doc = json.loads(msg.value or b"null")
            print(json.dumps(doc, ensure_ascii=False))
            seen += 1
            if args.max and seen >= args.max:
                break
    except KafkaError as exc:
        print(f"refused: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    finally:
        await consumer.stop()
    return 0


def main() -> int:
    """Entry point; the password comes from SG_PASSWORD so it stays out of shell history."""
    args = parse_args()
    password = os.environ.get("SG_PASSWORD")
    if not password:
        print("set SG_PASSWORD to the grant's password", file=sys.stderr)
        return 2
    return asyncio.run(consume(args, password))


if __name__ == "__main__":
    sys.exit(main())
