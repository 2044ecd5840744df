"""Normalize service: raw records -> governed, validated dataset records."""
