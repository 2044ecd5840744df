"""Device simulators: realistic V2X, agricultural and industrial fleets, replay, faults, counting oracle.

Library use (the demo, tests and benchmarks)::

    from simulators import FleetConfig, RunOptions, VerifyOptions, run_fleet, verify
    summary = run_fleet(FleetConfig(families=("v2x",), devices=2, rate=20, duration_s=5),
                        RunOptions(log_path=Path("run.log")))
    report = verify(Path("run.log"), VerifyOptions(dsn="postgresql://..."))
"""

from __future__ import annotations

from simulators.api import (
    FAMILIES,
    FleetConfig,
    VerifyOptions,
    build_fleets,
    generate,
    registry_csv,
    replay_file,
    replay_file_async,
    run_fleet,
    run_fleet_async,
    verify,
    verify_async,
)
from simulators.exceptions import SimulatorError
from simulators.model import Control, SimItem, SimMessage
from simulators.oracle import OracleReport
from simulators.runner import RunOptions, RunSummary

__all__ = [
    "FAMILIES",
    "Control",
    "FleetConfig",
    "OracleReport",
    "RunOptions",
    "RunSummary",
    "SimItem",
    "SimMessage",
    "SimulatorError",
    "VerifyOptions",
    "build_fleets",
    "generate",
    "registry_csv",
    "replay_file",
    "replay_file_async",
    "run_fleet",
    "run_fleet_async",
    "verify",
    "verify_async",
]
