"""Every family's output decodes with the project's codecs and with independent decoders/checks."""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from typing import Any, cast

import pytest

from processors.codecs.lorawan.lpp import decode_lpp
from processors.codecs.sparkplug.payload import decode_payload
from processors.codecs.v2x import decode_frame, frame_from_jer, split_vendor_frame
from simulators import FleetConfig, SimMessage, generate
from simulators.agri import LAYOUTS
from simulators.oracle_values import value_mismatches

START = 1767225600000
_FIRST_NIBBLE = {"BSM": 0x0, "MAP": 0x1, "RSM": 0x2, "SPAT": 0x3, "RSI": 0x4}


def _messages(family: str, devices: int = 6, **options: str) -> list[SimMessage]:
    config = FleetConfig(
        families=(family,),
        devices=devices,
        rate=60.0,
        duration_s=12.0,
        seed=5,
        start_ms=START,
        options=options,
    )
    return [m for m in generate(config) if isinstance(m, SimMessage)]


def _check_v2x_constraints(kind: str, frame: dict[str, Any]) -> None:
    """CSAE day-one ranges (docs/codecs-v2x.md, units), checked independently of asn1tools."""
    if kind == "SPAT":
        spat = frame["spatFrame"]
        assert 0 <= spat["msgCnt"] <= 127 and 0 <= spat["timeStamp"] <= 59999
        assert 1 <= len(spat["intersections"]) <= 32
        for ix in spat["intersections"]:
            assert 1 <= len(ix["phases"]) <= 16
            for ph in ix["phases"]:
                assert 0 <= ph["id"] <= 255 and 1 <= len(ph["phaseStates"]) <= 16
                for st in ph["phaseStates"]:
                    counting = st["timing"][1]
                    assert 0 <= counting["startTime"] <= counting["likelyEndTime"] <= 36001
    elif kind == "RSM":
        rsm = frame["rsmFrame"]
        assert len(rsm["id"]) == 8 and 1 <= len(rsm["participants"]) <= 16
        for p in rsm["participants"]:
            assert p["ptcType"] in ("motor", "non-motor", "pedestrian")
            assert 0 <= p["speed"] <= 8191 and 0 <= p["heading"] <= 28800
            assert 0 <= p["secMark"] <= 59999 and 1 <= p["ptcId"] <= 65535
            alt, off = p["pos"]["offsetLL"]
            assert alt == "position-LL4" and abs(off["lat"]) < 131072 and abs(off["lon"]) < 131072
    elif kind == "BSM":
        bsm = frame["bsmFrame"]
        assert len(bsm["id"]) == 8 and -900000000 <= bsm["pos"]["lat"] <= 900000001
        assert 0 <= bsm["speed"] <= 8191 and 0 <= bsm["heading"] <= 28800
        assert -2000 <= bsm["accelSet"]["long"] <= 2001
    elif kind == "MAP":
        node = frame["mapFrame"]["nodes"][0]
        assert len(node["inLinks"]) == 4
        assert all(1 <= len(link["lanes"]) <= 32 for link in node["inLinks"])
    elif kind == "RSI":
        rsi = frame["rsiFrame"]
        assert 1 <= len(rsi["rtes"]) <= 8 and rsi["rtes"][0]["eventRadius"] <= 65535


@pytest.mark.parametrize("encoding", ["framed", "uper", "jer"])
def test_v2x_decodes_with_project_codec_and_meets_constraints(encoding: str) -> None:
    msgs = _messages("v2x", v2x_encoding=encoding)
    kinds = set()
    for m in msgs:
        kind = m.kind.split(":")[0]
        kinds.add(kind)
        assert m.topic == f"V2X/RSU/{m.device_id}/{kind}/UP"
        if encoding == "jer":
            frame = frame_from_jer(json.loads(m.payload))
        else:
            body = split_vendor_frame(m.payload)[1] if encoding == "framed" else m.payload
            # independent of asn1tools: the CHOICE index sits in bits 1-3 of the first octet
            assert body[0] >> 4 == _FIRST_NIBBLE[kind]
            frame = decode_frame(body)
        _check_v2x_constraints(kind, frame)
    assert kinds == set(_FIRST_NIBBLE)


def test_agri_events_decode_with_project_and_independent_lpp() -> None:
    from cayennelpp import LppFrame  # type: ignore[import-untyped]  # independent decoder

    msgs = _messages("agri", devices=12)
    encodings = set()
    for m in msgs:
        event = json.loads(m.payload)
        assert event["deviceInfo"]["devEui"] == m.device_id
        assert (
            m.topic
            == f"application/{event['deviceInfo']['applicationId']}/device/{m.device_id}/event/up"
        )
        for key in ("deduplicationId", "time", "fCnt", "fPort", "rxInfo", "txInfo", "data"):
            assert key in event
        data = base64.b64decode(event["data"])
        dataset = m.datasets[0]
        layout = LAYOUTS[event["deviceInfo"]["deviceProfileName"]]
        expected = (m.expected_values or {}).get(dataset, {})
        if event["fPort"] == 2:
            encodings.add("lpp")
            ours = decode_lpp(data)
            theirs = LppFrame.from_bytes(data).data
            assert len(ours) == len(theirs) == len(layout.fields)
            for a, b, f in zip(ours, theirs, layout.fields, strict=True):
                assert a.channel == b.channel == f.key
                ours_value = a.value[0] if isinstance(a.value, tuple | list) else a.value
                assert abs(float(cast("float", ours_value)) - float(b.value[0])) < 1e-6
                if expected:  # the independent decoder's value, converted, is what must be stored
                    assert abs(f.from_wire(float(b.value[0])) - expected[f.item]) < 1e-6
        else:
            encodings.add("json" if event["fPort"] == 3 else "object")
            values = json.loads(data)
            assert event["fPort"] == 3 or values == event["object"]
    assert encodings == {"lpp", "json", "object"}


def test_a_channel_only_mapping_fails_the_value_check() -> None:
    """The old global table (channel -> item, whatever the probe) stores wrong values."""
    old = {
        "agri_soil": {1: "soil_temperature", 2: "soil_moisture", 3: "soil_ec", 4: "soil_ph",
                      5: "battery"},
        "agri_weather": {1: "air_temperature", 2: "air_humidity", 3: "illuminance",
                         4: "barometric_pressure", 5: "rainfall", 6: "battery"},
    }  # fmt: skip
    expected: list[tuple[str, str, dict[str, float]]] = []
    stored: dict[str, dict[str, dict[str, float | None]]] = {}
    msgs = _messages("agri", devices=12, agri_encoding="lpp")
    for m in msgs:
        if not m.expected_values:
            continue
        (dataset,) = m.datasets
        data = base64.b64decode(json.loads(m.payload)["data"])
        row = {
            old[dataset][r.channel]: r.value for r in decode_lpp(data) if r.channel in old[dataset]
        }
        expected.append((m.sha256, dataset, m.expected_values[dataset]))
        stored.setdefault(dataset, {})[m.sha256] = row
    wrong = value_mismatches(expected, stored)
    assert wrong.get("agri_soil") and wrong.get("agri_weather")
    profiles = {json.loads(m.payload)["deviceInfo"]["deviceProfileName"] for m in msgs}
    assert len(profiles) == 5  # every LPP layout is in the fleet


_INDEPENDENT = """
import base64, json, sys
import pysparkplug as sp
births = {}
out = []
for kind, topic, b64 in json.load(sys.stdin):
    raw = base64.b64decode(b64)
    cls = {"NBIRTH": sp.NBirth, "DBIRTH": sp.DBirth, "NDATA": sp.NData, "DDATA": sp.DData,
           "NDEATH": sp.NDeath}[kind]
    key = topic.replace(kind, "*" + kind[0])
    msg = cls.decode(raw, birth=births[key]) if kind.endswith("DATA") else cls.decode(raw)
    if kind.endswith("BIRTH"):
        births[key] = msg
    if kind == "NDEATH":
        out.append([kind, [[msg.bd_seq_metric.name, str(msg.bd_seq_metric.value)]]])
        continue
    out.append([kind, [[m.name, None if m.value is None else str(m.value)] for m in msg.metrics]])
print(json.dumps(out))
"""


def test_sparkplug_decodes_with_project_and_independent_decoder() -> None:
    # pysparkplug (tests only) registers its own sparkplug_b.proto in the protobuf pool, which clashes
    # with the project's module, so it decodes in a separate interpreter
    if importlib.util.find_spec("pysparkplug") is None:
        pytest.skip("pysparkplug (independent Sparkplug decoder) is not installed")
    msgs = _messages("iiot")
    for m in msgs:
        assert decode_payload(m.payload) is not None
    batch = [[m.kind.split(":")[0], m.topic, base64.b64encode(m.payload).decode()] for m in msgs]
    done = subprocess.run(
        [sys.executable, "-c", _INDEPENDENT],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        check=True,
    )
    decoded = json.loads(done.stdout)
    assert len(decoded) == len(msgs)
    kinds = {k for k, _ in decoded}
    assert {"NBIRTH", "DBIRTH", "NDATA", "DDATA", "NDEATH"} <= kinds
    for kind, metrics in decoded:
        names = {n for n, _ in metrics}
        assert metrics and all(names)  # DATA metrics resolved to names through the births' aliases
        if kind == "NBIRTH":
            assert {"bdSeq", "Node Control/Rebirth"} <= names
        if kind == "DBIRTH":
            ident = dict(metrics)["Properties/IndustrialId"]
            assert ident is not None and ident.startswith("88.")


def test_sparkplug_seq_increments_per_node() -> None:
    from processors.codecs.sparkplug import sparkplug_b_pb2 as pb

    last: dict[str, int] = {}
    for m in _messages("iiot"):
        kind = m.kind.split(":")[0]
        if kind == "NDEATH":
            continue
        payload = pb.Payload()  # type: ignore[attr-defined]
        payload.ParseFromString(m.payload)
        node = "/".join(m.topic.split("/")[:4:3])
        if kind == "NBIRTH":
            assert payload.seq == 0
        else:
            assert payload.seq == (last[node] + 1) % 256
        last[node] = payload.seq
