"""The template leaf hash of the sink equals the hash of the canonical leaf document."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from processors.provenance.log import leaf_doc, leaf_hash_hex, leaf_hash_of

_text = st.text(st.characters(exclude_categories=["Cs"]))  # lone surrogates have no UTF-8


@given(
    kind=_text,
    dataset=_text,
    ref=_text,
    observed=st.none() | st.datetimes(timezones=st.just(UTC)),
    source=_text,
    seq=st.integers(min_value=0),
    row=_text,
    prev=_text,
)
def test_template_matches_the_document(  # noqa: PLR0917 - one argument per leaf field
    kind: str,
    dataset: str,
    ref: str,
    observed: datetime | None,
    source: str,
    seq: int,
    row: str,
    prev: str,
) -> None:
    fields = (kind, dataset, ref, observed, source, seq, row, prev)
    assert leaf_hash_of(*fields) == leaf_hash_hex(leaf_doc(*fields))


def test_a_typical_leaf() -> None:
    fields = ("record", "agri_soil", "r1", datetime(2026, 11, 1, tzinfo=UTC), "dev-1", 3, "a" * 64,
              "0" * 64)  # fmt: skip
    assert leaf_hash_of(*fields) == leaf_hash_hex(leaf_doc(*fields))
