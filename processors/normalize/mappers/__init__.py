"""Per-family mappers: decoded device messages -> dataset candidates."""
