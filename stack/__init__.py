"""Native stack helpers (readiness probes, topic bootstrap) used by stack/stack.sh."""
