"""Service runtime shared by every sensegate service: HTTP health/metrics, topic administration."""
