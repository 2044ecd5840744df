"""What describes one device family: topics, Kafka key rule, device-id rule, registry fields, bindings.

A ``DeviceFamily`` is plain data. The gateway routes by its topic filters, the device registry
validates ids and fields by it, the CLIs offer its name, the Kafka key follows its key rule. The
codec, mapper and simulated fleet are named, not imported: ``mapper`` and ``fleet`` are
``"module:attribute"`` references (like Python entry points) that only the normalize stage and the
simulators resolve, so importing a family never loads ``processors`` or ``simulators`` and the
gateway stays free of the decoders.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["DeviceFamily", "FamilyRegistry", "TopicRoute", "load_reference"]

# A family name is a Kafka topic component (sensegate.raw.<family>) and a dataset-code prefix.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,30}")
_REFERENCE = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


@dataclass(frozen=True, slots=True)
class TopicRoute:
    """One gateway routing rule: an MQTT topic filter and the device-id and driver templates.

    Templates pick topic levels by index (``{2}``, ``{5*}``, ``{3|lower}``); ``gateway.routing``
    documents and compiles them. Within a family, the first matching route wins.
    """

    filter: str
    device: str
    driver: str = ""


@dataclass(frozen=True, slots=True)
class DeviceFamily:
    """One device family, declared once in its own module under ``contracts/families/``.

    ``key_levels``: how many leading ``/``-separated levels of a device id name the unit that keeps
    order and registers for the ids below it (a Sparkplug edge node ``<group>/<edge>`` covers its
    devices ``<group>/<edge>/<device>``); None means the whole id. ``device_fields`` are the
    registry fields that only this family may set. ``profile_codecs`` are the payload codecs a
    device profile of this family may name. ``broker_role`` is the broker role of the identity
    that publishes a device's data; that identity is the device's ordering unit
    (``broker_login="unit"``) or, for devices behind a network server, the server's application
    named at registration (``"application"``).
    """

    name: str
    summary: str
    subscriptions: tuple[str, ...]
    routes: tuple[TopicRoute, ...]
    device_id_pattern: str
    device_id_text: str
    codec: str
    mapper: str
    fleet: str
    profile_codecs: tuple[str, ...]
    broker_role: str
    broker_login: Literal["unit", "application"] = "unit"
    key_levels: int | None = None
    device_fields: tuple[str, ...] = ()
    _device_id: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if not _NAME.fullmatch(self.name):
            problems.append("name must be lower-case letters, digits and '_' (a topic component)")
        if not self.subscriptions or not self.routes:
            problems.append("a family needs at least one subscription and one route")
        for ref in (self.mapper, self.fleet):
            if not _REFERENCE.fullmatch(ref):
                problems.append(f"{ref!r} is not a 'module:attribute' reference")
        if self.key_levels is not None and self.key_levels < 1:
            problems.append("key_levels must be at least 1")
        if problems:
            msg = f"device family {self.name!r}: " + "; ".join(problems)
            raise ValueError(msg)
        object.__setattr__(self, "_device_id", re.compile(self.device_id_pattern))

    def device_id_problem(self, device_id: str) -> str | None:
        """Why ``device_id`` is not an id of this family as derived from MQTT topics, or None."""
        if self._device_id.fullmatch(device_id):
            return None
        return f"{self.name} device id must be {self.device_id_text}, got {device_id!r}"

    def kafka_key(self, device_id: str) -> str:
        """Kafka record key of a device's messages: the ordering unit (see ``key_levels``)."""
        if self.key_levels is None:
            return device_id
        return "/".join(device_id.split("/")[: self.key_levels])

    def owner_id(self, device_id: str) -> str | None:
        """The registered id that covers ``device_id`` when it names a sub-device, else None."""
        if self.key_levels is None:
            return None
        levels = device_id.split("/")
        return "/".join(levels[: self.key_levels]) if len(levels) > self.key_levels else None

    def covers(self, registered_id: str, device_id: str) -> bool:
        """Whether a registration of ``registered_id`` admits messages from ``device_id``."""
        return device_id == registered_id or self.owner_id(device_id) == registered_id


def load_reference(reference: str) -> object:
    """Import the attribute a ``"module:attribute"`` reference names (ImportError if missing)."""
    module_name, _, attribute = reference.partition(":")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        msg = f"{module_name} has no attribute {attribute!r} (reference {reference!r})"
        raise ImportError(msg) from exc


class FamilyRegistry(Mapping[str, DeviceFamily]):
    """The registered families by name, in registration order; immutable after construction."""

    def __init__(self, *families: DeviceFamily) -> None:
        self._by_name: dict[str, DeviceFamily] = {}
        for family in families:
            if family.name in self._by_name:
                msg = f"device family {family.name!r} is registered twice"
                raise ValueError(msg)
            self._by_name[family.name] = family
        self.names: tuple[str, ...] = tuple(self._by_name)

    def __getitem__(self, name: str) -> DeviceFamily:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def find(self, name: str) -> DeviceFamily | None:
        """The family called ``name``, or None; a plain dict lookup for per-message paths."""
        return self._by_name.get(name)

    def name_problem(self, name: str) -> str | None:
        """Why ``name`` is not a registered family (naming the known ones), or None."""
        if name in self._by_name:
            return None
        return f"unknown family {name!r}; expected one of {', '.join(self.names)}"

    def checked(self, name: str) -> str:
        """``name`` when it is a registered family; ValueError otherwise (a pydantic validator)."""
        problem = self.name_problem(name)
        if problem is not None:
            raise ValueError(problem)
        return name
