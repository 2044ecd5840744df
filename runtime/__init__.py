"""Shared service runtime: health/metrics HTTP, topic administration, task supervision, fault points."""
