"""Share-tier data keys released to grant holders, so they can open the sealed personal values.

A record of a personal dataset reaches ``share.<code>`` with its personal values sealed under the
share derivation of its subject's key (``processors.provenance.sealed_records.tier_key``). A unit
that holds an approved, unexpired share grant on the dataset asks for the keys of the key ids it
found in the records it read; it gets the derived share key of each id that is still live, and
``null`` for an id whose subject was erased (or that is unknown). The subject key itself never
leaves the database, and another tier's or dataset's derivation cannot be asked for.

A released key must not be kept longer than ``MAX_CACHE_S``: an erasure destroys the subject key,
and a holder that follows that rule can no longer open the subject's records in the retained topic
once its cached key has expired (docs/provenance.md, "Key release to grant holders").
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime
from typing import Annotated, Any

from psycopg import AsyncConnection
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from processors.exceptions import ProcessorError
from processors.provenance.personal import keys_by_id
from processors.provenance.sealed_records import tier_key

__all__ = [
    "MAX_CACHE_S",
    "MAX_KEY_IDS",
    "KeyReleaseRefused",
    "ShareKeyRequest",
    "ShareKeys",
    "decode_share_key",
    "release_share_keys",
]

logger = logging.getLogger(__name__)

MAX_CACHE_S = 300
MAX_KEY_IDS = 1000
TIER = "share"

KeyId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,64}$")]


class KeyReleaseRefused(ProcessorError):
    """The unit holds no live share grant on the dataset (not retriable: apply for a grant)."""

    status = 403


class ShareKeyRequest(BaseModel):
    """The key ids a grant holder found in the ``sealed`` tokens of one dataset's share records."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dataset: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,62}$")]
    key_ids: list[KeyId] = Field(min_length=1, max_length=MAX_KEY_IDS)


class ShareKeys(BaseModel):
    """Share keys by id (base64url, 32 bytes); ``null`` for an erased or unknown subject."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    keys: dict[str, str | None]
    max_cache_s: int = Field(
        description="seconds a released key may be kept; fetch it again after that"
    )


async def _has_share_grant(
    conn: AsyncConnection[Any], unit: str, dataset: str, now: datetime
) -> bool:
    cur = await conn.execute(
        "SELECT 1 FROM access_grant WHERE applicant = %s AND dataset = %s AND tier = %s "
        "AND status = 'approved' AND valid_until > %s AND ended_at IS NULL LIMIT 1",
        (unit, dataset, TIER, now),
    )
    return await cur.fetchone() is not None


async def release_share_keys(
    conn: AsyncConnection[Any], unit: str, request: ShareKeyRequest, now: datetime
) -> ShareKeys:
    """The share keys of ``request.key_ids`` for ``unit``; raises KeyReleaseRefused without a grant."""
    if not await _has_share_grant(conn, unit, request.dataset, now):
        msg = f"{unit} holds no live share grant on {request.dataset}"
        raise KeyReleaseRefused(msg)
    wanted = sorted(set(request.key_ids))
    found = await keys_by_id(conn, set(wanted))
    live = {kid: row.key for kid, row in found.items() if row.dataset == request.dataset}
    keys = {
        kid: (
            base64.urlsafe_b64encode(tier_key(live[kid], TIER, request.dataset)).decode()
            if kid in live
            else None
        )
        for kid in wanted
    }
    logger.info(
        "released %d share key(s) of %s to %s (%d erased or unknown)",
        len(live), request.dataset, unit, len(wanted) - len(live),
    )  # fmt: skip
    return ShareKeys(dataset=request.dataset, keys=keys, max_cache_s=MAX_CACHE_S)


def decode_share_key(text: str) -> bytes:
    """The key bytes of one released key (base64url as ``ShareKeys.keys`` gives it)."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
