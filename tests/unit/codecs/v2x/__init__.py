"""C-V2X codec unit tests."""
