"""Re-identification: no string of the repository, used as the pseudonym key, reverses a pseudonym.

The attack the issue reported: take a key candidate, compute the pseudonym of every plausible
participant id (``<RSU id>:<ptcId>`` in domain ``v2x_participant.ptc_id``) and look the result up
among the stored pseudonyms. The stored population here is what the running normalizer would
store for the demo fleet's candidate ids with the stack's own key (from the state folder), plus any
pseudonym a demo run actually stored in the shared schema. The positive control shows the attack
does work with the right key, so its failure with every repository string means something.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import psycopg
from pydantic import SecretStr

from processors.keys import KeyKind, Keyring
from processors.normalize.pseudonymize import Pseudonymizer
from tests.fixtures.services import StackAddresses

ROOT = Path(__file__).resolve().parents[3]
DOMAIN = "v2x_participant.ptc_id"
PTC_IDS = range(1, 33)  # the simulator numbers participants from 1 per RSU
# Keys that earlier versions shipped as defaults (issue 15): the attack that once worked.
PUBLISHED = ("sensegate-development-key-change-me", "sensegate-share-dev-key-change-me")
_QUOTED = re.compile(r'"([^"\n\\]{16,256})"|\'([^\'\n\\]{16,256})\'')
_TOKEN = re.compile(r"[^\s\"'`,;()\[\]{}<>]{16,256}")


def _repository_strings() -> set[str]:
    """Every quoted string and every token of 16+ characters in the repository's files."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    found = set(PUBLISHED)
    for name in filter(None, listed):
        path = ROOT / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", "replace")
        found.update(a or b for a, b in _QUOTED.findall(text))
        found.update(_TOKEN.findall(text))
    return found


def _demo_fleet_rsus() -> list[str]:
    """The V2X device ids of the demo's fleet (same command and seed as scripts/demo.py)."""
    out = subprocess.run(
        [sys.executable, "-m", "simulators", "registry-csv", "--devices", "30", "--seed", "7"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [line.split(",")[1] for line in out.splitlines()[1:] if line.startswith("v2x,")]


def _attack(key: str, candidates: list[str], stored: set[str]) -> list[str]:
    pseudo = Pseudonymizer({"k": SecretStr(key)}, "k")
    return [c for c in candidates if pseudo.pseudonym(c, DOMAIN) in stored]


def _stored_in_shared_schema(stack: StackAddresses) -> set[str]:
    with psycopg.connect(stack.pg_dsn) as conn:
        exists = conn.execute("SELECT to_regclass('sensegate.v2x_participant')").fetchone()
        if not exists or exists[0] is None:
            return set()
        rows = conn.execute("SELECT DISTINCT ptc_id FROM sensegate.v2x_participant LIMIT 100000")
        return {r[0] for r in rows if r[0]}


def test_no_repository_string_reverses_a_stored_pseudonym(stack: StackAddresses) -> None:
    rsus = _demo_fleet_rsus()
    assert rsus
    candidates = [f"{rsu}:{n}" for rsu in rsus for n in PTC_IDS]
    ring = Keyring.load(stack.state, KeyKind.PSEUDONYM)
    real = Pseudonymizer({ring.active_id: ring.active_secret()}, ring.active_id)
    stored = {real.pseudonym(c, DOMAIN) for c in candidates} | _stored_in_shared_schema(stack)

    # Positive control: with the stack's key the attack names every candidate.
    assert _attack(ring.active_secret().get_secret_value(), candidates, stored) == candidates

    keys = _repository_strings()
    assert len(keys) > 1000  # the whole repository, not a sample
    reversed_by = {k: hits[:3] for k in keys if (hits := _attack(k, candidates, stored))}
    assert reversed_by == {}
