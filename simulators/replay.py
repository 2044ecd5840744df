"""Replay files: any run (or a broker capture) as JSON lines, replayable at a speed factor.

Format (UTF-8 JSON lines, gzip-compressed when the name ends in ``.gz``):

* line 1, header: ``{"format": "sensegate-replay", "version": 1, "meta": {...}}``;
* then one line per item, in publish order. A message:
  ``{"t": <ms>, "topic", "qos", "retain", "payload": <base64>, "family", "device_id", "kind",
  "expect", "datasets": [...], "connection", "fault", "publish"}``;
  a connection event: ``{"t": <ms>, "control": "connect"|"disconnect", "connection",
  "will": {"topic", "payload", "qos", "retain"} | null, "subscribe", "fault", "device_id", "family"}``.

``t`` is the simulated (or captured) time in Unix ms; replay keeps the gaps between items, divided
by the speed factor.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from simulators.exceptions import ReplayFormatError
from simulators.model import Control, SimItem, SimMessage, Will

__all__ = [
    "FORMAT",
    "ReplayWriter",
    "item_from_json",
    "item_to_json",
    "read_replay",
    "topic_identity",
]

FORMAT = "sensegate-replay"
VERSION = 1


def _open(path: Path, mode: str) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, mode + "t", encoding="utf-8")  # type: ignore[return-value]
    return path.open(mode, encoding="utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def item_to_json(item: SimItem) -> dict[str, Any]:
    """One replay line as a dict."""
    if isinstance(item, Control):
        will = None
        if item.will is not None:
            w = item.will
            will = {"topic": w.topic, "payload": _b64(w.payload), "qos": w.qos, "retain": w.retain}
        return {
            "t": item.t_ms,
            "control": item.action,
            "connection": item.connection,
            "will": will,
            "subscribe": item.subscribe,
            "fault": item.fault,
            "device_id": item.device_id,
            "family": item.family,
        }
    return {
        "t": item.t_ms,
        "topic": item.topic,
        "qos": item.qos,
        "retain": item.retain,
        "payload": _b64(item.payload),
        "family": item.family,
        "device_id": item.device_id,
        "kind": item.kind,
        "expect": item.expect,
        "datasets": list(item.datasets),
        "connection": item.connection,
        "fault": item.fault,
        "publish": item.publish,
    }


def item_from_json(doc: dict[str, Any]) -> SimItem:
    """Parse one replay line; raises ReplayFormatError when it is not a documented item."""
    try:
        if "control" in doc:
            w = doc.get("will")
            will = (
                Will(w["topic"], base64.b64decode(w["payload"]), int(w["qos"]), bool(w["retain"]))
                if w
                else None
            )
            return Control(
                int(doc["t"]),
                doc["control"],
                doc["connection"],
                will,
                doc.get("subscribe", ""),
                doc.get("fault", ""),
                doc.get("device_id", ""),
                doc.get("family", ""),
            )
        topic = doc["topic"]
        family, device_id = topic_identity(topic)
        return SimMessage(
            t_ms=int(doc["t"]),
            topic=topic,
            payload=base64.b64decode(doc["payload"]),
            family=doc.get("family") or family,
            device_id=doc.get("device_id") or device_id,
            kind=doc.get("kind", ""),
            qos=int(doc.get("qos", 1)),
            retain=bool(doc.get("retain", False)),
            expect=doc.get("expect", "any"),
            datasets=tuple(doc.get("datasets", ())),
            connection=doc.get("connection", "main"),
            fault=doc.get("fault", ""),
            publish=bool(doc.get("publish", True)),
        )
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"not a replay item: {exc}"
        raise ReplayFormatError(msg) from exc


class ReplayWriter:
    """Writes a replay file item by item (not thread-safe); ``close`` is idempotent."""

    def __init__(self, path: Path, meta: dict[str, Any]) -> None:
        self._fh: IO[str] | None = _open(path, "w")
        self._fh.write(json.dumps({"format": FORMAT, "version": VERSION, "meta": meta}) + "\n")
        self.count = 0

    def write(self, item: SimItem) -> None:
        """Append one item."""
        if self._fh is None:
            msg = "replay writer is closed"
            raise ReplayFormatError(msg)
        self._fh.write(json.dumps(item_to_json(item), separators=(",", ":")) + "\n")
        self.count += 1

    def close(self) -> None:
        """Flush and close."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_replay(path: Path) -> tuple[dict[str, Any], Iterator[SimItem]]:
    """The header and a lazy iterator over the items of a replay file."""
    fh = _open(path, "r")
    first = fh.readline()
    try:
        header = json.loads(first)
    except json.JSONDecodeError as exc:
        fh.close()
        msg = f"{path}: first line is not a JSON header"
        raise ReplayFormatError(msg) from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fh.close()
        msg = f"{path}: not a {FORMAT} file"
        raise ReplayFormatError(msg)

    def items() -> Iterator[SimItem]:
        with fh:
            for n, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as exc:
                    msg = f"{path}:{n}: not JSON"
                    raise ReplayFormatError(msg) from exc
                yield item_from_json(doc)

    return header, items()


def topic_identity(topic: str) -> tuple[str, str]:
    """(family, device id) the gateway derives from an MQTT topic; ("", "") when unrecognized."""
    parts = topic.split("/")
    if len(parts) >= 5 and parts[0] == "V2X" and parts[1] == "RSU":
        return "v2x", parts[2]
    if len(parts) >= 6 and parts[0] == "application" and parts[2] == "device":
        return "agri", parts[3].lower()
    if len(parts) >= 4 and parts[0] == "spBv1.0" and parts[1] != "STATE":
        node = f"{parts[1]}/{parts[3]}"
        return "iiot", node + (f"/{parts[4]}" if len(parts) > 4 else "")
    return "", ""
