"""Install-time build of the generated C UPER decoders of the V2X editions (optional extensions).

Each edition under ``processors/codecs/v2x/asn1/`` becomes ``processors.codecs.v2x._uper_<edition>``:
``uper_cgen.py`` writes the C source from the project's own ASN.1 modules, the compiler builds it.
Without a C compiler (or Python headers) the build is skipped with a warning and the codec decodes
with asn1tools; ``SENSEGATE_V2X_DECODER=python`` at install time skips the build on purpose.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
V2X = ROOT / "processors" / "codecs" / "v2x"


def _generator() -> Any:
    """The generator module, loaded by path: importing the package would need its dependencies."""
    spec = importlib.util.spec_from_file_location("sensegate_uper_cgen", V2X / "uper_cgen.py")
    assert spec is not None and spec.loader is not None  # noqa: S101 - a file we ship
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _module_name(edition: str) -> str:
    return "_uper_" + edition.replace("-", "_").replace(".", "_")


class GenerateThenBuild(build_ext):
    """Writes each decoder's C source into the build directory just before compiling it."""

    def build_extension(self, ext: Extension) -> None:
        """Generate, then compile; a generator refusal counts as a failed optional build."""
        from setuptools.errors import CompileError

        edition = ext.name.rsplit(".", 1)[1]
        asn1_dir = next(d for d in (V2X / "asn1").iterdir() if _module_name(d.name) == edition)
        target = Path(self.build_temp) / "v2x" / f"{edition}.c"
        try:
            source = _generator().generate(asn1_dir, edition)
        except Exception as exc:
            msg = f"cannot generate the UPER decoder of {asn1_dir.name}: {exc}"
            raise CompileError(msg) from exc
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(source)
        ext.sources = [str(target)]
        super().build_extension(ext)


def _extensions() -> list[Extension]:
    if os.environ.get("SENSEGATE_V2X_DECODER", "").lower() == "python":
        return []
    editions = sorted(d.name for d in (V2X / "asn1").iterdir() if any(d.glob("*.asn")))
    return [
        Extension(
            f"processors.codecs.v2x.{_module_name(e)}",
            sources=[],
            optional=True,
            extra_compile_args=["-O2", "-Wno-unused-variable", "-Wno-unused-function"],
        )
        for e in editions
    ]


setup(ext_modules=_extensions(), cmdclass={"build_ext": GenerateThenBuild})
