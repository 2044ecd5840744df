"""PNG of a run: stage throughput over time (end-to-end phases) and the latency distribution."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.stats import percentile, window_rates

__all__ = ["write_plot"]


def write_plot(results: Mapping[str, Any], path: Path) -> Path | None:
    """Write the figure to ``path``; None when matplotlib is missing or there is nothing to draw."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    e2e = results.get("e2e") or {}
    series = e2e.get("series") or []
    samples = (e2e.get("latency") or {}).get("latency_samples_ms") or []
    if not series and not samples:
        return None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4.8))
    if series:
        t0 = series[0]["t"]
        ts = [s["t"] - t0 for s in series]
        curves = {
            "gateway (msg/s)": [sum(s["raw"].values()) for s in series],
            "normalize (msg/s)": [sum(s["normalized"].values()) for s in series],
            "sink (rows/s)": [s["sunk"] for s in series],
        }
        for label, counts in curves.items():
            pts = window_rates(ts, [float(c) for c in counts])
            ax1.plot([p[0] for p in pts], [p[1] for p in pts], label=label, linewidth=1)
        for name in ("saturation", "latency"):
            phase = e2e.get(name) or {}
            if "t0" in phase:
                ax1.axvspan(phase["t0"] - t0, phase["t1"] - t0, alpha=0.08)
                ax1.text(phase["t0"] - t0, 0, name, fontsize=8, va="bottom")
        ax1.set_xlabel("time (s)")
        ax1.set_ylabel("throughput")
        ax1.set_title("End to end: throughput over time per stage")
        ax1.legend(fontsize=8)
    if samples:
        ax2.hist(samples, bins=60, color="tab:purple", alpha=0.8)
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            v = percentile(samples, q)
            if v is not None:
                ax2.axvline(v, color="k", linestyle=style, linewidth=1, label=f"p{q} {v:.0f} ms")
        ax2.set_xlabel("publish -> row latency (ms)")
        ax2.set_ylabel("messages")
        ax2.set_title("Latency at 50% of saturation")
        ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
