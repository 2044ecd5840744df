"""The salted commitment of personal columns (processors/provenance/personal.py): pure logic."""

from __future__ import annotations

from processors.catalog import load_catalog
from processors.provenance.canonical import canonical_bytes
from processors.provenance.personal import commitment, committed_doc, subject_item, subject_ref
from processors.storage.ddl import dataset_ddl, erasable_columns

DOC = {"record_id": "r1", "ptc_id": "ab" * 16, "lat": 43.91, "lon": 125.32, "speed": 3.5}
NAMES = ("location", "ptc_id", "lat", "lon")


def test_only_personal_entries_have_erasable_columns() -> None:
    catalog = load_catalog()
    participant, soil = catalog.get("v2x_participant"), catalog.get("agri_soil")
    assert participant is not None and soil is not None
    assert erasable_columns(participant) == NAMES
    assert subject_item(participant) == "ptc_id"
    assert erasable_columns(soil) == () and subject_item(soil) is None
    assert any("erasure_guard('v2x_participant', 'location', 'ptc_id'" in s
               for s in dataset_ddl(participant, "sensegate", timescale=False))  # fmt: skip
    assert not any("erasure_guard" in s for s in dataset_ddl(soil, "sensegate", timescale=False))


def test_commitment_hides_values_and_depends_on_key_and_record() -> None:
    key, other = b"k" * 32, b"o" * 32
    made = commitment(key, "r1", DOC, NAMES)
    assert made == commitment(key, "r1", DOC, NAMES)
    assert made != commitment(other, "r1", DOC, NAMES)
    assert made != commitment(key, "r2", DOC, NAMES)
    assert made != commitment(key, "r1", {**DOC, "lat": 43.92}, NAMES)
    # A null personal column is left out: nulling it afterwards does not change the commitment.
    assert made == commitment(key, "r1", {**DOC, "location": None}, NAMES)
    logged = committed_doc(DOC, NAMES, made)
    text = canonical_bytes(logged).decode()
    assert "43.91" not in text and str(DOC["ptc_id"]) not in text and logged["speed"] == 3.5


def test_subject_ref_names_no_identifier() -> None:
    ref = subject_ref("v2x_participant", "ab" * 16)
    assert "ab" * 16 not in ref and ref != subject_ref("v2x_participant_flow", "ab" * 16)
