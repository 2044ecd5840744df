"""Key rotation through the operator CLI: new records carry the new key id; old checkpoints verify."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from contracts.record import DatasetRecord
from contracts.topics import data_topic, raw_topic
from processors.catalog import Catalog
from processors.keys import KeyKind, Keyring
from processors.sinks.config import ProvenanceConfig
from stack.credentials import keys_env
from tests.fixtures.normalize import csae_rsm_json
from tests.fixtures.records import soil_records
from tests.fixtures.services import StackAddresses, consumer_env
from tests.integration.normalize.kit import RSU, drain, envelope, make_processor, produce, running
from tests.integration.provenance.helpers import store

ROOT = Path(__file__).resolve().parents[3]


def _keys(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "processors", "keys", "--state", str(state), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=os.environ.copy(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc


async def test_pseudonym_rotation_new_records_carry_the_new_key_id(
    stack: StackAddresses, unique_name: Callable[[str], str], tmp_path: Path
) -> None:
    Keyring.ensure(tmp_path, KeyKind.PSEUDONYM)
    boot, seen = stack.kafka_bootstrap, []
    for run in range(2):
        if run:
            _keys(tmp_path, "rotate", "pseudonym")
        # What stack/services.sh hands the normalizer at its (re)start: the active key only.
        env = keys_env(tmp_path, KeyKind.PSEUDONYM)
        keys = json.loads(env["SENSEGATE_PSEUDONYM__KEYS"])
        active = env["SENSEGATE_PSEUDONYM__ACTIVE_KEY_ID"]
        assert list(keys) == [active]
        prefix = unique_name(f"rot{run}") + "."
        await produce(boot, [(raw_topic(prefix, "v2x"),
                              envelope(csae_rsm_json(RSU, [7]), family="v2x", device_id=RSU))])  # fmt: skip
        async with running(boot, prefix, unique_name("g"), make_processor(keys=keys, active=active)):
            (msg,) = await drain(boot, data_topic(prefix, "v2x_participant"), at_least=1)
        record = DatasetRecord.from_kafka_value(msg.value)
        assert record.provenance.pseudonym_key_id == active
        seen.append((active, record.values["ptc_id"]))
    ring = Keyring.load(tmp_path, KeyKind.PSEUDONYM)
    (old_id, old_pseudonym), (new_id, new_pseudonym) = seen
    assert new_id == ring.active_id != old_id
    assert old_pseudonym != new_pseudonym
    assert ring.keys[old_id].retired is not None and ring.keys[old_id].secret is not None
    listing = _keys(tmp_path, "list").stdout
    assert old_id in listing and "retired" in listing
    assert all(k.secret is None or k.secret.get_secret_value() not in listing for k in ring.keys.values())
    # Past the catalog's longest retention the retired key is destroyed, the active one kept.
    _keys(tmp_path, "prune", "--as-of", "2999-01-01T00:00:00+00:00")
    assert set(Keyring.load(tmp_path, KeyKind.PSEUDONYM).keys) == {new_id}


async def test_checkpoints_signed_before_a_signing_rotation_still_verify(
    *, stack: StackAddresses, pg_schema: str, catalog: Catalog, tmp_path: Path
) -> None:
    Keyring.ensure(tmp_path, KeyKind.SIGNING)
    records = list(soil_records(10))
    for batch, run in ((records[:5], 0), (records[5:], 1)):
        if run:
            _keys(tmp_path, "rotate", "signing")
        seed = keys_env(tmp_path, KeyKind.SIGNING)["SENSEGATE_PROVENANCE__SIGNING_KEY"]
        config = ProvenanceConfig.model_validate({"signing_key": seed, "checkpoint_every_leaves": 1})
        await store(stack.pg_dsn, pg_schema, catalog, batch, config, first_offset=run * 5)
    trusted = tmp_path / "trusted.json"
    trusted.write_text(_keys(tmp_path, "public").stdout)
    assert len(json.loads(trusted.read_text())) == 2
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SENSEGATE_")},
        "SENSEGATE_DB__DSN": consumer_env(stack.state, "auditor")["SENSEGATE_DB__DSN"],
        "SENSEGATE_DB__SCHEMA_NAME": pg_schema,
    }

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "processors", "provenance", "verify", *extra],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    both = verify("--trusted-keys", str(trusted))
    assert both.returncode == 0, both.stdout + both.stderr
    assert "OK" in both.stdout
    newest = tmp_path / "newest.json"
    newest.write_text(json.dumps(json.loads(trusted.read_text())[-1:]))
    only_new = verify("--trusted-keys", str(newest))
    assert only_new.returncode == 1  # the old checkpoints need the old public key
    assert "untrusted key" in only_new.stdout
    nothing = verify()
    assert nothing.returncode == 2 and "no trusted public keys" in nothing.stderr
