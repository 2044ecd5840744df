"""Kafka security administration: SCRAM credentials and ACLs, spoken directly over the Kafka protocol.

aiokafka 0.14's admin client has no ACL or SCRAM-credential calls, so this module sends the
requests itself through ``aiokafka.client.AIOKafkaClient.send`` with the protocol structs aiokafka
ships (CreateAcls/DeleteAcls/DescribeAcls v1) plus AlterUserScramCredentials v0 (KIP-554),
defined here. This keeps grant approval free of JVM start-ups; the equivalent Kafka CLI commands
are listed in docs/sharing.md for operators.

The caller must authenticate as a principal allowed to ALTER the cluster (a super user in dev).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeAlias, TypeVar

from aiokafka.client import AIOKafkaClient
from aiokafka.protocol.admin import (
    CreateAclsRequest_v1,
    DeleteAclsRequest_v1,
    DescribeAclsRequest_v1,
)
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    TaggedFields,
)

from contracts.settings import KafkaConfig
from processors.exceptions import ProcessorError

__all__ = [
    "AclBinding",
    "KafkaSecurityAdmin",
    "KafkaSecurityError",
    "Operation",
    "PatternType",
    "ResourceType",
    "scram_salted_password",
]

# Kafka rejects SCRAM-SHA-512 credentials with fewer iterations than 4096.
SCRAM_ITERATIONS = 8192
_SCRAM_SHA_512 = 2


class ResourceType(IntEnum):
    """Kafka ACL resource types (wire codes)."""

    ANY = 1
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5


class PatternType(IntEnum):
    """How an ACL's resource name matches: exactly, or as a prefix."""

    ANY = 1
    MATCH = 2
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    """Kafka ACL operations (wire codes)."""

    ANY = 1
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12


_ALLOW = 3
_ANY_PERMISSION = 1


class KafkaSecurityError(ProcessorError):
    """The broker refused or failed a security request; ``retriable`` is set for transient codes."""

    def __init__(self, message: str, *, error_code: int = -1, retriable: bool = False) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.retriable = retriable


@dataclass(frozen=True, slots=True, order=True)
class AclBinding:
    """One ALLOW rule: ``principal`` may do ``operation`` on a resource matched by name and pattern."""

    principal: str
    resource_type: ResourceType
    resource_name: str
    pattern: PatternType
    operation: Operation
    host: str = "*"

    def describe(self) -> str:
        """Human-readable one-liner, e.g. ``User:x READ TOPIC sensegate.share.a (literal)``."""
        return (
            f"{self.principal} {self.operation.name} {self.resource_type.name} "
            f"{self.resource_name} ({self.pattern.name.lower()})"
        )


# --- AlterUserScramCredentials v0 (API key 51, flexible), not shipped by aiokafka -------------------


class _AlterScramResponse_v0(Response):  # type: ignore[misc]
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramRequest_v0(RequestStruct):  # type: ignore[misc]
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = _AlterScramResponse_v0
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields)
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


_S = TypeVar("_S")


class _FieldsRequest(Request[_S]):  # type: ignore[misc]  # aiokafka is untyped
    """A request whose struct is built from the positional fields given at construction."""

    # aiokafka requires API_KEY on every subclass of Request; the concrete requests set the real one.
    API_KEY = -1

    def __init__(self, *fields: Any) -> None:
        self._fields = fields

    def build(self, request_struct_class: type[_S]) -> _S:
        return request_struct_class(*self._fields)


class _AlterScram(_FieldsRequest[_AlterScramRequest_v0]):
    API_KEY = 51


# --- ACL requests carrying several bindings/filters at once (aiokafka's builders send one) ---------

_AclRow: TypeAlias = tuple[int, str | None, int, str | None, str | None, int, int]


class _CreateAcls(_FieldsRequest[CreateAclsRequest_v1]):
    API_KEY = 30


class _DeleteAcls(_FieldsRequest[DeleteAclsRequest_v1]):
    API_KEY = 31


class _DescribeAcls(_FieldsRequest[DescribeAclsRequest_v1]):
    API_KEY = 29


def _allow_rows(bindings: Iterable[AclBinding]) -> list[_AclRow]:
    """Wire rows of ALLOW bindings (create and exact-match delete use the same shape)."""
    return [
        (b.resource_type, b.resource_name, b.pattern, b.principal, b.host, b.operation, _ALLOW)
        for b in bindings
    ]


def _any_acl_of(principal: str | None) -> _AclRow:
    """A filter row matching every binding of ``principal`` (every principal when None)."""
    return (
        ResourceType.ANY,
        None,
        PatternType.ANY,
        principal,
        None,
        Operation.ANY,
        _ANY_PERMISSION,
    )


def scram_salted_password(password: str, salt: bytes, iterations: int = SCRAM_ITERATIONS) -> bytes:
    """RFC 5802 ``Hi()`` for SHA-512: PBKDF2-HMAC-SHA512 with the hash's own output length."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


# Broker error codes worth retrying (request timed out, not controller, throttling...).
_RETRIABLE_CODES = frozenset({7, 15, 41, 89})


def _check(code: int, message: str | None, what: str) -> None:
    if code:
        text = f"{what} failed with Kafka error {code}: {message or ''}".rstrip(": ")
        raise KafkaSecurityError(text, error_code=code, retriable=code in _RETRIABLE_CODES)


class KafkaSecurityAdmin:
    """Creates and removes SCRAM users and ACLs; an async context manager owning one Kafka client.

    Every call is a single broker round trip; the broker forwards it to the KRaft controller, so a
    change is durable when the call returns (the authorizer on each broker applies it shortly
    after, as the metadata log propagates). Not safe for concurrent use from several tasks.
    """

    def __init__(self, config: KafkaConfig) -> None:
        self._config = config
        self._client: AIOKafkaClient | None = None

    async def __aenter__(self) -> KafkaSecurityAdmin:
        client = AIOKafkaClient(**self._config.client_kwargs(), client_id="sensegate-security")
        await client.bootstrap()
        self._client = client
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _send(self, request: Request[Any]) -> Any:
        if self._client is None:
            msg = "KafkaSecurityAdmin used outside 'async with'"
            raise KafkaSecurityError(msg)
        node = self._client.get_random_node()
        return await self._client.send(node, request)

    async def upsert_scram_user(self, user: str, password: str) -> None:
        """Create or replace the SCRAM-SHA-512 credential of ``user``."""
        salt = secrets.token_bytes(32)
        row: tuple[Any, ...] = (
            user,
            _SCRAM_SHA_512,
            SCRAM_ITERATIONS,
            salt,
            scram_salted_password(password, salt),
            {},
        )
        response = await self._send(_AlterScram([], [row], {}))
        for _user, code, message, _tags in response.results:
            _check(code, message, f"creating SCRAM user {user!r}")

    async def delete_scram_user(self, user: str) -> bool:
        """Delete the SCRAM-SHA-512 credential of ``user``; False when there was none."""
        response = await self._send(_AlterScram([(user, _SCRAM_SHA_512, {})], [], {}))
        for _user, code, message, _tags in response.results:
            if code == 91:  # RESOURCE_NOT_FOUND: the user had no credential
                return False
            _check(code, message, f"deleting SCRAM user {user!r}")
        return True

    async def create_acls(self, bindings: Iterable[AclBinding]) -> int:
        """Add ALLOW bindings (idempotent: an existing identical binding is kept); returns the count."""
        rows = _allow_rows(bindings)
        if not rows:
            return 0
        response = await self._send(_CreateAcls(rows))
        for code, message in response.creation_responses:
            _check(code, message, "creating ACLs")
        return len(rows)

    async def delete_acls(self, bindings: Iterable[AclBinding]) -> int:
        """Remove exactly these ALLOW bindings (absent ones are ignored); returns how many matched."""
        rows = _allow_rows(bindings)
        if not rows:
            return 0
        response = await self._send(_DeleteAcls(rows))
        removed = 0
        for code, message, matching in response.filter_responses:
            _check(code, message, "deleting ACLs")
            removed += len(matching)
        return removed

    async def delete_acls_of(self, principal: str) -> list[AclBinding]:
        """Remove every ACL of ``principal`` on any resource; returns what was removed."""
        row = _any_acl_of(principal)
        response = await self._send(_DeleteAcls([row]))
        removed: list[AclBinding] = []
        for code, message, matching in response.filter_responses:
            _check(code, message, f"deleting ACLs of {principal!r}")
            for m_code, m_message, rtype, name, pattern, who, host, op, _perm in matching:
                _check(m_code, m_message, f"deleting an ACL of {principal!r}")
                removed.append(
                    AclBinding(
                        who, ResourceType(rtype), name, PatternType(pattern), Operation(op), host
                    )
                )
        return sorted(removed)

    async def describe_acls(self, principal: str | None = None) -> list[AclBinding]:
        """List ALLOW bindings, of one principal or of everyone."""
        row = _any_acl_of(principal)
        response = await self._send(_DescribeAcls(*row))
        _check(response.error_code, response.error_message, "describing ACLs")
        found: list[AclBinding] = []
        for rtype, name, pattern, acls in response.resources:
            for who, host, op, perm in acls:
                if perm == _ALLOW:
                    found.append(
                        AclBinding(
                            who,
                            ResourceType(rtype),
                            name,
                            PatternType(pattern),
                            Operation(op),
                            host,
                        )
                    )
        return sorted(found)
