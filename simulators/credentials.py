"""Issued broker credentials for a simulated fleet: which login publishes which topic.

Reads the file ``python -m processors devices import --credentials-out`` writes
(``{"identities": [{"username", "password", "publish": [filters], ...}]}``). Each message is sent
by the identity whose publish filters match its topic (the RSU, the network-server application),
or, on a named connection (a Sparkplug edge node), by that connection's identity, as real devices
would: a topic no identity of the fleet may publish gets no credential and is not sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from paho.mqtt.client import topic_matches_sub

from simulators.exceptions import ConfigError

__all__ = ["CredentialBook", "Login"]


@dataclass(frozen=True, slots=True)
class Login:
    """One identity: user name, password and the topic filters it may publish."""

    username: str
    password: str
    publish: tuple[str, ...]


class CredentialBook:
    """The logins of a fleet, looked up by topic or by connection name."""

    def __init__(self, logins: list[Login]) -> None:
        self.logins = logins
        self._by_topic: dict[str, Login | None] = {}

    @classmethod
    def load(cls, path: Path) -> CredentialBook:
        """Read a credentials file (one or more, concatenated by ``merge``)."""
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            logins = [
                Login(i["username"], i["password"], tuple(i.get("publish", ())))
                for i in doc["identities"]
            ]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            msg = f"cannot read credentials file {path}: {exc}"
            raise ConfigError(msg) from exc
        return cls(logins)

    def for_topic(self, topic: str) -> Login | None:
        """The login allowed to publish ``topic`` (first match), or None."""
        if topic not in self._by_topic:
            self._by_topic[topic] = next(
                (lg for lg in self.logins if any(topic_matches_sub(f, topic) for f in lg.publish)),
                None,
            )
        return self._by_topic[topic]

    def for_connection(self, connection: str) -> Login | None:
        """The login of a named connection ``<family>:<identity name>`` (e.g. ``iiot:G/node``)."""
        _, _, name = connection.partition(":")
        return next((lg for lg in self.logins if lg.username.partition(":")[2] == name), None)
