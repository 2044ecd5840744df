"""``python -m processors objections``: objection cases (Art. 30) from submission to answer.

Commands: ``submit``, ``list [--overdue] [--count]``, ``show CASE``, ``decide CASE DECISION``,
``answer CASE``, ``close CASE``, ``token issue|revoke UNIT``, ``publish`` (pending corrections to
Kafka), ``serve`` (the HTTP API), ``openapi``. The CLI acts as the unit whose token is in
``SENSEGATE_OBJECTIONS__TOKEN``; without one it is an operator, who may list and show cases but
neither raise (except ``submit --public``) nor decide them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from psycopg import AsyncConnection

from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.exceptions import ProcessorError
from processors.objections import models
from processors.objections.config import ObjectionsSettings
from processors.objections.http import ObjectionServer
from processors.objections.openapi import openapi_document
from processors.objections.publish import publish_pending
from processors.objections.service import OPERATOR, PUBLIC, Objections, Principal
from processors.objections.store import authenticate, issue_token, revoke_tokens, verify_case_chain
from processors.provenance.keys import Signer
from processors.share.deidentify import RotatingKeyring
from processors.sinks.timescale import connect

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of the objections command."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("submit", help="raise an objection against a stored record")
    s.add_argument("--dataset", required=True)
    which = s.add_mutually_exclusive_group(required=True)
    which.add_argument("--record-id")
    which.add_argument("--natural-key")
    s.add_argument("--claim", required=True)
    s.add_argument("--evidence", default="")
    s.add_argument("--values", help="JSON object of the values the objector proposes")
    s.add_argument("--contact")
    s.add_argument("--public", action="store_true", help="as a member of the public (open data)")
    ls = sub.add_parser("list", help="cases of this unit (every case for an operator)")
    ls.add_argument("--overdue", action="store_true", help="only cases past their deadline")
    ls.add_argument("--state", choices=[s.value for s in models.State])
    ls.add_argument("--count", action="store_true", help="print only the number of cases")
    sh = sub.add_parser("show", help="one case with its signed events")
    sh.add_argument("case_id")
    d = sub.add_parser("decide", help="the provider's decision on a case")
    d.add_argument("case_id")
    d.add_argument("decision", choices=[x.value for x in models.Decision])
    d.add_argument("--reason", required=True)
    d.add_argument("--values", help="JSON object of new values (decision 'correct')")
    d.add_argument("--legal-basis")
    a = sub.add_parser("answer", help="the provider's answer to the objector")
    a.add_argument("case_id")
    a.add_argument("--text", required=True)
    c = sub.add_parser("close", help="close an answered case")
    c.add_argument("case_id")
    c.add_argument("--reason", default="closed")
    t = sub.add_parser("token", help="issue or revoke a unit's API token")
    t.add_argument("op", choices=["issue", "revoke"])
    t.add_argument("unit")
    sub.add_parser("publish", help="publish every stored correction not yet on Kafka")
    sub.add_parser("serve", help="run the HTTP API")
    sub.add_parser("openapi", help="print the OpenAPI description")


def _json_object(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ProcessorError("--values must be a JSON object")  # noqa: EM101
    return value


def _signer(settings: ObjectionsSettings) -> Signer:
    if settings.provenance.signing_key is None:
        raise ProcessorError("SENSEGATE_PROVENANCE__SIGNING_KEY is not set")  # noqa: EM101
    return Signer(settings.provenance.signing_key)


async def _principal(conn: AsyncConnection[Any], settings: ObjectionsSettings) -> Principal:
    token = settings.objections.token
    if token is None:
        return OPERATOR
    unit = await authenticate(conn, token.get_secret_value())
    if unit is None:
        raise ProcessorError("SENSEGATE_OBJECTIONS__TOKEN is invalid or revoked")  # noqa: EM101
    return Principal(unit)


def _print_case(case: models.CaseView) -> None:
    print(json.dumps(case.model_dump(mode="json"), indent=2, ensure_ascii=False))


async def _publish(obj: Objections, settings: ObjectionsSettings) -> dict[str, int]:
    keys = settings.share_keys
    return await publish_pending(
        obj.conn, obj.catalog, RotatingKeyring(keys.masters, keys.active_id), settings.kafka,
        public_key=obj.signer.public_key,
    )  # fmt: skip


async def _serve(obj: Objections, settings: ObjectionsSettings) -> int:
    async def after() -> None:
        try:
            await _publish(obj, settings)
        except Exception as exc:  # Kafka down: the decision stands, publication is retried later
            print(f"warning: correction publication failed ({exc}); retried on the next decision "
                  "or with 'objections publish'", file=sys.stderr)  # fmt: skip

    server = ObjectionServer(obj, settings.objections, after_decision=after)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    await after()  # anything left pending by an earlier run
    print(f"objection API listening on {settings.objections.host}:{server.port}", flush=True)
    await stop.wait()
    await server.stop()
    return 0


async def _run(args: argparse.Namespace, settings: ObjectionsSettings) -> int:
    catalog = load_catalog(settings.catalog_dir)
    conn = await connect(
        settings.db.dsn.get_secret_value(), settings.db.schema_name, "sensegate-objections"
    )
    async with conn:
        if args.action == "token":
            if args.op == "issue":
                print(await issue_token(conn, args.unit))
            else:
                print(f"revoked {await revoke_tokens(conn, args.unit)} token(s) of {args.unit}")
            return 0
        obj = Objections(
            conn, catalog, _signer(settings), origin=settings.provenance.origin,
            period_s=settings.provenance.period_s,
        )  # fmt: skip
        if args.action == "serve":
            return await _serve(obj, settings)
        if args.action == "publish":
            done = await _publish(obj, settings)
            for cid, n in done.items():
                print(f"correction {cid}: {n} Kafka records")
            print(f"published {len(done)} correction(s)")
            return 0
        who = await _principal(conn, settings)
        now = datetime.now(UTC)
        if args.action == "submit":
            req = models.SubmitRequest(
                dataset=args.dataset, record_id=args.record_id, natural_key=args.natural_key,
                claim=args.claim, evidence=args.evidence, proposed_values=_json_object(args.values),
                contact=args.contact,
            )  # fmt: skip
            made = await obj.submit(PUBLIC if args.public else who, req, now)
            print(json.dumps(made.model_dump(mode="json"), ensure_ascii=False))
            return 0
        if args.action == "list":
            state = models.State(args.state) if args.state else None
            cases = await obj.list(who, now, overdue_only=args.overdue, state=state)
            if args.count:
                print(len(cases))
                return 0
            for case in cases:
                flag = " OVERDUE" if case.overdue else ""
                print(f"{case.case_id} {case.state.value:<9} {case.dataset} provider={case.provider} "
                      f"objector={case.objector} due={case.due_at.isoformat()}{flag}")  # fmt: skip
            return 0
        if args.action == "show":
            case = await obj.show(who, args.case_id, now)
            _print_case(case)
            problems = await verify_case_chain(conn, case.case_id, [obj.signer.public_key])
            print("event chain: " + ("OK" if not problems else "; ".join(problems)))
            return 0 if not problems else 1
        if args.action == "decide":
            decision = models.DecisionRequest(
                decision=models.Decision(args.decision), reason=args.reason,
                values=_json_object(args.values), legal_basis=args.legal_basis,
            )  # fmt: skip
            case = await obj.decide(who, args.case_id, decision, now)
            _print_case(case)
            if case.correction_id:
                try:
                    await _publish(obj, settings)
                except Exception as exc:  # the decision is stored; publication can be repeated
                    print(f"decided, but publishing the correction failed ({exc}); run "
                          "'objections publish'", file=sys.stderr)  # fmt: skip
                    return 3
            return 0
        if args.action == "answer":
            _print_case(await obj.answer(who, args.case_id, models.AnswerRequest(text=args.text), now))
            return 0
        _print_case(await obj.close(who, args.case_id, args.reason, now))
        return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch one objections action."""
    if args.action == "openapi":
        print(json.dumps(openapi_document(), indent=2, ensure_ascii=False))
        return 0
    settings = load_settings(ObjectionsSettings, eager=False)
    try:
        return asyncio.run(_run(args, settings))
    except ProcessorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return getattr(exc, "status", 400) // 100
    except ValueError as exc:  # pydantic validation of CLI input
        print(f"error: {exc}", file=sys.stderr)
        return 2
