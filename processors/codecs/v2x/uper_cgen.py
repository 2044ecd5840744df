"""Generate a C extension that decodes one edition's UPER MessageFrame straight into Python values.

Input is asn1tools' compiled UPER type tree of the project's own ASN.1 modules (so constraints,
extension markers and CHOICE/ENUMERATED indexes are resolved exactly as the pure-Python decoder
sees them); output is one C file with a function per distinct type that returns the same value
asn1tools would (dict per SEQUENCE, ``(name, value)`` per CHOICE, enum names, ``bytes`` per OCTET
STRING, ``(bytes, bit_count)`` per BIT STRING, ``str`` per IA5String, ``list`` per SEQUENCE OF).

Imported by ``setup.py`` by file path at install time, so it depends on asn1tools and the standard
library only. Anything the generator does not handle (DEFAULT values, extension additions,
unbounded sizes, recursion) makes it refuse the modules rather than emit a wrong decoder.
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path
from typing import Any

import asn1tools
from asn1tools.codecs import per, uper

__all__ = ["GENERATOR_VERSION", "asn1_digest", "generate"]

# Part of the digest: a change in what the generator emits must invalidate built modules.
GENERATOR_VERSION = "1"
FRAME_TYPE = "MessageFrame"

_RUNTIME = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

typedef struct { const unsigned char *buf; Py_ssize_t nbits; Py_ssize_t pos; } R;

static int out_of_data(R *r, Py_ssize_t want) {
    PyErr_Format(PyExc_ValueError, "out of data: %zd bits wanted at bit %zd of %zd",
                 want, r->pos, r->nbits);
    return -1;
}

/* Read n (<= 64) bits MSB first. */
static int rd(R *r, int n, uint64_t *out) {
    uint64_t v = 0;
    if (n == 0) { *out = 0; return 0; }
    if (r->pos + n > r->nbits) return out_of_data(r, n);
    Py_ssize_t pos = r->pos;
    int left = n;
    while (left > 0) {
        int used = (int)(pos & 7);
        int avail = 8 - used;
        int take = left < avail ? left : avail;
        unsigned int byte = r->buf[pos >> 3];
        unsigned int bits = (byte >> (avail - take)) & ((1u << take) - 1u);
        v = (v << take) | bits;
        pos += take;
        left -= take;
    }
    r->pos = pos;
    *out = v;
    return 0;
}

static int skip(R *r, Py_ssize_t n) {
    if (n < 0 || r->pos + n > r->nbits) return out_of_data(r, n);
    r->pos += n;
    return 0;
}

/* n bits as bytes, left-aligned, last byte zero-padded (asn1tools' read_bits). */
static PyObject *rd_bytes(R *r, Py_ssize_t n) {
    if (r->pos + n > r->nbits) { out_of_data(r, n); return NULL; }
    Py_ssize_t len = (n + 7) / 8;
    PyObject *b = PyBytes_FromStringAndSize(NULL, len);
    if (!b) return NULL;
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(b);
    if ((r->pos & 7) == 0) {
        memcpy(dst, r->buf + (r->pos >> 3), (size_t)len);
        if (n & 7) dst[len - 1] &= (unsigned char)(0xFF << (8 - (n & 7)));
        r->pos += n;
        return b;
    }
    for (Py_ssize_t i = 0; i < len; i++) {
        int take = (n - 8 * i) >= 8 ? 8 : (int)(n - 8 * i);
        uint64_t v;
        if (rd(r, take, &v)) { Py_DECREF(b); return NULL; }
        dst[i] = (unsigned char)(v << (8 - take));
    }
    return b;
}

static int rd_length(R *r, Py_ssize_t *out) {
    uint64_t v, w;
    if (rd(r, 8, &v)) return -1;
    if ((v & 0x80) == 0) { *out = (Py_ssize_t)v; return 0; }
    if ((v & 0xC0) == 0x80) {
        if (rd(r, 8, &w)) return -1;
        *out = (Py_ssize_t)(((v & 0x7F) << 8) | w);
        return 0;
    }
    switch (v) {
        case 0xC1: *out = 16384; return 0;
        case 0xC2: *out = 32768; return 0;
        case 0xC3: *out = 49152; return 0;
        case 0xC4: *out = 65536; return 0;
    }
    PyErr_Format(PyExc_ValueError, "bad length determinant fragmentation value 0x%02x",
                 (unsigned int)v);
    return -1;
}

/* A normally small number whose value does not matter (no extension is known here). */
static int skip_small_number(R *r) {
    uint64_t bit, v;
    Py_ssize_t len;
    if (rd(r, 1, &bit)) return -1;
    if (!bit) return rd(r, 6, &v);
    if (rd_length(r, &len)) return -1;
    return skip(r, 8 * len);
}

static int rd_small_length(R *r, Py_ssize_t *out) {
    uint64_t bit, v;
    if (rd(r, 1, &bit)) return -1;
    if (!bit) { if (rd(r, 6, &v)) return -1; *out = (Py_ssize_t)v + 1; return 0; }
    if (rd(r, 1, &bit)) return -1;
    if (!bit) { if (rd(r, 7, &v)) return -1; *out = (Py_ssize_t)v; return 0; }
    PyErr_SetString(PyExc_NotImplementedError, "normally small length number >64");
    return -1;
}

/* Extension additions of a SEQUENCE whose additions are all unknown here: skip each open type. */
static int skip_additions(R *r) {
    Py_ssize_t count, len;
    uint64_t bit;
    if (rd_small_length(r, &count)) return -1;
    unsigned char present[128];
    for (Py_ssize_t i = 0; i < count; i++) {
        if (rd(r, 1, &bit)) return -1;
        present[i] = (unsigned char)bit;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!present[i]) continue;
        if (rd_length(r, &len)) return -1;
        if (skip(r, 8 * len)) return -1;
    }
    return 0;
}

/* CHOICE extension alternative unknown here: asn1tools yields (None, None). */
static PyObject *skip_choice_addition(R *r) {
    Py_ssize_t len;
    if (skip_small_number(r)) return NULL;
    if (rd_length(r, &len)) return NULL;
    if (skip(r, 8 * len)) return NULL;
    return PyTuple_Pack(2, Py_None, Py_None);
}

static int set_item(PyObject *d, PyObject *key, PyObject *value) {
    if (!value) return -1;
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *pair(PyObject *name, PyObject *value) {
    if (!value) return NULL;
    PyObject *t = PyTuple_Pack(2, name, value);
    Py_DECREF(value);
    return t;
}
"""


def asn1_digest(files: list[Path]) -> str:
    """SHA-256 over the generator version and the modules' bytes, in file-name order."""
    h = hashlib.sha256(GENERATOR_VERSION.encode())
    for path in sorted(files, key=lambda p: p.name):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


class _Emitter:
    """Walks compiled types, one C function per structurally distinct type."""

    def __init__(self) -> None:
        self.functions: list[str] = []
        self.by_signature: dict[str, str] = {}
        self.strings: dict[str, int] = {}
        self.tables: list[str] = []
        self.active: set[int] = set()

    def index(self, text: str) -> int:
        return self.strings.setdefault(text, len(self.strings))

    def key(self, text: str) -> str:
        return f"S[{self.index(text)}]"

    def function(self, t: Any) -> str:
        if id(t) in self.active:
            msg = f"recursive type {t.name!r} is not supported"
            raise NotImplementedError(msg)
        self.active.add(id(t))
        try:
            body, signature = self._body(t)
        finally:
            self.active.discard(id(t))
        name = self.by_signature.get(signature)
        if name is None:
            name = f"t{len(self.by_signature)}"
            self.by_signature[signature] = name
            self.functions.append(f"static PyObject *{name}(R *r) {{\n{body}}}\n")
        return name

    def _body(self, t: Any) -> tuple[str, str]:
        if isinstance(t, uper.Integer):
            return self._integer(t)
        if isinstance(t, per.Enumerated):
            return self._enumerated(t)
        if isinstance(t, per.Sequence):
            return self._sequence(t)
        if isinstance(t, uper.Choice):
            return self._choice(t)
        if isinstance(t, uper.SequenceOf):
            return self._sequence_of(t)
        if isinstance(t, uper.OctetString):
            return self._octets(t)
        if isinstance(t, uper.BitString):
            return self._bits(t)
        if isinstance(t, uper.IA5String):
            return self._ia5(t)
        msg = f"{type(t).__name__} {t.name!r} is not supported by the C generator"
        raise NotImplementedError(msg)

    @staticmethod
    def _bounded(t: Any) -> None:
        if t.number_of_bits is None:
            msg = f"unbounded {type(t).__name__} {t.name!r} is not supported"
            raise NotImplementedError(msg)
        if t.number_of_bits > 62:
            msg = f"{t.name!r} needs {t.number_of_bits} bits"
            raise NotImplementedError(msg)

    def _integer(self, t: Any) -> tuple[str, str]:
        if t.has_extension_marker or t.number_of_bits is None:
            msg = f"extensible or unconstrained INTEGER {t.name!r} is not supported"
            raise NotImplementedError(msg)
        self._bounded(t)
        body = (
            f"    uint64_t v;\n    if (rd(r, {t.number_of_bits}, &v)) return NULL;\n"
            f"    return PyLong_FromLongLong((long long)v + ({t.minimum}LL));\n"
        )
        return body, f"I{t.number_of_bits},{t.minimum}"

    def _enumerated(self, t: Any) -> tuple[str, str]:
        names = [t.root_index_to_data[i] for i in range(len(t.root_index_to_data))]
        if not all(isinstance(n, str) for n in names) or t.additions_index_to_data:
            msg = f"ENUMERATED {t.name!r}: only named roots with an empty extension are supported"
            raise NotImplementedError(msg)
        table = f"E{len(self.tables)}"
        self.tables.append(
            f"static const int {table}[] = {{{', '.join(str(self.index(n)) for n in names)}}};\n"
        )
        lines = ["    uint64_t v;\n"]
        extensible = t.additions_index_to_data is not None
        if extensible:
            lines.append(
                "    if (rd(r, 1, &v)) return NULL;\n"
                "    if (v) { if (skip_small_number(r)) return NULL; Py_RETURN_NONE; }\n"
            )
        lines.append(
            f"    if (rd(r, {t.root_number_of_bits}, &v)) return NULL;\n"
            f"    if (v >= {len(names)}) {{\n"
            f'        PyErr_Format(PyExc_ValueError, "enumeration index %llu out of range", '
            "(unsigned long long)v);\n        return NULL;\n    }\n"
            f"    PyObject *s = S[{table}[v]];\n    Py_INCREF(s);\n    return s;\n"
        )
        return "".join(lines), f"E{extensible}{names}"

    def _sequence(self, t: Any) -> tuple[str, str]:
        if t.additions:
            msg = f"SEQUENCE {t.name!r}: extension additions are not supported"
            raise NotImplementedError(msg)
        optionals = list(t.optionals)
        if any(m.default is not None for m in t.root_members):
            msg = f"SEQUENCE {t.name!r}: DEFAULT values are not supported"
            raise NotImplementedError(msg)
        if len(optionals) > 62:
            msg = f"SEQUENCE {t.name!r}: too many optional members"
            raise NotImplementedError(msg)
        extensible = t.additions is not None
        lines = ["    uint64_t ext = 0, opt = 0;\n"]
        if extensible:
            lines.append("    if (rd(r, 1, &ext)) return NULL;\n")
        if optionals:
            lines.append(f"    if (rd(r, {len(optionals)}, &opt)) return NULL;\n")
        lines.append("    PyObject *d = PyDict_New();\n    if (!d) return NULL;\n")
        parts = []
        for member in t.root_members:
            fn = self.function(member)
            store = f"if (set_item(d, {self.key(member.name)}, {fn}(r))) goto fail;"
            if member in optionals:
                bit = len(optionals) - 1 - optionals.index(member)
                lines.append(f"    if ((opt >> {bit}) & 1) {{ {store} }}\n")
                parts.append(f"?{member.name}:{fn}")
            else:
                lines.append(f"    {store}\n")
                parts.append(f"{member.name}:{fn}")
        if extensible:
            lines.append("    if (ext && skip_additions(r)) goto fail;\n")
        lines.append("    return d;\nfail:\n    Py_DECREF(d);\n    return NULL;\n")
        return "".join(lines), f"Q{extensible}{{{','.join(parts)}}}"

    def _choice(self, t: Any) -> tuple[str, str]:
        if t.additions_index_to_member or t.number_of_indefinite_bits is not None:
            msg = f"CHOICE {t.name!r}: extension additions are not supported"
            raise NotImplementedError(msg)
        members = [t.root_index_to_member[i] for i in range(len(t.root_index_to_member))]
        extensible = t.additions_index_to_member is not None
        lines = ["    uint64_t v = 0;\n"]
        if extensible:
            lines.append(
                "    if (rd(r, 1, &v)) return NULL;\n    if (v) return skip_choice_addition(r);\n"
            )
        if len(members) > 1:
            lines.append(f"    if (rd(r, {t.root_number_of_bits}, &v)) return NULL;\n")
        lines.append("    switch (v) {\n")
        parts = []
        for index, member in enumerate(members):
            fn = self.function(member)
            lines.append(f"    case {index}: return pair({self.key(member.name)}, {fn}(r));\n")
            parts.append(f"{member.name}:{fn}")
        lines.append(
            "    }\n"
            '    PyErr_Format(PyExc_ValueError, "choice index %llu out of range", '
            "(unsigned long long)v);\n    return NULL;\n"
        )
        return "".join(lines), f"C{extensible}{{{','.join(parts)}}}"

    def _size(self, t: Any, *, extensible: bool = True) -> str:
        """C statements leaving the element count in ``n`` (with an extensible size if allowed)."""
        self._bounded(t)
        lines = ["    Py_ssize_t n;\n    uint64_t v;\n"]
        fixed = f"    n = {t.minimum};\n"
        if t.minimum != t.maximum:
            fixed = (
                f"    if (rd(r, {t.number_of_bits}, &v)) return NULL;\n"
                f"    n = {t.minimum} + (Py_ssize_t)v;\n"
            )
        if t.has_extension_marker and extensible:
            lines.append(
                "    if (rd(r, 1, &v)) return NULL;\n"
                "    if (v) { if (rd_length(r, &n)) return NULL; }\n    else {\n"
                + textwrap.indent(fixed, "    ")
                + "    }\n"
            )
        else:
            lines.append(fixed)
        return "".join(lines)

    def _sequence_of(self, t: Any) -> tuple[str, str]:
        fn = self.function(t.element_type)
        body = (
            self._size(t) + "    PyObject *list = PyList_New(n);\n    if (!list) return NULL;\n"
            "    for (Py_ssize_t i = 0; i < n; i++) {\n"
            f"        PyObject *item = {fn}(r);\n"
            "        if (!item) { Py_DECREF(list); return NULL; }\n"
            "        PyList_SET_ITEM(list, i, item);\n    }\n    return list;\n"
        )
        return body, f"L{t.minimum},{t.maximum},{t.has_extension_marker}[{fn}]"

    def _octets(self, t: Any) -> tuple[str, str]:
        body = self._size(t) + "    return rd_bytes(r, 8 * n);\n"
        return body, f"O{t.minimum},{t.maximum},{t.has_extension_marker}"

    def _bits(self, t: Any) -> tuple[str, str]:
        body = self._unextended(t) + self._size(t, extensible=False) + (
            "    PyObject *b = rd_bytes(r, n);\n    if (!b) return NULL;\n"
            "    PyObject *t = Py_BuildValue(\"(Nn)\", b, n);\n    return t;\n"
        )
        return body, f"B{t.minimum},{t.maximum},{t.has_extension_marker}"

    @staticmethod
    def _unextended(t: Any) -> str:
        """An extension bit that must be clear: asn1tools cannot decode size extensions either."""
        if not t.has_extension_marker:
            return ""
        return (
            "    { uint64_t e; if (rd(r, 1, &e)) return NULL;\n"
            "      if (e) { PyErr_SetString(PyExc_NotImplementedError, "
            '"size extension is not supported"); return NULL; } }\n'
        )

    def _ia5(self, t: Any) -> tuple[str, str]:
        alphabet = t.permitted_alphabet.decode_map
        codes = [alphabet[i] for i in range(len(alphabet))]
        table = f"A{len(self.tables)}"
        self.tables.append(
            f"static const unsigned char {table}[] = {{{', '.join(map(str, codes))}}};\n"
        )
        body = self._unextended(t) + self._size(t, extensible=False) + (
            "    PyObject *s = PyUnicode_New(n, 127);\n    if (!s) return NULL;\n"
            "    Py_UCS1 *dst = PyUnicode_1BYTE_DATA(s);\n"
            "    for (Py_ssize_t i = 0; i < n; i++) {\n"
            f"        if (rd(r, {t.bits_per_character}, &v)) {{ Py_DECREF(s); return NULL; }}\n"
            f"        if (v >= {len(codes)}) {{\n"
            '            PyErr_SetString(PyExc_ValueError, "character index out of range");\n'
            "            Py_DECREF(s);\n            return NULL;\n        }\n"
            f"        dst[i] = {table}[v];\n    }}\n    return s;\n"
        )
        return body, f"A{t.minimum},{t.maximum},{t.has_extension_marker},{codes}"


def _c_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def generate(asn1_dir: Path, module_name: str) -> str:
    """C source of extension ``module_name`` decoding the MessageFrame of the modules in ``asn1_dir``."""
    files = sorted(asn1_dir.glob("*.asn"))
    spec = asn1tools.compile_files([str(p) for p in files], "uper")
    root = spec.types[FRAME_TYPE]._type  # noqa: SLF001 - asn1tools keeps the tree there
    emitter = _Emitter()
    top = emitter.function(root)
    strings = sorted(emitter.strings, key=emitter.strings.__getitem__)
    digest = asn1_digest(files)
    init_strings = "".join(
        f"    if (!(S[{i}] = PyUnicode_InternFromString({_c_string(s)}))) return NULL;\n"
        for i, s in enumerate(strings)
    )
    return (
        f"/* Generated by processors/codecs/v2x/uper_cgen.py from {asn1_dir.name}; do not edit. */\n"
        + _RUNTIME
        + f"\nstatic PyObject *S[{max(len(strings), 1)}];\n"
        + "".join(emitter.tables)
        + "".join(f"static PyObject *{n}(R *r);\n" for n in emitter.by_signature.values())
        + "\n".join(emitter.functions)
        + f"""
static PyObject *decode_frame(PyObject *self, PyObject *arg) {{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    R r = {{(const unsigned char *)view.buf, 8 * view.len, 0}};
    PyObject *value = {top}(&r);
    PyBuffer_Release(&view);
    if (!value) return NULL;
    return Py_BuildValue("(Nn)", value, (r.pos + 7) / 8);
}}

static PyMethodDef methods[] = {{
    {{"decode_frame", decode_frame, METH_O,
     "Decode one UPER MessageFrame: ((alternative, value), octets used); ValueError if invalid."}},
    {{NULL, NULL, 0, NULL}}
}};

static struct PyModuleDef module = {{
    PyModuleDef_HEAD_INIT, "{module_name}", "Generated UPER decoder of {asn1_dir.name}.", -1, methods
}};

PyMODINIT_FUNC PyInit_{module_name}(void) {{
{init_strings}    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddStringConstant(m, "ASN1_DIGEST", "{digest}")) {{ Py_DECREF(m); return NULL; }}
    return m;
}}
"""
    )
