"""DCAT-AP 3 JSON-LD export of the catalog, with an ``sg:`` extension for terms DCAT lacks.

Mapping (docs/catalog.md has the full table): an entry is a ``dcat:Dataset`` that is also a
``dcat:DatasetSeries`` (docs/catalog.md §6); each Kafka topic tier is a ``dcat:Distribution``; the
provider unit is ``dct:publisher``; the open class maps to ``dct:accessRights`` in the EU
access-right vocabulary; grade, share class and its terms, data category, sensitivity and the
computed lists go to the ``sg:`` namespace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from processors.catalog.lists import LIST_KINDS, compute_list
from processors.catalog.loader import Catalog
from processors.catalog.models import AccessTerms, DatasetEntry, Item

__all__ = [
    "ACCESS_RIGHTS",
    "DEFAULT_BASE_IRI",
    "JSONLD_CONTEXT",
    "SG_NAMESPACE",
    "accrual_periodicity",
    "export_dcat",
]

SG_NAMESPACE = "https://sensegate.example.cn/ns/catalog#"
DEFAULT_BASE_IRI = "https://sensegate.example.cn/catalog/"

_EU = "http://publications.europa.eu/resource/authority/"

# Open class -> EU access-right concept (docs/catalog.md §6).
ACCESS_RIGHTS: dict[str, str] = {
    "unconditional": f"{_EU}access-right/PUBLIC",
    "conditional": f"{_EU}access-right/RESTRICTED",
    "none": f"{_EU}access-right/NON_PUBLIC",
}

# update_cycle -> EU frequency concept; anything else is OTHER plus dcat:temporalResolution.
_FREQUENCY: dict[str, str] = {
    "realtime": "UPDATE_CONT",
    "PT1M": "1MIN",
    "PT5M": "5MIN",
    "PT10M": "10MIN",
    "PT15M": "15MIN",
    "PT30M": "30MIN",
    "PT1H": "HOURLY",
    "P1D": "DAILY",
    "P1W": "WEEKLY",
    "P7D": "WEEKLY",
    "P1M": "MONTHLY",
    "P3M": "QUARTERLY",
    "P1Y": "ANNUAL",
}

_THEMES: dict[str, str] = {
    "transport": "TRAN",
    "agriculture": "AGRI",
    "industry": "ECON",
    "environment": "ENVI",
    "energy": "ENER",
}

_LICENCES: dict[str, str] = {
    "CC-BY-4.0": f"{_EU}licence/CC_BY_4_0",
    "CC0-1.0": f"{_EU}licence/CC0",
}

JSONLD_CONTEXT: dict[str, Any] = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "sg": SG_NAMESPACE,
    "dct:publisher": {"@type": "@id"},
    "dct:accessRights": {"@type": "@id"},
    "dct:accrualPeriodicity": {"@type": "@id"},
    "dct:license": {"@type": "@id"},
    "dcat:theme": {"@type": "@id"},
    "dcat:accessURL": {"@type": "@id"},
    "dcat:dataset": {"@type": "@id"},
    "dcat:distribution": {"@type": "@id"},
    "dcat:inSeries": {"@type": "@id"},
    "vcard:hasEmail": {"@type": "@id"},
    "dcat:temporalResolution": {"@type": "xsd:duration"},
    "dcat:spatialResolutionInMeters": {"@type": "xsd:decimal"},
    "dct:modified": {"@type": "xsd:dateTime"},
    "sg:derivedFrom": {"@type": "@id"},
    "sg:retentionDays": {"@type": "xsd:integer"},
    "sg:kAnonymity": {"@type": "xsd:integer"},
    "sg:timeBucketSeconds": {"@type": "xsd:integer"},
}


def accrual_periodicity(update_cycle: str) -> str:
    """EU frequency IRI for an update cycle."""
    return f"{_EU}frequency/{_FREQUENCY.get(update_cycle, 'OTHER')}"


def _lang(value: str, lang: str) -> dict[str, str]:
    return {"@value": value, "@language": lang}


def _terms(prefix: str, terms: AccessTerms | None) -> dict[str, Any]:
    if terms is None:
        return {}
    doc: dict[str, Any] = {}
    for key, value in (
        ("Conditions", terms.conditions),
        ("LegalBasis", terms.legal_basis),
        ("NegativeListRef", terms.negative_list_ref),
    ):
        if value:
            doc[f"sg:{prefix}{key}"] = value
    for key, values in (
        ("Scope", terms.scope),
        ("Purpose", terms.purposes),
        ("Method", terms.methods),
    ):
        if values:
            doc[f"sg:{prefix}{key}"] = list(values)
    return doc


def _item(entry: DatasetEntry, item: Item) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "@type": "sg:Item",
        "sg:name": item.name,
        "sg:datatype": item.type,
        "sg:required": item.required,
        "sg:sensitivity": item.sensitivity,
        "sg:concept": entry.concept_of(item),
    }
    if item.unit:
        doc["sg:unitUCUM"] = item.unit
    if item.min is not None:
        doc["sg:minInclusive"] = item.min
    if item.max is not None:
        doc["sg:maxExclusive" if item.max_exclusive else "sg:maxInclusive"] = item.max
    if item.enum:
        doc["sg:allowedValue"] = list(item.enum)
    if item.description:
        doc["dct:description"] = item.description
    return doc


def _distributions(entry: DatasetEntry, base: str, kafka: str, prefix: str) -> list[dict[str, Any]]:
    out = []
    tiers = (
        ("data", entry.kafka_topics.data, "none", None),
        # Even unconditional sharing reaches government units only, never the public.
        ("share", entry.kafka_topics.share, "conditional", entry.share_terms),
        ("open", entry.kafka_topics.open, entry.open_class, entry.open_terms),
    )
    for tier, topic, access, terms in tiers:
        if not topic:
            continue
        dist: dict[str, Any] = {
            "@id": f"{base}dataset/{entry.code}/distribution/{tier}",
            "@type": "dcat:Distribution",
            "dct:title": f"{entry.name} — Kafka topic {prefix}{topic}",
            "dcat:accessURL": f"kafka://{kafka}/{prefix}{topic}",
            "dcat:mediaType": "application/json",
            "dct:accessRights": ACCESS_RIGHTS[access],
            "sg:tier": tier,
            "sg:kafkaTopic": f"{prefix}{topic}",
        }
        if tier == "open":
            if terms and terms.license:
                dist["dct:license"] = _LICENCES.get(terms.license, terms.license)
            if entry.deidentification.location_cell_m:
                dist["dcat:spatialResolutionInMeters"] = entry.deidentification.location_cell_m
        out.append(dist)
    return out


def _dataset(
    entry: DatasetEntry, base: str, kafka: str, prefix: str, lists: Mapping[str, set[str]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    distributions = _distributions(entry, base, kafka, prefix)
    titles = [_lang(entry.name, "en")] + ([_lang(entry.name_zh, "zh")] if entry.name_zh else [])
    doc: dict[str, Any] = {
        "@id": f"{base}dataset/{entry.code}",
        "@type": ["dcat:Dataset", "dcat:DatasetSeries"],
        "dct:identifier": entry.code,
        "dct:title": titles,
        "dct:description": _lang(entry.abstract, "en"),
        "dcat:keyword": list(entry.keywords),
        "dct:publisher": f"{base}agent/{entry.provider}",
        "dcat:contactPoint": {"@type": "vcard:Kind", "vcard:hasEmail": entry.contact_point},
        "dct:accrualPeriodicity": accrual_periodicity(entry.update_cycle),
        "dct:accessRights": ACCESS_RIGHTS[entry.open_class],
        "dcat:version": str(entry.version),
        "dcat:distribution": [d["@id"] for d in distributions],
        "sg:grade": entry.grade,
        "sg:dataCategory": list(entry.data_category),
        "sg:shareClass": entry.share_class,
        "sg:openClass": entry.open_class,
        "sg:status": entry.status,
        "sg:collectionLegalBasis": entry.collection_legal_basis,
        "sg:sensitivePersonalInformation": entry.sensitive_pi,
        "sg:commercialSecret": entry.commercial_secret,
        "sg:retentionDays": entry.retention_days,
        "sg:storageTable": entry.storage_table,
        "sg:hourlyRollup": entry.hourly_rollup,
        "sg:contentSha256": entry.content_sha256(),
        "sg:inResourceList": entry.code in lists["resource"],
        "sg:inShareList": entry.code in lists["share"],
        "sg:inOpenList": entry.code in lists["open"],
        "sg:item": [_item(entry, i) for i in entry.items],
        "sg:deidentification": _deid(entry),
    }
    doc.update(_terms("share", entry.share_terms))
    doc.update(_terms("open", entry.open_terms))
    if entry.domain in _THEMES:
        doc["dcat:theme"] = f"{_EU}data-theme/{_THEMES[entry.domain]}"
    if entry.sampling_interval and entry.sampling_interval != "realtime":
        doc["dcat:temporalResolution"] = entry.sampling_interval
    elif entry.update_cycle != "realtime" and entry.update_cycle not in _FREQUENCY:
        doc["dcat:temporalResolution"] = entry.update_cycle
    if entry.grade_basis:
        doc["sg:gradeBasis"] = entry.grade_basis
    if entry.derived_from:
        doc["sg:derivedFrom"] = f"{base}dataset/{entry.derived_from}"
    if entry.owner_agreement_ref:
        doc["sg:ownerAgreementRef"] = entry.owner_agreement_ref
    return doc, distributions


def _deid(entry: DatasetEntry) -> dict[str, Any]:
    profile = entry.deidentification
    doc: dict[str, Any] = {
        "@type": "sg:DeidentificationProfile",
        "sg:refuseOpen": profile.refuse_open,
    }
    if profile.reason:
        doc["sg:reason"] = profile.reason
    if profile.k_anonymity:
        doc["sg:kAnonymity"] = profile.k_anonymity
    if profile.time_bucket_s:
        doc["sg:timeBucketSeconds"] = profile.time_bucket_s
    if profile.location_cell_m:
        doc["sg:locationCellMeters"] = profile.location_cell_m
    rules = []
    for rule in profile.rules:
        r: dict[str, Any] = {"sg:item": rule.item, "sg:action": rule.action}
        for key, value in (
            ("sg:cellSizeMeters", rule.cell_size_m),
            ("sg:bucketSeconds", rule.bucket_s),
            ("sg:keyEpochDays", rule.key_epoch_days),
        ):
            if value is not None:
                r[key] = value
        rules.append(r)
    if rules:
        doc["sg:rule"] = rules
    return doc


def export_dcat(
    catalog: Catalog,
    *,
    base_iri: str = DEFAULT_BASE_IRI,
    kafka_bootstrap: str = "127.0.0.1:19092",
    topic_prefix: str = "sensegate.",
    title: str = "sensegate public data catalog (吉林省公共数据目录 — sensing data)",
) -> dict[str, Any]:
    """The whole catalog as one JSON-LD document (``@context`` + ``@graph``)."""
    lists: dict[str, set[str]] = {
        kind: {row.code for row in compute_list(catalog, kind)} for kind in LIST_KINDS
    }
    graph: list[dict[str, Any]] = []
    agents: dict[str, dict[str, Any]] = {}
    datasets: list[str] = []
    for entry in catalog:
        dataset, distributions = _dataset(entry, base_iri, kafka_bootstrap, topic_prefix, lists)
        datasets.append(dataset["@id"])
        graph.append(dataset)
        graph.extend(distributions)
        agent: dict[str, Any] = {
            "@id": f"{base_iri}agent/{entry.provider}",
            "@type": "foaf:Agent",
            "foaf:name": entry.provider_name,
            "dct:identifier": entry.provider,
        }
        if entry.provider_uscc:
            agent["sg:uscc"] = entry.provider_uscc
        agents.setdefault(entry.provider, agent)
    catalog_node = {
        "@id": f"{base_iri}catalog",
        "@type": "dcat:Catalog",
        "dct:title": title,
        "dct:description": "Catalog-registered sensing datasets collected through sensegate.",
        "dcat:dataset": datasets,
    }
    return {"@context": JSONLD_CONTEXT, "@graph": [catalog_node, *graph, *agents.values()]}
