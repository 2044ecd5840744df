"""Bounded JSON parsing: refuse oversized or deeply nested documents quickly."""

from __future__ import annotations

from typing import Any

from processors.codecs.base import FormatError
from processors.codecs.strictjson import loads_strict

__all__ = ["JsonLimitError", "load_bounded"]


class JsonLimitError(FormatError):
    """The document is too large, too deep, or not JSON (``too_large`` says which)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        self.too_large = too_large


def load_bounded(data: bytes, *, max_bytes: int, max_depth: int) -> Any:
    """Parse UTF-8 JSON; raises JsonLimitError if over ``max_bytes``, ``max_depth`` or invalid.

    The size is checked before parsing. The C parser is linear and stops very deep input with a
    RecursionError at the interpreter's limit; the depth limit is then checked with an explicit
    stack over the parsed value, so no input can make this quadratic or recurse in Python.
    """
    if len(data) > max_bytes:
        msg = f"JSON document of {len(data)} bytes exceeds {max_bytes}"
        raise JsonLimitError(msg, too_large=True)
    try:
        doc = loads_strict(data)
    except RecursionError as exc:
        msg = f"JSON nested deeper than {max_depth} levels"
        raise JsonLimitError(msg) from exc
    except ValueError as exc:
        msg = f"invalid JSON: {exc}"
        raise JsonLimitError(msg) from exc
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > max_depth:
            msg = f"JSON nested deeper than {max_depth} levels"
            raise JsonLimitError(msg)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return doc
