"""Broker identities (one MQTT client + role per publishing identity) administered over dynsec.

Mosquitto's dynamic security plugin keeps clients, roles and ACLs; this module creates, replaces
and deletes them by publishing commands on ``$CONTROL/dynamic-security/v1`` as the admin client
and waiting for the matching answer on ``.../response`` (``correlationData``). Every identity gets
a role of the same name holding exactly the ACLs of its kind (``acls_for``), nothing more: the
broker's default denies publishing and subscribing.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from contracts.credential import new_credential
from contracts.settings import MqttConfig
from processors.exceptions import ProcessorError
from runtime.mqtt_auth import configure_client

__all__ = [
    "GATEWAY_SUBSCRIBE",
    "TOOL_PUBLISH",
    "TOOL_SUBSCRIBE",
    "BrokerAdminError",
    "BrokerIdentity",
    "DynsecAdmin",
    "IdentityKind",
    "acls_for",
]

IdentityKind = Literal["rsu", "lns-app", "edge-node", "gateway", "host-app", "monitor", "admin"]

_CONTROL = "$CONTROL/dynamic-security/v1"
_RESPONSE = f"{_CONTROL}/response"
# Username prefix per kind: the prefix keeps an RSU named like a service from colliding with it.
_PREFIX: dict[str, str] = {
    "rsu": "rsu",
    "lns-app": "lns",
    "edge-node": "spb",
    "gateway": "svc-gateway",
    "host-app": "svc-host",
    "monitor": "svc-monitor",
    "admin": "svc-admin",
}
# What the gateway may read: the three device families' topics, and the broker's log lines
# (the refusal counter, gateway/broker_audit.py).
GATEWAY_SUBSCRIBE: tuple[str, ...] = (
    "spBv1.0/#",
    "application/+/device/+/event/+",
    "V2X/RSU/#",
    "$SYS/broker/log/#",
)


# Roles of the development tools only (tests, benchmarks on a private or dev broker): any topic.
TOOL_PUBLISH: tuple[dict[str, Any], ...] = (
    {"acltype": "publishClientSend", "topic": "#", "allow": True},
)
TOOL_SUBSCRIBE: tuple[dict[str, Any], ...] = (
    {"acltype": "subscribePattern", "topic": "#", "allow": True},
    {"acltype": "subscribePattern", "topic": "$SYS/broker/log/#", "allow": True},
    {"acltype": "publishClientReceive", "topic": "$SYS/broker/log/#", "allow": True},
)


class BrokerAdminError(ProcessorError):
    """The broker refused or did not answer an administration command (retriable: unanswered)."""

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


def _level_ok(value: str) -> bool:
    return bool(value) and not any(c in value for c in "/+#") and value.strip() == value


@dataclass(frozen=True)
class BrokerIdentity:
    """One publishing (or service) identity: ``kind`` and its name (RSU id, application id, ...)."""

    kind: IdentityKind
    name: str

    def __post_init__(self) -> None:
        if self.kind == "edge-node":
            parts = self.name.split("/")
            ok = len(parts) == 2 and all(_level_ok(p) for p in parts)
        else:
            ok = _level_ok(self.name)
        if not ok or len(self.name) > 120:
            msg = f"invalid {self.kind} identity name {self.name!r}"
            raise ValueError(msg)

    @property
    def username(self) -> str:
        """Broker user name; also the client id a device should use and its certificate's CN."""
        return f"{_PREFIX[self.kind]}:{self.name}"

    @classmethod
    def from_username(cls, username: str) -> BrokerIdentity:
        """Inverse of ``username``."""
        prefix, _, name = username.partition(":")
        for kind, known in _PREFIX.items():
            if known == prefix:
                return cls(kind, name)  # type: ignore[arg-type]
        msg = f"{username!r} is not a sensegate broker identity"
        raise ValueError(msg)

    @property
    def publish(self) -> tuple[str, ...]:
        """Topic filters this identity may publish on."""
        return tuple(a["topic"] for a in acls_for(self) if a["acltype"] == "publishClientSend")

    @property
    def subscribe(self) -> tuple[str, ...]:
        """Topic filters this identity may subscribe to."""
        return tuple(a["topic"] for a in acls_for(self) if a["acltype"] == "subscribePattern")


def _allow(acltype: str, *topics: str) -> list[dict[str, Any]]:
    return [{"acltype": acltype, "topic": t, "allow": True} for t in topics]


def acls_for(identity: BrokerIdentity) -> list[dict[str, Any]]:
    """The ACLs of ``identity``'s role (dynsec JSON form)."""
    name = identity.name
    if identity.kind == "rsu":
        return _allow("publishClientSend", f"V2X/RSU/{name}/#")
    if identity.kind == "lns-app":
        return _allow("publishClientSend", f"application/{name}/device/+/event/+")
    if identity.kind == "edge-node":
        group, node = name.split("/")
        return [
            *_allow("publishClientSend", f"spBv1.0/{group}/+/{node}/#"),
            *_allow(
                "subscribePattern",
                f"spBv1.0/{group}/NCMD/{node}",
                f"spBv1.0/{group}/DCMD/{node}/+",
                "spBv1.0/STATE/#",
            ),
        ]
    if identity.kind == "gateway":
        # Delivery of '$' topics needs an explicit receive ACL (the default covers the others).
        return [
            *_allow("subscribePattern", *GATEWAY_SUBSCRIBE),
            *_allow("publishClientReceive", "$SYS/broker/log/#"),
        ]
    if identity.kind == "monitor":
        # runtime.monitor reads the broker's own statistics and nothing else.
        return [
            *_allow("subscribePattern", "$SYS/broker/#"),
            *_allow("publishClientReceive", "$SYS/broker/#"),
        ]
    if identity.kind == "host-app":
        return _allow(
            "publishClientSend", "spBv1.0/+/NCMD/+", "spBv1.0/+/DCMD/+/+", f"spBv1.0/STATE/{name}"
        )
    return [
        *_allow("publishClientSend", "$CONTROL/dynamic-security/#"),
        *_allow("subscribePattern", "$CONTROL/dynamic-security/#", "$SYS/#"),
        *_allow("publishClientReceive", "$CONTROL/dynamic-security/#", "$SYS/#"),
    ]


class DynsecAdmin:
    """A connected admin client; ``with DynsecAdmin(config) as admin: admin.ensure(...)``."""

    def __init__(self, config: MqttConfig, *, timeout_s: float = 10.0) -> None:
        self._config = config
        self._timeout = timeout_s
        self._answers: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._refused: str | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"sensegate-admin-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        configure_client(self._client, config)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message

    def __enter__(self) -> DynsecAdmin:
        try:
            self._client.connect(self._config.host, self._config.port, keepalive=30)
        except OSError as exc:
            msg = f"cannot reach the broker at {self._config.host}:{self._config.port}: {exc}"
            raise BrokerAdminError(msg, retriable=True) from exc
        self._client.loop_start()
        if not self._connected.wait(self._timeout) or self._refused:
            self._client.loop_stop()
            msg = f"broker refused the admin client: {self._refused or 'no CONNACK'}"
            raise BrokerAdminError(msg, retriable=self._refused is None)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
        else:
            client.subscribe(_RESPONSE, qos=1)
        self._connected.set()

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        try:
            doc = json.loads(message.payload)
        except ValueError:
            return
        with self._cond:
            for answer in doc.get("responses", ()):
                if isinstance(answer, dict) and "correlationData" in answer:
                    self._answers[str(answer["correlationData"])] = answer
            self._cond.notify_all()

    def run(self, *commands: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``commands`` in one request; returns one answer per command (``error`` if refused)."""
        ids = [uuid.uuid4().hex for _ in commands]
        body = [{**c, "correlationData": i} for c, i in zip(commands, ids, strict=True)]
        # The response subscription went out in on_connect, before this PUBLISH on the same
        # connection, and the broker handles one client's packets in order.
        info = self._client.publish(_CONTROL, json.dumps({"commands": body}), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            msg = f"admin publish failed: {mqtt.error_string(info.rc)}"
            raise BrokerAdminError(msg, retriable=True)
        with self._cond:
            done = self._cond.wait_for(lambda: all(i in self._answers for i in ids), self._timeout)
            if not done:
                msg = "the broker did not answer the dynamic-security request"
                raise BrokerAdminError(msg, retriable=True)
            return [self._answers.pop(i) for i in ids]

    def _checked(self, *commands: dict[str, Any], tolerate: str = "") -> None:
        for answer in self.run(*commands):
            error = answer.get("error")
            if error and not (tolerate and tolerate in str(error)):
                msg = f"dynsec {answer.get('command')}: {error}"
                raise BrokerAdminError(msg)

    def ensure(self, identity: BrokerIdentity, password: str | None) -> None:
        """Create or replace ``identity``'s role and client (``password`` None: certificate only)."""
        # A random password even for certificate clients: the listeners with passwords then
        # accept nobody who only holds the certificate.
        secret = password if password is not None else new_credential()
        self.ensure_client(identity.username, secret, acls_for(identity))

    def ensure_client(self, username: str, password: str, acls: list[dict[str, Any]]) -> None:
        """Create or replace client ``username`` with a role of the same name holding ``acls``."""
        role = username
        self._checked({"command": "createRole", "rolename": role}, tolerate="already exists")
        # Replace the ACL set: remove what the role had, then add the current list.
        current = self.run({"command": "getRole", "rolename": role})[0]
        stale = current.get("data", {}).get("role", {}).get("acls", [])
        removals = [
            {"command": "removeRoleACL", "rolename": role, "acltype": a["acltype"], "topic": a["topic"]}
            for a in stale
        ]
        additions = [{"command": "addRoleACL", "rolename": role, **a} for a in acls]
        self._checked(*removals, *additions)
        # Delete first: a replaced credential also ends the sessions opened with the old one.
        self._checked({"command": "deleteClient", "username": username}, tolerate="not found")
        self._checked(
            {
                "command": "createClient",
                "username": username,
                "password": password,
                "roles": [{"rolename": role}],
            }
        )

    def set_password(self, identity: BrokerIdentity, password: str) -> None:
        """Replace the password of an existing client (sessions stay connected)."""
        self._checked(
            {"command": "setClientPassword", "username": identity.username, "password": password}
        )

    def delete(self, identity: BrokerIdentity) -> bool:
        """Delete the client (the broker disconnects its sessions at once); True if it existed."""
        answer = self.run({"command": "deleteClient", "username": identity.username})[0]
        error = str(answer.get("error") or "")
        if error and "not found" not in error:
            msg = f"dynsec deleteClient: {error}"
            raise BrokerAdminError(msg)
        return not error

    def delete_role(self, identity: BrokerIdentity) -> None:
        """Delete the identity's role (after its client)."""
        self._checked({"command": "deleteRole", "rolename": identity.username}, tolerate="not found")

    def exists(self, identity: BrokerIdentity) -> bool:
        """True when the broker knows the client."""
        answer = self.run({"command": "getClient", "username": identity.username})[0]
        return not answer.get("error")
