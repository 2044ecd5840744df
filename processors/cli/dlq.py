"""``python -m processors dlq list|stats|replay``: inspect dead letters and replay them after a fix."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json

from contracts.dead_letter import ReasonCode
from contracts.secrets import load_settings
from contracts.topics import dlq_topic, quarantine_topic
from processors.cli.settings import AdminSettings
from processors.dead_letters import read_letters, replay_letters, stats

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands list, stats and replay."""
    parser.add_argument(
        "--quarantine", action="store_true", help="read the quarantine topic instead of the DLQ"
    )
    sub = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="print dead letters as JSON lines")
    listing.add_argument(
        "--reason", action="append", default=[], choices=[r.value for r in ReasonCode]
    )
    listing.add_argument("--limit", type=int, default=50, help="newest N letters (default 50)")
    listing.add_argument("--payload", action="store_true", help="include the payload (base64)")
    sub.add_parser("stats", help="counts per reason (letters and distinct sources)")
    replay = sub.add_parser("replay", help="re-produce raw envelopes of letters not yet replayed")
    replay.add_argument(
        "--reason", action="append", default=[], choices=[r.value for r in ReasonCode]
    )
    replay.add_argument("--group", default="sensegate-dlq-replay", help="replay progress group")


def run(args: argparse.Namespace) -> int:
    """Run the chosen action; returns the exit code."""
    return asyncio.run(_run(args, load_settings(AdminSettings, eager=False)))


async def _run(args: argparse.Namespace, settings: AdminSettings) -> int:
    prefix = settings.kafka.topic_prefix
    topic = quarantine_topic(prefix) if args.quarantine else dlq_topic(prefix)
    reasons = [ReasonCode(r) for r in getattr(args, "reason", [])]
    if args.dlq_command == "replay":
        replayed, skipped = await replay_letters(
            settings.kafka, topic, reasons=reasons, group_id=args.group
        )
        print(json.dumps({"replayed": replayed, "not_replayable": skipped}))
        return 0
    letters, _ = await read_letters(settings.kafka, topic, reasons=reasons)
    if args.dlq_command == "stats":
        print(json.dumps(stats(letters), indent=2))
        return 0
    letters.sort(key=lambda s: s.letter.created_ns)
    for stored in letters[-args.limit :] if args.limit > 0 else letters:
        d = stored.letter
        doc: dict[str, object] = {
            "dlq": f"{stored.partition}/{stored.offset}",
            "reason": d.reason.value,
            "stage": d.stage.value,
            "detail": d.detail,
            "device": d.envelope.get("device_id"),
            "mqtt_topic": d.envelope.get("topic"),
            "raw": d.coordinates,
            "created_ns": d.created_ns,
            "source_identity": d.source_identity,
        }
        if args.payload:
            doc["payload_b64"] = base64.b64encode(d.payload).decode()
        print(json.dumps(doc, ensure_ascii=False))
    return 0
