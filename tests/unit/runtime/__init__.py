"""Unit tests of the service runtime."""
