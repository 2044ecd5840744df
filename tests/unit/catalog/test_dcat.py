"""The DCAT-AP export is valid JSON-LD and maps classes as documented."""

from __future__ import annotations

import json

import pytest
import rdflib
from rdflib.namespace import DCTERMS, RDF

from processors.catalog import load_catalog
from processors.catalog.dcat import SG_NAMESPACE, accrual_periodicity, export_dcat

# rdflib 7 builds a ConjunctiveGraph internally while parsing JSON-LD and warns about itself.
pytestmark = pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
SG = rdflib.Namespace(SG_NAMESPACE)
EU = "http://publications.europa.eu/resource/authority/"


def graph() -> tuple[dict[str, object], rdflib.Graph]:
    doc = export_dcat(load_catalog(), topic_prefix="sensegate.")
    text = json.dumps(doc, ensure_ascii=False)
    assert json.loads(text) == doc  # JSON round trip
    return doc, rdflib.Graph().parse(data=text, format="json-ld")


def test_structure() -> None:
    doc, _ = graph()
    assert set(doc) == {"@context", "@graph"}
    assert isinstance(doc["@graph"], list)


def test_datasets_distributions_and_publishers() -> None:
    _, g = graph()
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == len(load_catalog().entries)
    assert set(g.subjects(RDF.type, DCAT.DatasetSeries)) == datasets
    catalogs = list(g.subjects(RDF.type, DCAT.Catalog))
    assert len(catalogs) == 1
    assert set(g.objects(catalogs[0], DCAT.dataset)) == datasets
    for ds in datasets:
        publisher = g.value(ds, DCTERMS.publisher)
        assert publisher is not None and g.value(publisher, DCTERMS.identifier) is not None
        assert g.value(ds, DCTERMS.accrualPeriodicity) is not None
        dists = list(g.objects(ds, DCAT.distribution))
        assert dists and all((d, RDF.type, DCAT.Distribution) in g for d in dists)
        urls = {str(g.value(d, DCAT.accessURL)) for d in dists}
        assert any(u.startswith("kafka://") and "/sensegate.data." in u for u in urls)


def _dataset(g: rdflib.Graph, code: str) -> rdflib.term.Node:
    found = [
        s
        for s in g.subjects(DCTERMS.identifier, rdflib.Literal(code))
        if (s, RDF.type, DCAT.Dataset) in g
    ]
    assert len(found) == 1
    return found[0]


def test_access_rights_and_extension() -> None:
    _, g = graph()
    participant = _dataset(g, "v2x_participant")
    assert str(g.value(participant, DCTERMS.accessRights)) == f"{EU}access-right/NON_PUBLIC"
    assert str(g.value(participant, SG.shareClass)) == "conditional"
    assert str(g.value(participant, SG.grade)) == "important"
    assert g.value(participant, SG.inOpenList).toPython() is False  # type: ignore[union-attr]
    assert str(g.value(participant, SG.shareLegalBasis)).startswith("Jilin")
    weather = _dataset(g, "agri_weather")
    assert str(g.value(weather, DCTERMS.accessRights)) == f"{EU}access-right/PUBLIC"
    soil = _dataset(g, "agri_soil")
    assert str(g.value(soil, DCTERMS.accessRights)) == f"{EU}access-right/RESTRICTED"
    # items carry their UCUM units in the extension
    units = {str(u) for item in g.objects(soil, SG.item) for u in g.objects(item, SG.unitUCUM)}
    assert {"%", "Cel", "uS/cm", "[pH]", "V"} <= units


def test_no_open_distribution_for_closed_entries() -> None:
    _, g = graph()
    for code in ("v2x_participant", "iiot_metric"):
        ds = _dataset(g, code)
        tiers = {str(g.value(d, SG.tier)) for d in g.objects(ds, DCAT.distribution)}
        assert tiers == {"data", "share"}


def test_accrual_periodicity() -> None:
    assert accrual_periodicity("realtime").endswith("/UPDATE_CONT")
    assert accrual_periodicity("PT10M").endswith("/10MIN")
    assert accrual_periodicity("PT7M").endswith("/OTHER")
