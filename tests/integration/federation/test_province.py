"""The provincial side on a real Kafka: registrations merged, second sources refused, checkpoints witnessed.

Checkpoints and registrations travel through the module's MirrorMaker 2; the conflict test writes
each instance's registrations straight into its own prefix at the province as that instance's
principal (exactly what its MirrorMaker would write), to avoid a second JVM per instance.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from processors.catalog import load_catalog
from processors.federation import FederationConfig
from processors.federation.grants import apply_province_grants
from processors.federation.province_io import ProvinceStore, read_topic, run_merge
from processors.federation.registrations import registration_records
from processors.provenance.checkpoint import GENESIS, checkpoint_body
from processors.provenance.keys import Signer, generate_seed
from tests.fixtures.secure_kafka import SecureKafka
from tests.integration.federation.helpers import Instance, produce, read_until

ROOT = Path(__file__).resolve().parents[3]


def _checkpoints(
    signer: Signer, count: int, start_seq: int = 1, prev: str = GENESIS
) -> list[dict[str, Any]]:
    """A signed chain in the export format of processors.provenance.witness."""
    out = []
    period = datetime(2026, 12, 7, tzinfo=UTC)
    for seq in range(start_seq, start_seq + count):
        root = hashlib.sha256(f"root-{seq}".encode()).hexdigest()
        body = checkpoint_body(
            origin="test-instance",
            period=period,
            tree_size=seq * 10,
            root=root,
            timestamp=period + timedelta(seconds=seq),
            prev=prev,
            key_id=signer.key_id,
        )
        prev = hashlib.sha256(body.encode()).hexdigest()
        out.append(
            {
                "format": "sensegate-checkpoint/1",
                "seq": seq,
                "period_start": period.isoformat(),
                "tree_size": seq * 10,
                "root": root,
                "body": body,
                "signature": signer.sign(body.encode()),
                "key_id": signer.key_id,
                "public_key": signer.public_key,
            }
        )
    return out


def _rows(
    records: list[dict[str, Any]],
) -> list[tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]]]:
    return [(r["period_start"].encode(), json.dumps(r).encode(), ()) for r in records]


async def test_checkpoints_witnessed_and_an_altered_one_fails(
    replicating: Instance, province: SecureKafka, tmp_path: Path
) -> None:
    inst, admin, p = replicating, province.config(), replicating.prefix
    chain = _checkpoints(inst.signer, 5)
    await produce(inst.admin, f"{p}checkpoints", _rows(chain[:4]))
    up = inst.upstream(f"{p}checkpoints")
    got = await read_until(admin, up, lambda rs: len(rs) >= 4, 120)
    assert len(got) >= 4, inst.mirror.log_tail()
    await read_until(
        admin,
        inst.upstream(f"{p}catalog.registrations"),
        lambda rs: len(rs) >= len(load_catalog()),
        60,
    )
    store = ProvinceStore(tmp_path / "province")
    store.admit(inst.code, inst.signer.public_key, inst.fed.upstream_username)
    report = await run_merge(admin, store, p)
    verdict = report.checkpoints[inst.code]
    assert verdict.rejected == []
    assert [c["seq"] for c in verdict.accepted] == [1, 2, 3, 4]
    merged = report.merged
    assert {d for (c, d) in merged.entries if c == inst.code} >= {"agri_soil", "iiot_metric"}
    assert any(d["dataset"] == "agri_soil" for d in merged.listed("share"))
    # Altered upstream: whoever can write the instance's prefix at the province changes the 5th
    # checkpoint's root in its body; the signature no longer matches the pinned key.
    altered = dict(chain[4])
    altered["body"] = altered["body"].replace(altered["root"], "0" * 64)
    altered["root"] = "0" * 64
    # A second record keeps the signed body but lies about the tree size.
    lying = dict(chain[4], seq=6, tree_size=999)
    await produce(admin, up, _rows([altered, lying]))
    report = await run_merge(admin, store, p)
    problems = [problem for _r, problem in report.checkpoints[inst.code].rejected]
    assert any("signature" in x for x in problems), problems
    assert any("tree_size" in x for x in problems), problems
    assert [c["seq"] for c in store.witnessed(inst.code)] == [1, 2, 3, 4]


async def _register_directly(province: SecureKafka, code: str, region: str, prefix: str) -> None:
    password = uuid.uuid4().hex
    user = f"instance-{code}"
    await apply_province_grants(province.config(), user, password, code)
    fed = FederationConfig(
        instance_code=code,
        upstream_bootstrap=province.bootstrap,
        upstream_username=user,
        upstream_password=SecretStr(password),
        region=region,
    )
    docs = registration_records(load_catalog(), fed, prefix)
    rows = [(d["dataset"].encode(), json.dumps(d).encode(), ()) for d in docs]
    await produce(province.config(user, password), f"{code}.{prefix}catalog.registrations", rows)


async def test_two_instances_registering_the_same_item_conflict(
    province: SecureKafka, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:6]
    prefix = "sensegate."
    first, second, elsewhere = f"ca_{tag}", f"cb_{tag}", f"cc_{tag}"
    await _register_directly(province, first, "220100", prefix)
    await asyncio.sleep(0.05)  # the earlier registration is the authoritative one
    await _register_directly(province, second, "220100", prefix)
    await _register_directly(province, elsewhere, "220200", prefix)  # another region: no clash
    state = tmp_path / "province"
    store = ProvinceStore(state)
    for code in (first, second, elsewhere):
        store.admit(code, Signer.from_text(generate_seed()).public_key, f"instance-{code}")
    report = await run_merge(province.config(), store, prefix)
    conflicts = report.merged.conflicts
    assert conflicts, "a second source for the same item and region was merged silently"
    assert {c.refused[0] for c in conflicts} == {second}
    assert {c.authoritative[0] for c in conflicts} == {first}
    refused = report.merged.refused
    listed = {(d["instance"], d["dataset"]) for d in report.merged.listed("resource")}
    assert not (refused & listed)
    assert (elsewhere, "agri_soil") in listed and (first, "agri_soil") in listed
    # the CLI shows the same list for resolution
    env = {**os.environ, "SENSEGATE_PROVINCE__STATE_DIR": str(state)}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "processors", "province", "conflicts"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    assert f"{second}/agri_soil" in done.stdout
    assert len(
        await read_topic(province.config(), f"{second}.{prefix}catalog.registrations")
    ) == len(load_catalog())
