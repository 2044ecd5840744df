"""Counting oracle: the publisher's outcome log and the comparison with Kafka and the database.

Outcome log (JSON lines, append-only, one line per message once its outcome is known)::

    {"message_id", "device_id", "family", "expected": [...], "expect", "payload_sha256",
     "outcome": "ok"|"fail"|"info", "t_send", "t_ack", "topic", "qos", "kind", "fault"}

``ok`` = PUBACK received; ``fail`` = definitely not sent; ``info`` = sent, outcome unknown (QoS 0,
no PUBACK before the end, a broker-published Will). ``expected`` lists the dataset codes a message
should produce rows in, or ``dlq``/``quarantine``/``none``/``any`` (see ``simulators.model.Expect``).

``evaluate`` does docs/reliability.md §5 per group (a dataset code or the expectation class):
``lost`` = acknowledged messages found neither stored nor dead-lettered, ``dup_db`` = extra rows per
record id, ``unexpected`` = rows for messages that should not have produced rows (plus, with
``exclusive``, rows no logged message explains), ``dup_kafka`` = raw-topic copies beyond those sent.

``strict`` (the chaos test): a message expected as data that is dead-lettered and not stored is
not accounted for; it counts as ``dead_unexplained`` (a loss in disguise) unless its log line names
an injected bad-input fault (``BAD_INPUT_FAULTS``). Dead letters are also counted by reason code per group (``dead_reasons``).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from simulators.model import SimMessage
from simulators.oracle_values import value_mismatches

__all__ = [
    "GroupReport",
    "LogEntry",
    "Observations",
    "OracleReport",
    "OutcomeLog",
    "evaluate",
    "read_log",
]

# Injected faults that make a message bad input: a dead letter of it is attributable, not a loss.
BAD_INPUT_FAULTS = frozenset(
    {"malformed", "truncated", "future", "oversized", "spoof", "missing-birth"}
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the outcome log."""

    message_id: str
    device_id: str
    family: str
    expected: tuple[str, ...]
    expect: str
    payload_sha256: str
    outcome: str
    t_send: int | None
    t_ack: int | None
    topic: str = ""
    qos: int = 1
    kind: str = ""
    fault: str = ""
    # dataset -> item -> value the platform should store (value check; None: counted only)
    values: dict[str, dict[str, float]] | None = None

    def to_json(self) -> str:
        """The log line (without newline)."""
        doc = asdict(self)
        doc["expected"] = list(self.expected)
        return json.dumps(doc, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> LogEntry:
        """Parse one log line."""
        doc = json.loads(line)
        doc["expected"] = tuple(doc.get("expected", ()))
        return cls(**doc)

    @staticmethod
    def expected_of(msg: SimMessage) -> tuple[str, ...]:
        """The ``expected`` column for a message: its datasets, or its expectation class."""
        return msg.datasets if msg.expect == "data" and msg.datasets else (msg.expect,)


class OutcomeLog:
    """Append-only writer of the outcome log; flushes every line (loop-affine, not thread-safe)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._fh: IO[str] | None = path.open("a", encoding="utf-8") if path else None
        self.counts: Counter[str] = Counter()

    def write(self, entry: LogEntry) -> None:
        """Append one resolved message."""
        self.counts[entry.outcome] += 1
        if self._fh is not None:
            self._fh.write(entry.to_json() + "\n")
            self._fh.flush()

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_log(path: Path) -> Iterator[LogEntry]:
    """Entries of an outcome log, in file order (blank lines skipped)."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield LogEntry.from_json(line)


@dataclass
class Observations:
    """What the pipeline holds, keyed by payload SHA-256.

    ``rows``: dataset -> list of (raw_sha256, record_id); ``dead``: SHA-256 of dead-lettered or
    quarantined payloads (distinct by source identity already); ``raw``: copies per SHA-256 on the
    raw topics, or None when the raw topics were not read.
    """

    rows: Mapping[str, list[tuple[str, str]]] = field(default_factory=dict)
    dead: Mapping[str, int] = field(default_factory=dict)
    raw: Mapping[str, int] | None = None
    # SHA-256 -> reason codes of its dead letters (for the per-reason figures and strict mode)
    dead_reasons: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # dataset -> SHA-256 -> stored row (column -> value), for the value check
    values: Mapping[str, Mapping[str, Mapping[str, object]]] = field(default_factory=dict)


@dataclass
class GroupReport:
    """Counts for one dataset (or expectation class)."""

    group: str
    sent: int = 0
    acknowledged: int = 0
    info: int = 0
    failed: int = 0
    stored: int = 0
    stored_rows: int = 0
    dead_lettered: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    in_raw: int = 0
    dup_kafka: int = 0
    recovered: int = 0
    wrong_values: int = 0
    dead_unexplained: int = 0


@dataclass
class OracleReport:
    """Per-group counts and totals; ``ok`` is False on any loss or duplicate."""

    groups: dict[str, GroupReport]
    raw_checked: bool
    db_checked: bool
    lost_ids: list[str] = field(default_factory=list)
    duplicated_keys: list[str] = field(default_factory=list)
    wrong_values: list[str] = field(default_factory=list)
    # group -> reason code -> distinct messages dead-lettered with it
    dead_reasons: dict[str, Counter[str]] = field(default_factory=dict)
    unexplained_ids: list[str] = field(default_factory=list)

    @property
    def totals(self) -> GroupReport:
        """Sum over all groups (messages feeding several datasets count once per dataset)."""
        total = GroupReport("total")
        for g in self.groups.values():
            for name in GroupReport.__dataclass_fields__:
                if name != "group":
                    setattr(total, name, getattr(total, name) + getattr(g, name))
        return total

    @property
    def ok(self) -> bool:
        """True when nothing acknowledged was lost, stored twice or stored in a wrong item."""
        t = self.totals
        return (
            t.lost == 0 and t.duplicated == 0 and t.wrong_values == 0 and t.dead_unexplained == 0
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "ok": self.ok,
            "raw_checked": self.raw_checked,
            "db_checked": self.db_checked,
            "groups": {k: asdict(v) for k, v in self.groups.items()},
            "totals": asdict(self.totals),
            "lost_ids": self.lost_ids[:50],
            "duplicated_keys": self.duplicated_keys[:50],
            "wrong_values": self.wrong_values[:50],
            "dead_reasons": {g: dict(c) for g, c in self.dead_reasons.items()},
            "unexplained_ids": self.unexplained_ids[:50],
        }

    def render(self) -> str:
        """A fixed-width table for the terminal."""
        cols = (
            "sent",
            "acknowledged",
            "stored",
            "dead_lettered",
            "lost",
            "duplicated",
            "unexpected",
            "wrong_values",
            "dead_unexplained",
        )
        head = f"{'dataset':<20}" + "".join(f"{c[:12]:>13}" for c in cols)
        lines = [head, "-" * len(head)]
        for g in [*sorted(self.groups.values(), key=lambda g: g.group), self.totals]:
            lines.append(f"{g.group:<20}" + "".join(f"{getattr(g, c):>13}" for c in cols))
        verdict = "PASS" if self.ok else "FAIL"
        lines.append(
            f"{verdict}: lost={self.totals.lost} duplicated={self.totals.duplicated} "
            f"unexpected={self.totals.unexpected} wrong_values={self.totals.wrong_values} "
            f"dead_unexplained={self.totals.dead_unexplained} dup_kafka={self.totals.dup_kafka} "
            f"(raw topics {'read' if self.raw_checked else 'not read'}, "
            f"database {'read' if self.db_checked else 'not read'})"
        )
        for group, reasons in sorted(self.dead_reasons.items()):
            parts = ", ".join(f"{r}={n}" for r, n in sorted(reasons.items()))
            lines.append(f"dead letters of {group} by reason: {parts}")
        return "\n".join(lines)


def evaluate(
    entries: Iterable[LogEntry],
    obs: Observations,
    *,
    exclusive: bool = False,
    db_checked: bool = True,
    strict: bool = False,
) -> OracleReport:
    """Compare the outcome log with the observations (pure; see the module docstring)."""
    groups: dict[str, GroupReport] = {}
    by_group: dict[str, list[LogEntry]] = defaultdict(list)
    sent_per_sha: Counter[str] = Counter()
    logged_ok_or_info: set[str] = set()
    for entry in entries:
        for group in entry.expected:
            by_group[group].append(entry)
        if entry.outcome != "fail":
            sent_per_sha[entry.payload_sha256] += 1
            logged_ok_or_info.add(entry.payload_sha256)
    rows_by_sha: dict[str, set[str]] = defaultdict(set)  # sha -> datasets holding it
    for dataset, rows in obs.rows.items():
        for sha, _ in rows:
            rows_by_sha[sha].add(dataset)
    lost_ids: list[str] = []
    dup_keys: list[str] = []
    unexplained_ids: list[str] = []
    reasons: dict[str, Counter[str]] = {}
    for group, members in sorted(by_group.items()):
        g = groups.setdefault(group, GroupReport(group))
        ok_shas = {e.payload_sha256 for e in members if e.outcome == "ok"}
        info_shas = {e.payload_sha256 for e in members if e.outcome == "info"}
        shas = ok_shas | info_shas
        g.sent = sum(1 for e in members if e.outcome != "fail")
        g.acknowledged = sum(1 for e in members if e.outcome == "ok")
        g.info = sum(1 for e in members if e.outcome == "info")
        g.failed = sum(1 for e in members if e.outcome == "fail")
        stored = {s for s in shas if rows_by_sha.get(s)}
        dead = {s for s in shas if s in obs.dead}
        g.stored = len(stored)
        g.dead_lettered = len(dead)
        for sha in dead:
            for reason in obs.dead_reasons.get(sha, frozenset({"?"})):
                reasons.setdefault(group, Counter())[reason] += 1
        g.recovered = len((info_shas - ok_shas) & (stored | dead))
        if obs.raw is not None:
            g.in_raw = sum(1 for s in shas if obs.raw.get(s))
            g.dup_kafka = sum(max(0, obs.raw.get(s, 0) - sent_per_sha[s]) for s in shas)
        if group in obs.rows:
            rows = [(s, rid) for s, rid in obs.rows[group] if s in shas]
            g.stored_rows = len(rows)
            counts = Counter(rid for _, rid in rows)
            extra = {rid: n - 1 for rid, n in counts.items() if n > 1}
            g.duplicated = sum(extra.values())
            dup_keys.extend(f"{group}:{rid}" for rid in extra)
        if group in ("dlq", "quarantine", "none"):
            g.unexpected = len(stored)
        if group == "any":
            missing: set[str] = set()
        elif group == "none":
            missing = {s for s in ok_shas if not obs.raw.get(s)} if obs.raw is not None else set()
        elif not db_checked and obs.raw is not None:
            # no database to look at: an acknowledged message must at least be on a raw topic
            missing = {s for s in ok_shas if not obs.raw.get(s)} - dead
        else:
            missing = ok_shas - stored - dead
            if strict:
                # valid data must be stored: a dead letter of it is a loss unless a fault was injected
                injected = {e.payload_sha256 for e in members if e.fault in BAD_INPUT_FAULTS}
                hidden = (dead & ok_shas) - stored - injected
                g.dead_unexplained = len(hidden)
                unexplained_ids.extend(
                    f"{e.message_id}:{','.join(sorted(obs.dead_reasons.get(e.payload_sha256, ())))}"
                    for e in members
                    if e.payload_sha256 in hidden
                )
        g.lost = len(missing)
        lost_ids.extend(e.message_id for e in members if e.payload_sha256 in missing)
    if exclusive:
        for dataset, rows in obs.rows.items():
            foreign = sum(1 for s, _ in rows if s not in logged_ok_or_info)
            if foreign:
                groups.setdefault(dataset, GroupReport(dataset)).unexpected += foreign
    wrong = value_mismatches(
        (
            (e.payload_sha256, d, items)
            for e in entries
            if e.values and e.outcome != "fail"
            for d, items in e.values.items()
        ),
        obs.values,
    )
    for dataset, lines in wrong.items():
        groups.setdefault(dataset, GroupReport(dataset)).wrong_values += len(lines)
    report = OracleReport(groups, obs.raw is not None, db_checked, lost_ids, dup_keys)
    report.dead_reasons, report.unexplained_ids = reasons, unexplained_ids
    report.wrong_values = [line for lines in wrong.values() for line in lines]
    return report
