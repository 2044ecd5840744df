"""Structured logging for the gateway: one JSON object per line (or plain text for humans)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Literal

__all__ = ["JsonFormatter", "configure_logging"]

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON with time, level, logger, message and any ``extra`` fields."""

    def __init__(self, instance_id: str) -> None:
        super().__init__()
        self._instance = instance_id

    def format(self, record: logging.LogRecord) -> str:
        """Render one record as a single JSON line."""
        doc: dict[str, object] = {
            "ts": round(record.created, 6),
            "level": record.levelname,
            "logger": record.name,
            "gateway": self._instance,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                doc[key] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: Literal["json", "text"], instance_id: str) -> None:
    """Route root logging to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(instance_id))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # aiokafka logs every failed connection attempt at ERROR during an outage; ours is enough.
    logging.getLogger("aiokafka").setLevel(logging.DEBUG if level == "DEBUG" else logging.CRITICAL)
