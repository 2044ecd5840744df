"""Sub-commands of ``python -m processors``; one module each, registered in ``processors.__main__``."""
