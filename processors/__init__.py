"""sensegate processors: decode, validate, normalize, store, share."""

__version__ = "0.1.0"
