"""Provincial merge (one source per item and region) and checkpoint verification, without services."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from pydantic import SecretStr

from processors.catalog import load_catalog
from processors.federation import FederationConfig
from processors.federation.province import Registration, merge_registrations, verify_checkpoints
from processors.federation.province_io import RecordIdDeduper
from processors.federation.registrations import registration_records
from processors.provenance.checkpoint import GENESIS, checkpoint_body
from processors.provenance.keys import Signer, generate_seed


def _regs(code: str, region: str, at: int) -> list[Registration]:
    fed = FederationConfig(
        instance_code=code,
        upstream_bootstrap="p:1",
        upstream_username="u",
        upstream_password=SecretStr("x"),
        region=region,
    )
    return [Registration(d, at) for d in registration_records(load_catalog(), fed, "sensegate.")]


def test_registration_carries_dcat_and_sensegate_fields() -> None:
    docs = {r.doc["dataset"]: r.doc for r in _regs("city_a", "220100", 1)}
    soil = docs["agri_soil"]
    assert soil["dcat"]["dct:identifier"] == "agri_soil"
    assert soil["instance"] == "city_a" and soil["provider"] == "jl_agri_bureau"
    assert soil["upstream_topics"]["share"] == "city_a.sensegate.share.agri_soil"
    assert docs["iiot_metric"]["upstream_topics"]["share"] is None  # scope excludes the province


def test_second_source_in_the_same_region_is_refused_not_merged() -> None:
    merged = merge_registrations(_regs("city_b", "220100", 20) + _regs("city_a", "220100", 10))
    assert merged.conflicts
    assert {c.authoritative[0] for c in merged.conflicts} == {"city_a"}  # earliest wins
    assert {c.refused[0] for c in merged.conflicts} == {"city_b"}
    listed = {(d["instance"], d["dataset"]) for d in merged.listed("resource")}
    assert ("city_b", "agri_soil") not in listed and ("city_a", "agri_soil") in listed


def test_other_regions_and_re_registrations_do_not_conflict() -> None:
    again = _regs("city_a", "220100", 30)  # the same instance re-registering its entries
    merged = merge_registrations(
        _regs("city_a", "220100", 10) + _regs("county_c", "220281", 15) + again
    )
    assert merged.conflicts == []
    assert len(merged.listed("resource")) == 2 * len(load_catalog())


def _chain(signer: Signer, n: int) -> list[dict[str, object]]:
    prev, out = GENESIS, []
    period = datetime(2026, 1, 1, tzinfo=UTC)
    for seq in range(1, n + 1):
        root = hashlib.sha256(str(seq).encode()).hexdigest()
        body = checkpoint_body(
            origin="o",
            period=period,
            tree_size=seq,
            root=root,
            timestamp=period,
            prev=prev,
            key_id=signer.key_id,
        )
        prev = hashlib.sha256(body.encode()).hexdigest()
        out.append(
            {
                "seq": seq,
                "period_start": period.isoformat(),
                "tree_size": seq,
                "root": root,
                "body": body,
                "signature": signer.sign(body.encode()),
            }
        )
    return out


def test_checkpoints_verify_against_the_pinned_key_only() -> None:
    signer, other = Signer.from_text(generate_seed()), Signer.from_text(generate_seed())
    chain = _chain(signer, 3)
    ok = verify_checkpoints(chain, signer.public_key)
    assert len(ok.accepted) == 3 and ok.rejected == []
    # re-signed by someone else (with its own key in the record): refused
    forged = _chain(other, 1)[0] | {"public_key": other.public_key}
    assert verify_checkpoints([forged], signer.public_key).rejected
    # a gap in the chain after what the witness holds is refused
    assert verify_checkpoints(
        chain[2:], signer.public_key, last_body=str(chain[0]["body"])
    ).rejected
    # a replicated duplicate is the same checkpoint, not an error
    dup = verify_checkpoints([*chain, chain[2]], signer.public_key)
    assert len(dup.accepted) == 3 and dup.rejected == []


def test_deduper_counts_replays() -> None:
    d = RecordIdDeduper()
    assert [
        d.accept(b'{"record_id":"a"}'),
        d.accept(b'{"record_id":"a"}'),
        d.accept(b'{"record_id":"b"}'),
    ] == [True, False, True]
    assert d.duplicates == 1
