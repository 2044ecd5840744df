"""A throwaway broker identity for a benchmark run (the stack's broker refuses anonymous clients).

Created through the stack's admin client (``SENSEGATE_BROKER__MQTT__*`` in .state/stack.env) with
publish and subscribe rights on every topic, and deleted when the run ends. The C clients
(``mosquitto_pub``/``mosquitto_sub``) read it from a 0600 options file in a private
``XDG_CONFIG_HOME``, so the password never shows in the process list.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from contracts.credential import new_credential
from contracts.settings import MqttConfig
from processors.registry.broker_auth import (
    TOOL_PUBLISH,
    TOOL_SUBSCRIBE,
    DynsecAdmin,
)
from stack.mqtt_auth import read_env_file

__all__ = ["BenchLogin", "bench_login"]

@dataclass(frozen=True)
class BenchLogin:
    """User name, password and the options folder of the C clients."""

    username: str
    password: str
    config_home: Path
    admin: MqttConfig

    def env(self) -> dict[str, str]:
        """Variables that make a sensegate service or a C client connect as this login."""
        return {
            "SENSEGATE_MQTT__USERNAME": self.username,
            "SENSEGATE_MQTT__PASSWORD": self.password,
            "XDG_CONFIG_HOME": str(self.config_home),
        }

    def close(self) -> None:
        """Delete the identity from the broker and its options folder."""
        with DynsecAdmin(self.admin) as admin:
            admin.run({"command": "deleteClient", "username": self.username})
            admin.run({"command": "deleteRole", "rolename": self.username})
        shutil.rmtree(self.config_home, ignore_errors=True)


def bench_login(env: dict[str, str], port: int) -> BenchLogin:
    """Create the identity on the broker at ``port`` as the admin (``env``, else stack.env)."""
    state = Path(env.get("SENSEGATE_STATE") or Path(__file__).resolve().parents[1] / ".state")
    env = {**read_env_file(state / "stack.env"), **env}
    password = env.get("SENSEGATE_BROKER__MQTT__PASSWORD")
    if not password:
        msg = "no broker admin credential (SENSEGATE_BROKER__MQTT__PASSWORD); run 'make stack-up'"
        raise RuntimeError(msg)
    admin = MqttConfig(
        port=port,
        username=env.get("SENSEGATE_BROKER__MQTT__USERNAME", "svc-admin:sensegate"),
        password=SecretStr(password),
    )
    username = f"bench:{uuid.uuid4().hex[:8]}"
    secret = new_credential()
    with DynsecAdmin(admin) as client:
        client.ensure_client(username, secret, [*TOOL_PUBLISH, *TOOL_SUBSCRIBE])
    home = Path(tempfile.mkdtemp(prefix="sgbench-mqtt"))
    for tool in ("mosquitto_pub", "mosquitto_sub"):
        fd = os.open(home / tool, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"-u {username}\n-P {secret}\n")
    return BenchLogin(username, secret, home, admin)
