"""Create every pipeline topic of the shared stack as operator (services' principals may not)."""

from __future__ import annotations

import asyncio
import sys

from contracts.secrets import load_settings
from processors.catalog import load_catalog
from processors.cli.settings import AdminSettings
from runtime.topic_admin import ensure_topics, pipeline_topics


def main() -> int:
    """Create the raw, DLQ, quarantine and data topics for the shipped catalog."""
    # The admin principal's settings (secrets/env/operator.env), like every operator tool.
    kafka = load_settings(AdminSettings, eager=False).kafka
    catalog = load_catalog()
    created = asyncio.run(
        ensure_topics(kafka, pipeline_topics(kafka.topic_prefix, catalog.entries))
    )
    print(f"pipeline topics ready ({len(created)} created)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
