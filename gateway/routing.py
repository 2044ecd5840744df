"""Topic routing: MQTT topic -> (family, device id, driver) by an ordered table of topic filters.

A route is an MQTT topic filter (``+`` one level, ``#`` the rest, last level only) plus templates
for the device id and the driver. Templates pick topic levels by 0-based index:

* ``{N}`` level N; ``{N*}`` levels N to the end joined with ``/`` (empty when there are none);
* a ``|lower`` suffix inside the braces lower-cases the value, e.g. ``{3|lower}``;
* anything outside braces is copied literally, e.g. ``{1}/{3}``.

The first matching route wins. A route whose device template yields an empty string does not
match (the topic falls through to the next route, or is unroutable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from contracts.families import FAMILIES, FamilyName
from gateway.exceptions import RouteError

__all__ = ["DEFAULT_ROUTES", "Route", "RouteConfig", "RouteMatch", "Router", "filter_matches"]

_PLACEHOLDER = re.compile(r"\{(\d+)(\*?)(\|lower)?\}")
_CACHE_LIMIT = 16384


class RouteConfig(BaseModel):
    """One routing rule as configured (frozen)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filter: str
    family: FamilyName
    device: str
    driver: str = ""


# Defaults: every registered family's routes, in registration order (contracts/families/).
DEFAULT_ROUTES: tuple[RouteConfig, ...] = tuple(
    RouteConfig(filter=r.filter, family=f.name, device=r.device, driver=r.driver)
    for f in FAMILIES.values()
    for r in f.routes
)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    """Result of routing one topic."""

    family: str
    device_id: str
    driver: str


def filter_matches(topic_filter: str, topic: str) -> bool:
    """True when an MQTT topic filter matches a topic name (without ``$share`` prefix)."""
    return _match_levels(topic_filter.split("/"), topic.split("/"))


def _match_levels(filt: Sequence[str], levels: Sequence[str]) -> bool:
    for i, part in enumerate(filt):
        if part == "#":
            return True
        if i >= len(levels):
            return False
        if part not in ("+", levels[i]):
            return False
    return len(filt) == len(levels)


class _Template:
    """A compiled device/driver template."""

    __slots__ = ("_parts",)

    def __init__(self, text: str) -> None:
        parts: list[tuple[str, int, bool, bool]] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(text):
            literal = text[pos : m.start()]
            if "{" in literal or "}" in literal:
                msg = f"malformed template {text!r}"
                raise RouteError(msg)
            parts.append((literal, int(m.group(1)), bool(m.group(2)), bool(m.group(3))))
            pos = m.end()
        tail = text[pos:]
        if "{" in tail or "}" in tail:
            msg = f"malformed template {text!r}"
            raise RouteError(msg)
        parts.append((tail, -1, False, False))
        self._parts = tuple(parts)

    def max_index(self) -> int:
        """Highest topic level the template reads (-1 when none)."""
        return max((idx for _, idx, star, _ in self._parts if not star), default=-1)

    def render(self, levels: Sequence[str]) -> str:
        """Fill the template from topic levels."""
        out: list[str] = []
        for literal, idx, star, lower in self._parts:
            out.append(literal)
            if idx < 0:
                continue
            value = "/".join(levels[idx:]) if star else levels[idx]
            out.append(value.lower() if lower else value)
        return "".join(out)


class Route:
    """A compiled routing rule."""

    __slots__ = ("_device", "_driver", "_filter", "config")

    def __init__(self, config: RouteConfig) -> None:
        self.config = config
        filt = config.filter.split("/")
        if config.filter.startswith("$share/") or not config.filter:
            msg = f"route filter {config.filter!r} must be a plain topic filter"
            raise RouteError(msg)
        for i, part in enumerate(filt):
            if "#" in part and (part != "#" or i != len(filt) - 1):
                msg = f"route filter {config.filter!r}: '#' only as the whole last level"
                raise RouteError(msg)
            if "+" in part and part != "+":
                msg = f"route filter {config.filter!r}: '+' only as a whole level"
                raise RouteError(msg)
        self._filter = tuple(filt)
        self._device = _Template(config.device)
        self._driver = _Template(config.driver)
        fixed = len(filt) - 1 if filt[-1] == "#" else len(filt)
        for tpl in (self._device, self._driver):
            if tpl.max_index() >= fixed:
                msg = f"route {config.filter!r}: template reads a level the filter does not fix"
                raise RouteError(msg)

    def match(self, levels: Sequence[str]) -> RouteMatch | None:
        """Route topic levels, or None when this rule does not apply."""
        if not _match_levels(self._filter, levels):
            return None
        device = self._device.render(levels)
        if not device:
            return None
        return RouteMatch(self.config.family, device, self._driver.render(levels))


class Router:
    """Ordered routing table with a bounded cache; pure and safe to share within one loop."""

    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        self._routes = tuple(Route(r) for r in routes)
        self._cache: dict[str, RouteMatch | None] = {}

    def route(self, topic: str) -> RouteMatch | None:
        """Family, device id and driver of a topic, or None when unroutable."""
        try:
            return self._cache[topic]
        except KeyError:
            pass
        result = None
        levels = topic.split("/")
        for route in self._routes:
            result = route.match(levels)
            if result is not None:
                break
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[topic] = result
        return result
