"""Project scripts: the demo run and maintenance helpers."""
