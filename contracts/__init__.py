"""Contracts shared by every sensegate stage: envelopes, dead letters, dataset records, topics, settings."""
