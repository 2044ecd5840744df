"""Regenerate the golden case tests/data/iiot/pysparkplug-session/ with pysparkplug, an independent encoder.

pysparkplug pins paho-mqtt<2 while sensegate needs paho-mqtt 2, so it cannot be in the dev extra;
it is installed without dependencies into a scratch directory and run in its own process (its
generated protobuf module would also clash with ours in one descriptor pool):

    .venv/bin/pip install --no-deps --target /tmp/pysparkplug pysparkplug==0.6.1
    PYTHONPATH=/tmp/pysparkplug .venv/bin/python tests/unit/codecs/sparkplug/make_pysparkplug_vectors.py

It writes one ``NN-TYPE.hex`` payload file per message and ``expected.json`` with, per message, the
type, topic and payload file, the values we expect to decode, and the checks the golden test runs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pysparkplug as psp  # type: ignore[import-not-found,unused-ignore]

T0 = 1767225600000
DT = psp.DataType
WHEN = datetime.fromtimestamp(1767225600.123, tz=UTC)

# (name, alias, datatype, value given to pysparkplug, expected JSON value after decoding)
METRICS: list[tuple[str, int, Any, Any, Any]] = [
    ("Int8", 1, DT.INT8, -23, -23),
    ("Int16", 2, DT.INT16, -32768, -32768),
    ("Int32", 3, DT.INT32, -2147483648, -2147483648),
    ("Int64", 4, DT.INT64, -9223372036854775808, -9223372036854775808),
    ("UInt8", 5, DT.UINT8, 255, 255),
    ("UInt16", 6, DT.UINT16, 65535, 65535),
    ("UInt32", 7, DT.UINT32, 4294967295, 4294967295),
    ("UInt64", 8, DT.UINT64, 18446744073709551615, 18446744073709551615),
    ("Float", 9, DT.FLOAT, 1.5, 1.5),
    ("Double", 10, DT.DOUBLE, 71.4, 71.4),
    ("Boolean", 11, DT.BOOLEAN, True, True),
    ("String", 12, DT.STRING, "压力 ok", "压力 ok"),
    ("DateTime", 13, DT.DATETIME, WHEN, 1767225600123),
    ("Text", 14, DT.TEXT, "line\nbreak", "line\nbreak"),
    (
        "UUID",
        15,
        DT.UUID,
        "2b1c0f4e-5d7a-4c1b-9a51-3f0c2d7e8a90",
        "2b1c0f4e-5d7a-4c1b-9a51-3f0c2d7e8a90",
    ),
    ("Bytes", 17, DT.BYTES, b"\x00\xffab", "00ff6162"),
    ("File", 18, DT.FILE, b"%PDF", "25504446"),
    ("Int8Array", 22, DT.INT8_ARRAY, (-23, 123), [-23, 123]),
    ("Int16Array", 23, DT.INT16_ARRAY, (-30000, 30000), [-30000, 30000]),
    ("Int32Array", 24, DT.INT32_ARRAY, (123456789, -987654321), [123456789, -987654321]),
    ("Int64Array", 25, DT.INT64_ARRAY, (-1, 2**62), [-1, 2**62]),
    ("UInt8Array", 26, DT.UINT8_ARRAY, (0, 255), [0, 255]),
    ("UInt16Array", 27, DT.UINT16_ARRAY, (1, 65535), [1, 65535]),
    ("UInt32Array", 28, DT.UINT32_ARRAY, (7, 4294967295), [7, 4294967295]),
    ("UInt64Array", 29, DT.UINT64_ARRAY, (0, 2**64 - 1), [0, 2**64 - 1]),
    ("FloatArray", 30, DT.FLOAT_ARRAY, (1.25, -2.5), [1.25, -2.5]),
    ("DoubleArray", 31, DT.DOUBLE_ARRAY, (0.1, -1e300), [0.1, -1e300]),
    (
        "BooleanArray",
        32,
        DT.BOOLEAN_ARRAY,
        (False, False, True, True, False, True, False, False, True, True, False, True),
        [False, False, True, True, False, True, False, False, True, True, False, True],
    ),
    ("StringArray", 33, DT.STRING_ARRAY, ("ABC", "hello", ""), ["ABC", "hello", ""]),
    ("DateTimeArray", 34, DT.DATETIME_ARRAY, (WHEN, WHEN), [1767225600123, 1767225600123]),
]


def _metric(name: str | None, alias: int, dtype: Any, value: Any, **kw: Any) -> Any:
    return psp.Metric(timestamp=T0, name=name, datatype=dtype, value=value, alias=alias, **kw)


def main() -> None:
    """Write the vectors next to this script."""
    bd = psp.Metric(timestamp=T0, name="bdSeq", datatype=DT.INT64, value=3)
    rebirth = psp.Metric(
        timestamp=T0, name="Node Control/Rebirth", datatype=DT.BOOLEAN, value=False
    )
    node_metrics = tuple(_metric(n, a, d, v) for n, a, d, v, _ in METRICS)
    nbirth = psp.NBirth(timestamp=T0, seq=0, metrics=(bd, rebirth, *node_metrics))
    dbirth = psp.DBirth(
        timestamp=T0 + 1,
        seq=1,
        metrics=(
            _metric("Temp", 1, DT.DOUBLE, 20.5),
            _metric("Count", 2, DT.UINT32, 10),
        ),
    )
    # DATA by alias only, datatypes dropped (include_dtypes=False), as aliases allow.
    ndata = psp.NData(
        timestamp=T0 + 2,
        seq=2,
        metrics=tuple(_metric(None, a, d, v) for _, a, d, v, _ in METRICS),
    )
    ddata = psp.DData(
        timestamp=T0 + 3,
        seq=3,
        metrics=(
            _metric(None, 1, DT.DOUBLE, 21.0, is_historical=True),
            _metric(None, 2, DT.UINT32, None, is_null=True),
        ),
    )
    ddeath = psp.DDeath(timestamp=T0 + 4, seq=4)
    ndeath = psp.NDeath(timestamp=T0 + 5, bd_seq_metric=bd)
    ncmd = psp.NCmd(
        timestamp=T0 + 6,
        metrics=(_metric("Node Control/Rebirth", 0, DT.BOOLEAN, True),),
    )
    dcmd = psp.DCmd(timestamp=T0 + 7, metrics=(_metric(None, 1, DT.DOUBLE, 22.0),))
    state = psp.State(timestamp=T0 + 8, online=True)
    g, e, d = "JilinPlant", "press-07", "pump-1"
    messages = [
        ("NBIRTH", f"spBv1.0/{g}/NBIRTH/{e}", nbirth.encode(include_dtypes=True)),
        ("DBIRTH", f"spBv1.0/{g}/DBIRTH/{e}/{d}", dbirth.encode(include_dtypes=True)),
        ("NDATA", f"spBv1.0/{g}/NDATA/{e}", ndata.encode()),
        ("DDATA", f"spBv1.0/{g}/DDATA/{e}/{d}", ddata.encode()),
        ("DDEATH", f"spBv1.0/{g}/DDEATH/{e}/{d}", ddeath.encode()),
        ("NDEATH", f"spBv1.0/{g}/NDEATH/{e}", ndeath.encode()),
        ("NCMD", f"spBv1.0/{g}/NCMD/{e}", ncmd.encode(include_dtypes=True)),
        ("DCMD", f"spBv1.0/{g}/DCMD/{e}/{d}", dcmd.encode()),
        ("STATE", "spBv1.0/STATE/scada-1", state.encode()),
    ]
    out = Path(__file__).resolve().parents[4] / "tests" / "data" / "iiot" / "pysparkplug-session"
    out.mkdir(parents=True, exist_ok=True)
    files = [f"{i:02d}-{t}.hex" for i, (t, _, _) in enumerate(messages, start=1)]
    for name, (_, _, payload) in zip(files, messages, strict=True):
        (out / name).write_text(payload.hex() + "\n", encoding="ascii")
    doc = {
        "generator": f"pysparkplug {psp.__version__}",
        "checks": ["nbirth_every_datatype", "ndata_by_alias", "lifecycle"],
        "metrics": [
            {"name": n, "alias": a, "datatype": int(dt), "expected": exp}
            for n, a, dt, _, exp in METRICS
        ],
        "messages": [
            {"type": t, "topic": top, "payload": name}
            for name, (t, top, _) in zip(files, messages, strict=True)
        ],
    }
    (out / "expected.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
