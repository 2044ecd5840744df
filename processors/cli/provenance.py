"""``python -m processors provenance``: verify the log, prove a record, correct or erase records.

Commands: ``verify [--from T] [--to T]`` (exit 1 when anything was tampered with, naming each row),
``prove RECORD_ID [--out FILE]``, ``verify-proof FILE [--public-key K]``, ``checkpoint``,
``correct RECORD_ID --values JSON --reason TEXT``, ``erase RECORD_ID --legal-basis TEXT``,
``erase-subject DATASET SUBJECT --legal-basis TEXT``, ``keygen``, ``consistency OLD NEW``,
``witness-export --out FILE [--publish]``, ``witness-check FILE``. Database, schema and keys come from the admin settings, under the sink's
variable names (``SENSEGATE_DB__DSN``, ``SENSEGATE_DB__SCHEMA_NAME``,
``SENSEGATE_PROVENANCE__SIGNING_KEY``,
``SENSEGATE_PROVENANCE__TRUSTED_PUBLIC_KEYS``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.cli.settings import AdminSettings
from processors.exceptions import ProcessorError
from processors.provenance.checkpoint import write_checkpoints
from processors.provenance.corrections import supersede
from processors.provenance.erasure import erase_subject, vacuum_erased
from processors.provenance.keys import Signer, generate_seed
from processors.provenance.proof import ProofError, build_proof, verify_proof
from processors.provenance.verify import verify_store
from processors.provenance.witness import (
    check_against_witness,
    checkpoint_records,
    consistency_document,
    export_checkpoints,
    publish_checkpoints,
    read_export,
)
from processors.sinks.timescale import connect

__all__ = ["add_arguments", "run"]


def _time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of the provenance command."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    v = sub.add_parser("verify", help="recompute the log and report tampered rows")
    v.add_argument("--from", dest="since", type=_time, help="ISO time, inclusive (ingest time)")
    v.add_argument("--to", dest="until", type=_time, help="ISO time, exclusive (ingest time)")
    v.add_argument(
        "--trusted-keys",
        type=Path,
        help="file of trusted public keys (JSON list or one per line), e.g. from 'keys public'",
    )
    p = sub.add_parser("prove", help="print an inclusion proof of a stored record")
    p.add_argument("record_id")
    p.add_argument("--dataset", help="dataset code, when a record id is ambiguous")
    p.add_argument("--out", type=Path, help="write the proof to this file")
    vp = sub.add_parser("verify-proof", help="check an inclusion proof file offline")
    vp.add_argument("file", type=Path)
    vp.add_argument("--public-key", help="the operator's public key obtained independently")
    sub.add_parser("checkpoint", help="sign checkpoints for every period that grew")
    c = sub.add_parser("correct", help="append a signed correction superseding a record")
    c.add_argument("record_id")
    c.add_argument("--values", required=True, help="JSON object of new item values")
    c.add_argument("--reason", required=True)
    c.add_argument("--legal-basis")
    e = sub.add_parser("erase", help="append a signed lawful erasure of a record")
    e.add_argument("record_id")
    e.add_argument("--legal-basis", required=True)
    e.add_argument("--reason", default="lawful erasure")
    es = sub.add_parser(
        "erase-subject", help="erase a data subject's personal data (key destroyed, rows nulled)"
    )
    es.add_argument("dataset")
    es.add_argument("subject", help="the value of the dataset's identifier item (its pseudonym)")
    es.add_argument("--legal-basis", required=True)
    es.add_argument("--reason", default="erasure of a data subject")
    sub.add_parser("keygen", help="print a new Ed25519 signing key seed and its public key")
    cs = sub.add_parser("consistency", help="RFC 6962 consistency proof between two tree sizes")
    cs.add_argument("old_size", type=int)
    cs.add_argument("new_size", type=int)
    cs.add_argument("--period", type=_time, help="period start (default: the newest period)")
    we = sub.add_parser("witness-export", help="append new signed checkpoints to a witness file")
    we.add_argument("--out", type=Path, required=True, help="JSON-lines file the witness keeps")
    we.add_argument(
        "--publish", action="store_true", help="also produce them to <prefix>checkpoints"
    )
    wc = sub.add_parser("witness-check", help="check the log against a witness's checkpoints")
    wc.add_argument("file", type=Path)


def _signer(settings: AdminSettings) -> Signer:
    if settings.provenance.signing_key is None:
        msg = "SENSEGATE_PROVENANCE__SIGNING_KEY is not set"
        raise ProcessorError(msg)
    return Signer(settings.provenance.signing_key)


def _trusted(settings: AdminSettings, file: Path | None = None) -> list[str]:
    """Every public key checkpoints may be signed with: old ones stay valid after a rotation."""
    keys = list(settings.provenance.trusted_public_keys)
    if file is not None:
        text = file.read_text(encoding="utf-8").strip()
        keys += json.loads(text) if text.startswith("[") else text.split()
    if not keys and settings.provenance.signing_key is not None:
        keys.append(Signer(settings.provenance.signing_key).public_key)
    if not keys:
        # Without a trust set any key a checkpoint names itself would do: refuse instead.
        msg = "no trusted public keys: set SENSEGATE_PROVENANCE__TRUSTED_PUBLIC_KEYS or --trusted-keys"
        raise ProcessorError(msg)
    return keys


async def _db_action(args: argparse.Namespace, settings: AdminSettings) -> int:
    catalog = load_catalog(settings.catalog_dir)
    conn = await connect(
        settings.db.dsn.get_secret_value(), settings.db.schema_name, "sensegate-provenance"
    )
    async with conn:
        if args.action == "verify":
            report = await verify_store(
                conn, catalog, _trusted(settings, args.trusted_keys), since=args.since, until=args.until,
                now=datetime.now(UTC), period_s=settings.provenance.period_s,
            )  # fmt: skip
            for finding in report.findings:
                print(finding)
            rate = report.rows / report.seconds if report.seconds else 0.0
            print(
                f"verified {report.leaves} leaves, {report.rows} rows, {report.checkpoints} "
                f"checkpoints in {report.periods} periods ({report.seconds:.2f}s, {rate:.0f} rows/s): "
                + ("OK" if report.ok else f"{len(report.findings)} findings")
            )
            return 0 if report.ok else 1
        if args.action == "checkpoint":
            made = await write_checkpoints(conn, _signer(settings), settings.provenance.origin)
            for cp in made:
                print(f"checkpoint {cp.seq}: {cp.period_start.isoformat()} size {cp.tree_size}")
            return 0
        if args.action == "prove":
            if settings.provenance.signing_key is not None:
                await write_checkpoints(conn, _signer(settings), settings.provenance.origin)
            proof = await build_proof(conn, catalog, args.record_id, args.dataset)
            text = json.dumps(proof, indent=2, ensure_ascii=False)
            if args.out:
                args.out.write_text(text + "\n", encoding="utf-8")
            else:
                print(text)
            return 0
        if args.action in ("consistency", "witness-export", "witness-check"):
            return await _witness_action(args, settings, conn)
        signer = _signer(settings)
        if args.action == "erase-subject":
            done = await erase_subject(
                conn, catalog, signer, args.dataset, args.subject, legal_basis=args.legal_basis,
                reason=args.reason, period_s=settings.provenance.period_s,
            )  # fmt: skip
            await vacuum_erased(conn, catalog, args.dataset)
            await write_checkpoints(conn, signer, settings.provenance.origin)
            print(json.dumps({"dataset": done.dataset, "records": list(done.records),
                              "corrections": list(done.correction_ids)}, indent=2))  # fmt: skip
            print("key destroyed; run 'objections publish' to withdraw the records downstream")
            return 0
        values: dict[str, Any] | None = None
        if args.action == "correct":
            values = json.loads(args.values)
            if not isinstance(values, dict):
                print("--values must be a JSON object", file=sys.stderr)
                return 2
        event = await supersede(
            conn, catalog, signer, args.record_id,
            action="correct" if args.action == "correct" else "erase",
            reason=args.reason, values=values, legal_basis=args.legal_basis,
            period_s=settings.provenance.period_s,
        )  # fmt: skip
        await write_checkpoints(conn, signer, settings.provenance.origin)
        print(json.dumps(event, indent=2, ensure_ascii=False))
        return 0


async def _witness_action(
    args: argparse.Namespace, settings: AdminSettings, conn: AsyncConnection[Any]
) -> int:
    if args.action == "consistency":
        period = args.period
        if period is None:
            cur = await conn.execute("SELECT max(period_start) FROM tlog_head")
            row = await cur.fetchone()
            period = row[0] if row else None
        if period is None:
            raise ProofError("the log is empty")  # noqa: EM101
        doc = await consistency_document(conn, period, args.old_size, args.new_size)
        print(json.dumps(doc, indent=2))
        return 0 if doc["verified"] else 1
    if args.action == "witness-export":
        if settings.provenance.signing_key is not None:
            await write_checkpoints(conn, _signer(settings), settings.provenance.origin)
        seen = read_export(args.out)
        fresh = await checkpoint_records(conn, max((r["seq"] for r in seen), default=0))
        if args.publish and fresh:
            await publish_checkpoints(settings.kafka, fresh)
        print(f"exported {export_checkpoints(args.out, fresh)} checkpoint(s) to {args.out}")
        return 0
    problems = await check_against_witness(conn, read_export(args.file), _trusted(settings))
    for problem in problems:
        print(f"FAIL {problem}")
    if not problems:
        print(f"OK the log extends all {len(read_export(args.file))} witnessed checkpoints")
    return 0 if not problems else 1


def run(args: argparse.Namespace) -> int:
    """Dispatch one provenance action."""
    if args.action == "keygen":
        seed = generate_seed()
        print(f"SENSEGATE_PROVENANCE__SIGNING_KEY={seed}")
        print(f"public key: {Signer.from_text(seed).public_key}")
        return 0
    if args.action == "verify-proof":
        proof = json.loads(args.file.read_text(encoding="utf-8"))
        problems = verify_proof(proof, args.public_key)
        for problem in problems:
            print(f"FAIL {problem}")
        if not problems:
            print(
                f"OK record {proof['leaf']['ref']} is leaf {proof['leaf_index']} of the tree of "
                f"size {proof['tree_size']} signed by key {proof['checkpoint']['key_id']}"
            )
        return 0 if not problems else 1
    settings = load_settings(AdminSettings, eager=False)
    try:
        return asyncio.run(_db_action(args, settings))
    except ProcessorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
