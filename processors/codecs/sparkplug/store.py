"""Persistence of the Sparkplug host's birth state (aliases, bdSeq, stale flags) across restarts.

The store is a cache: the authoritative source is the last BIRTH on the raw topic, from which the
normalizer can rebuild (``SparkplugHost.restore_birth``). Writes happen on births, deaths and state
changes only, never per DATA message. A failed write is logged and does not stop decoding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import quote, unquote

from pydantic import BaseModel, Field, ValidationError

__all__ = [
    "BirthStore",
    "DeviceSnapshot",
    "JsonFileBirthStore",
    "MemoryBirthStore",
    "NodeSnapshot",
]

logger = logging.getLogger(__name__)


class DeviceSnapshot(BaseModel):
    """Persisted birth state of one device: alias -> (name, datatype code).

    Mutable: ``SparkplugHost`` keeps its live state in these models and updates them in place.
    """

    aliases: dict[int, tuple[str, int]] = Field(default_factory=dict)
    birth_timestamp: int | None = None
    stale: bool = False
    online: bool = True


class NodeSnapshot(BaseModel):
    """Persisted birth state of one edge node and its devices (``seq`` is deliberately not kept).

    Mutable like ``DeviceSnapshot``; ``SparkplugHost.snapshot`` hands out copies.
    """

    group: str
    edge_node: str
    bd_seq: int | None = None
    birth_timestamp: int | None = None
    birth_known: bool = True
    stale: bool = False
    online: bool = True
    aliases: dict[int, tuple[str, int]] = Field(default_factory=dict)
    devices: dict[str, DeviceSnapshot] = Field(default_factory=dict)

    @property
    def node_key(self) -> str:
        """``<group>/<edge>``."""
        return f"{self.group}/{self.edge_node}"


class BirthStore(Protocol):
    """Where the host keeps node snapshots; implementations must make each save atomic."""

    def load_all(self) -> dict[str, NodeSnapshot]:
        """All stored snapshots keyed by ``<group>/<edge>``; unreadable entries are skipped."""
        ...

    def save(self, snapshot: NodeSnapshot) -> None:
        """Replace the snapshot of ``snapshot.node_key``; serialize now, keep no reference to it."""
        ...

    def load(self, node_key: str) -> NodeSnapshot | None:
        """The stored snapshot of one node, or None (missing or unreadable)."""
        ...


class MemoryBirthStore:
    """In-process store (tests, or deployments that rebuild from the raw topic at start-up)."""

    def __init__(self) -> None:
        self._data: dict[str, str] = {}

    def load_all(self) -> dict[str, NodeSnapshot]:
        """Return copies of every snapshot."""
        return {k: NodeSnapshot.model_validate_json(v) for k, v in self._data.items()}

    def save(self, snapshot: NodeSnapshot) -> None:
        """Keep a serialized copy so later mutation of the caller's objects cannot leak in."""
        self._data[snapshot.node_key] = snapshot.model_dump_json()

    def load(self, node_key: str) -> NodeSnapshot | None:
        """A copy of one snapshot, or None."""
        data = self._data.get(node_key)
        return NodeSnapshot.model_validate_json(data) if data is not None else None


class JsonFileBirthStore:
    """One JSON file per edge node in ``directory``, replaced atomically (temp file + rename).

    Not safe for two processes writing the same node; one normalizer partition owns a node.
    """

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.failures = 0

    def path_for(self, node_key: str) -> Path:
        """File holding ``node_key``; the key is percent-encoded so any Sparkplug id is a safe name."""
        return self.directory / f"{quote(node_key, safe='')}.json"

    def load_all(self) -> dict[str, NodeSnapshot]:
        """Read every ``*.json`` file; corrupt files are logged and skipped."""
        out: dict[str, NodeSnapshot] = {}
        for path in sorted(self.directory.glob("*.json")):
            try:
                snap = NodeSnapshot.model_validate_json(path.read_bytes())
            except (OSError, ValidationError, ValueError) as exc:
                logger.warning("skipping unreadable Sparkplug state file %s: %s", path, exc)
                continue
            if snap.node_key != unquote(path.stem):
                logger.warning("skipping Sparkplug state file %s: holds %s", path, snap.node_key)
                continue
            out[snap.node_key] = snap
        return out

    def load(self, node_key: str) -> NodeSnapshot | None:
        """Read one node's file; a missing, corrupt or mismatched file reads as None."""
        path = self.path_for(node_key)
        try:
            snap = NodeSnapshot.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ValueError) as exc:
            logger.warning("skipping unreadable Sparkplug state file %s: %s", path, exc)
            return None
        return snap if snap.node_key == node_key else None

    def save(self, snapshot: NodeSnapshot) -> None:
        """Write atomically; on failure log, count and keep going (state can be rebuilt)."""
        target = self.path_for(snapshot.node_key)
        data = snapshot.model_dump_json().encode()
        tmp_name = ""
        try:
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp_name, target)
        except OSError as exc:
            self.failures += 1
            logger.warning("could not persist Sparkplug state of %s: %s", snapshot.node_key, exc)
            if tmp_name:
                with contextlib.suppress(OSError):
                    os.unlink(tmp_name)
