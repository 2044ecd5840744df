"""Device rows in PostgreSQL (``<schema>.device``), the YAML registry file and the CSV import format.

The database functions are async; the CLI runs them through
``processors.storage.connect.run_with_connection``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg
import yaml
from psycopg import sql
from pydantic import ValidationError

from processors.catalog.ddl import ensure_schema
from processors.registry.models import CSV_HEADER, Device

__all__ = [
    "DEFAULT_DEVICES_FILE",
    "delete_device",
    "device_from_row",
    "fetch_devices",
    "load_devices_yaml",
    "parse_devices_csv",
    "upsert_devices",
]

logger = logging.getLogger(__name__)

DEFAULT_DEVICES_FILE = Path(__file__).resolve().parents[2] / "registry" / "devices.yaml"

_COLUMNS = CSV_HEADER  # the table columns are the CSV columns


def _table(schema: str) -> sql.Composed:
    return sql.SQL("{}.device").format(sql.Identifier(schema))


def _select(schema: str) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in _COLUMNS)
    return sql.SQL("SELECT {} FROM {} ORDER BY family, device_id").format(cols, _table(schema))


def device_from_row(row: tuple[Any, ...]) -> Device:
    """Build a Device from a row in ``_COLUMNS`` order."""
    doc = dict(zip(_COLUMNS, row, strict=True))
    doc["datasets"] = tuple(doc["datasets"])
    return Device.model_validate(doc)


def _valid_rows(rows: Iterable[tuple[Any, ...]]) -> list[Device]:
    # The table checks only the shape of a family name (the set lives in contracts/families), so a
    # row of a family this build does not know is skipped and logged rather than failing the load.
    devices: list[Device] = []
    for row in rows:
        try:
            devices.append(device_from_row(row))
        except ValidationError as exc:
            logger.error("device row %s/%s skipped: %s", row[0], row[1], _first_line(exc.errors()[0]))
    return devices


async def upsert_devices(
    conn: psycopg.AsyncConnection[Any],
    devices: Iterable[Device],
    *,
    origin: str = "cli",
    schema: str = "sensegate",
) -> int:
    """Insert or replace devices in one transaction; returns how many rows were written."""
    await ensure_schema(conn, schema)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in (*_COLUMNS, "origin"))
    updates = sql.SQL(", ").join(
        sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(c)) for c in (*_COLUMNS[2:], "origin")
    )
    stmt = sql.SQL(
        "INSERT INTO {} ({}) VALUES ({}) ON CONFLICT (family, device_id) DO UPDATE SET {},"
        " updated_at = now()"
    ).format(
        _table(schema), cols, sql.SQL(", ").join(sql.Placeholder() * (len(_COLUMNS) + 1)), updates
    )
    rows = [
        (
            d.family,
            d.device_id,
            d.provider,
            list(d.datasets),
            d.codec,
            d.v2x_edition,
            d.v2x_framing,
            d.industrial_id,
            d.lat,
            d.lon,
            d.profile,
            d.profile_version,
            origin,
        )
        for d in devices
    ]
    async with conn.transaction(), conn.cursor() as cur:
        await cur.executemany(stmt, rows)
    return len(rows)


async def delete_device(
    conn: psycopg.AsyncConnection[Any], family: str, device_id: str, schema: str = "sensegate"
) -> bool:
    """Remove one device row; returns whether it existed."""
    await ensure_schema(conn, schema)
    async with conn.transaction():
        cur = await conn.execute(
            sql.SQL("DELETE FROM {} WHERE family = %s AND device_id = %s").format(_table(schema)),
            (family, device_id),
        )
        return cur.rowcount > 0


async def fetch_devices(
    conn: psycopg.AsyncConnection[Any], schema: str = "sensegate", *, ensure: bool = True
) -> list[Device]:
    """Every device row of the database (a row this build cannot validate is logged and skipped).

    ``ensure=False`` skips creating missing tables.
    """
    if ensure:
        await ensure_schema(conn, schema)
    cur = await conn.execute(_select(schema))
    return _valid_rows(await cur.fetchall())


def load_devices_yaml(path: Path | None = None) -> tuple[tuple[Device, ...], list[str]]:
    """Devices of the registry file (``devices:`` list) and the problems of refused entries."""
    file = path or DEFAULT_DEVICES_FILE
    doc = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    entries = doc.get("devices", []) if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        return (), [f"{file.name}: expected a mapping with a 'devices' list"]
    devices: list[Device] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        try:
            devices.append(Device.model_validate(entry))
        except ValidationError as exc:
            problems += [f"{file.name}: devices[{index}]: {_first_line(e)}" for e in exc.errors()]
    return tuple(devices), problems


def _first_line(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{loc}: {msg}" if loc else msg


def _optional(value: str) -> str | None:
    value = value.strip()
    return value or None


def parse_devices_csv(text: str) -> tuple[list[Device], list[str]]:
    """Parse the bulk-import CSV (header in models.CSV_HEADER); returns devices and row problems."""
    reader = csv.DictReader(io.StringIO(text))
    header = tuple(h.strip() for h in (reader.fieldnames or ()))
    # Files written before profiles existed lack the two profile columns; they stay importable.
    if header not in (CSV_HEADER, CSV_HEADER[:-2]):
        return [], [f"CSV header must be {','.join(CSV_HEADER)}; got {','.join(header)}"]
    devices: list[Device] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for line, row in enumerate(reader, start=2):
        framing = (row.get("v2x_framing") or "").strip().lower()
        if framing not in ("", "true", "false"):
            problems.append(f"line {line}: v2x_framing must be true or false, got {framing!r}")
            continue
        doc: dict[str, Any] = {
            "family": (row.get("family") or "").strip(),
            "device_id": (row.get("device_id") or "").strip(),
            "provider": (row.get("provider") or "").strip(),
            "datasets": row.get("datasets") or "",
            "codec": _optional(row.get("codec") or ""),
            "v2x_edition": _optional(row.get("v2x_edition") or ""),
            "v2x_framing": framing == "true",
            "industrial_id": _optional(row.get("industrial_id") or ""),
            "lat": _optional(row.get("lat") or ""),
            "lon": _optional(row.get("lon") or ""),
            "profile": _optional(row.get("profile") or ""),
            "profile_version": _optional(row.get("profile_version") or ""),
        }
        try:
            device = Device.model_validate(doc)
        except ValidationError as exc:
            problems += [f"line {line}: {_first_line(e)}" for e in exc.errors()]
            continue
        if device.key in seen:
            problems.append(f"line {line}: {device.family}/{device.device_id} repeated")
            continue
        seen.add(device.key)
        devices.append(device)
    return devices, problems
