"""OpenAPI 3.1 description of the objection API, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from processors.objections.models import (
    AnswerRequest,
    CaseView,
    DecisionRequest,
    SubmitRequest,
    SubmitResponse,
)
from processors.share.key_release import ShareKeyRequest, ShareKeys

__all__ = ["ROUTES", "openapi_document"]

_REF = "#/components/schemas/{model}"
_MODELS: tuple[type[BaseModel], ...] = (
    SubmitRequest, SubmitResponse, DecisionRequest, AnswerRequest, CaseView, ShareKeyRequest,
    ShareKeys,
)  # fmt: skip

# (method, path, summary, request model, response model, auth: "unit" | "optional")
ROUTES: tuple[tuple[str, str, str, str | None, str, str], ...] = (
    ("post", "/cases", "Submit an objection (a unit with its token, or the public on open data, "
     "rate-limited)", "SubmitRequest", "SubmitResponse", "optional"),
    ("get", "/cases", "Cases the unit provides or raised (?overdue=true, ?state=)", None,
     "CaseList", "unit"),
    ("get", "/cases/{case_id}", "One case with its signed events (public cases: by id alone)",
     None, "CaseView", "optional"),
    ("post", "/cases/{case_id}/decision", "The provider's decision", "DecisionRequest",
     "CaseView", "unit"),
    ("post", "/cases/{case_id}/answer", "The provider's answer", "AnswerRequest", "CaseView",
     "unit"),
    ("post", "/cases/{case_id}/close", "Close an answered case", None, "CaseView", "unit"),
    ("post", "/share-keys", "Share keys of sealed personal values, for a unit with a live share "
     "grant on the dataset (null: erased)", "ShareKeyRequest", "ShareKeys", "unit"),
)  # fmt: skip


def _ref(name: str) -> dict[str, Any]:
    if name == "CaseList":
        return {"type": "array", "items": {"$ref": _REF.format(model="CaseView")}}
    return {"$ref": _REF.format(model=name)}


def openapi_document() -> dict[str, Any]:
    """The API description; schemas are the models' own JSON schemas."""
    _, defs = models_json_schema([(m, "validation") for m in _MODELS], ref_template=_REF)
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Error"] = {
        "type": "object",
        "properties": {"error": {"type": "string"}},
        "required": ["error"],
    }
    paths: dict[str, Any] = {}
    for method, path, summary, body, answer, auth in ROUTES:
        op: dict[str, Any] = {
            "summary": summary,
            "responses": {
                "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": _ref(answer)}},
                },
                "default": {
                    "description": "error (400, 401, 403, 404, 409, 429)",
                    "content": {"application/json": {"schema": _ref("Error")}},
                },
            },
            "security": [{"unitToken": []}] if auth == "unit" else [{"unitToken": []}, {}],
        }
        if "{case_id}" in path:
            op["parameters"] = [
                {"name": "case_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ]
        if body is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _ref(body)}},
            }
        paths.setdefault(path, {})[method] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sensegate objections (Art. 30)",
            "version": "1",
            "description": "Objections to shared or opened records, decided by the dataset's "
            "provider unit; every state change is a signed event. Release of share keys to "
            "grant holders.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"unitToken": {"type": "http", "scheme": "bearer"}},
        },
    }
