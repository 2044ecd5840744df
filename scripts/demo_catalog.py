"""The catalog part of the `make demo` summary: the three lists and one entry's signed change log (C14)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from processors.catalog import DEFAULT_CATALOG_DIR

__all__ = ["show_catalog_governance"]

# The example change: a neutral one (retention), so the running services are not affected; it is
# proposed and reviewed but not applied, and made once per state directory.
ENTRY = "v2x_road_event"
_EDIT = ("retention_days: 730", "retention_days: 1095")

Run = Callable[..., str]


def _key(run: Run, keys: Path, principal: str) -> Path:
    path = keys / f"{principal}.pem"
    if not path.exists():
        run(
            f"an Ed25519 signing key for {principal}, registered as a catalog signer",
            ["-m", "processors", "--log-level", "WARNING", "catalog", "keygen", "--principal",
             principal, "--out", str(path), "--register"],
        )  # fmt: skip
    return path


def _change(run: Run, run_dir: Path) -> None:
    keys = run_dir / "catalog-keys"
    author, reviewer = _key(run, keys, "demo-data-steward"), _key(run, keys, "demo-security-officer")
    proposal_dir = run_dir / "catalog-proposal"
    shutil.rmtree(proposal_dir, ignore_errors=True)
    shutil.copytree(DEFAULT_CATALOG_DIR, proposal_dir)
    path = proposal_dir / f"{ENTRY}.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(*_EDIT, 1), encoding="utf-8")
    out = run(
        f"propose a change of {ENTRY} (signed by its author)",
        ["-m", "processors", "--log-level", "WARNING", "catalog", "--catalog", str(proposal_dir),
         "propose", ENTRY, "--principal", "demo-data-steward", "--key", str(author)],
        capture=True,
        check=False,
    )  # fmt: skip
    if not out.startswith("change "):
        return  # refused (the reason is printed), e.g. this state already holds that definition
    change_id = out.split()[1]
    run(
        "its author may not review it (refused, C14)",
        ["-m", "processors", "--log-level", "WARNING", "catalog", "review", change_id,
         "--principal", "demo-data-steward", "--key", str(author), "--decision", "approve"],
        check=False,
    )  # fmt: skip
    run(
        "a second principal reviews it (signed); 'catalog apply' would then register version 2",
        ["-m", "processors", "--log-level", "WARNING", "catalog", "review", change_id,
         "--principal", "demo-security-officer", "--key", str(reviewer), "--decision", "approve",
         "--note", "retention aligned with the archive schedule"],
        check=False,
    )  # fmt: skip


def show_catalog_governance(run: Run, run_dir: Path) -> None:
    """Print the resource/share/open lists, then one entry's verified change log."""
    for kind in ("resource", "share", "open"):
        run(f"the {kind} list (computed from the catalog)", ["-m", "processors", "catalog", "lists", kind])
    marker = run_dir / "catalog-change.done"
    if not marker.exists():
        _change(run, run_dir)
        marker.write_text("the demo's example catalog change was proposed and reviewed\n")
    run(
        f"the signed change log of {ENTRY}, signatures and hash chain verified",
        ["-m", "processors", "--log-level", "WARNING", "catalog", "log", ENTRY],
        check=False,
    )
