"""Secrets of the running stack: none in the repository, none in any output, none defaulted.

Every value `make stack-up` generated (``stack.credentials.all_secret_values``) is searched for in
the repository's files, in ``--help`` and ``--print-config`` output, in the refusals of services
started without a secret or with a wrong one, in the services' logs and metrics during a short
demo run (the four services plus a simulator, through ``stack/services.sh``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from processors.__main__ import COMMANDS
from stack.credentials import all_secret_values, read_env_file
from tests.fixtures.mqtt_auth import MqttLogins
from tests.fixtures.services import StackAddresses, consumer_env

ROOT = Path(__file__).resolve().parents[3]


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Names of the secrets whose value occurs in ``text``."""
    return sorted(name for name, value in secrets.items() if value and value in text)


def _clean_env(stack: StackAddresses, consumer: str | None) -> dict[str, str]:
    """What stack/services.sh gives a service: addresses, its own secrets, nothing else."""
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/")}
    env.update(read_env_file(stack.state / "stack.env"))
    if consumer:
        env.update(consumer_env(stack.state, consumer))
    return env


def _python(args: list[str], env: dict[str, str], timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_no_generated_secret_in_the_repository(stack: StackAddresses) -> None:
    secrets = all_secret_values(stack.state)
    assert len(secrets) >= 15  # 12 passwords and at least one key of each of the three kinds
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    found: dict[str, list[str]] = {}
    for name in filter(None, listed):
        path = ROOT / name
        if path.is_file():
            text = path.read_bytes().decode("utf-8", "replace")
            for leak in _leaks(text, secrets):
                found.setdefault(leak, []).append(name)
    assert found == {}


@pytest.mark.parametrize(
    ("consumer", "args", "setting"),
    [
        ("normalize", ["-m", "processors", "normalize"], "SENSEGATE_PSEUDONYM__KEYS"),
        ("normalize", ["-m", "processors", "normalize"], "SENSEGATE_DB__DSN"),
        ("sink", ["-m", "processors", "sink"], "SENSEGATE_PROVENANCE__SIGNING_KEY"),
        ("share", ["-m", "processors", "share"], "SENSEGATE_SHARE_KEYS__MASTERS"),
        ("share", ["-m", "processors", "share"], "SENSEGATE_KAFKA__SASL_PASSWORD"),
        ("gateway", ["-m", "gateway"], "SENSEGATE_KAFKA__SASL_PASSWORD"),
    ],
)
def test_service_missing_a_secret_refuses_to_start_naming_it(
    stack: StackAddresses, consumer: str, args: list[str], setting: str
) -> None:
    env = _clean_env(stack, consumer)
    assert env.pop(setting)
    proc = _python(args, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert setting in proc.stderr
    assert _leaks(proc.stdout + proc.stderr, all_secret_values(stack.state)) == []


def test_help_config_and_refusals_show_no_secret(stack: StackAddresses) -> None:
    secrets = all_secret_values(stack.state)
    outputs = [_python(["-m", "processors", "--help"], _clean_env(stack, "admin"))]
    for command in COMMANDS:
        outputs.append(_python(["-m", "processors", command, "--help"], _clean_env(stack, "admin")))
    outputs.append(_python(["-m", "gateway", "--help"], _clean_env(stack, "gateway")))
    shown = _python(["-m", "gateway", "--print-config"], _clean_env(stack, "gateway"))
    assert "sasl_password" in shown.stdout
    outputs.append(shown)
    # A wrong password: the refusal names the role, never the password tried or the right one.
    wrong = _clean_env(stack, "admin")
    real = urlsplit(wrong["SENSEGATE_DB__DSN"]).password
    wrong["SENSEGATE_DB__DSN"] = wrong["SENSEGATE_DB__DSN"].replace(f":{real}@", ":not-it@")
    refused = _python(["-m", "processors", "devices", "list"], wrong)
    assert refused.returncode != 0
    outputs.append(refused)
    for proc in outputs:
        assert _leaks(proc.stdout + proc.stderr, secrets) == [], proc.args


@pytest.fixture(scope="module")
def running_services(stack: StackAddresses) -> Iterator[list[int]]:
    """The services through stack/services.sh (started once here unless already up)."""
    env = {**os.environ, "SENSEGATE_STATE": str(stack.state)}
    status = subprocess.run(["bash", "stack/services.sh", "status"], cwd=ROOT, env=env,
                            capture_output=True, text=True, check=True).stdout  # fmt: skip
    started = "stopped" in status
    if started:
        up = subprocess.run(["bash", "stack/services.sh", "up"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)  # fmt: skip
        assert up.returncode == 0, up.stdout + up.stderr
    base = int(os.environ.get("SENSEGATE_SERVICES_PORT_BASE", "19100"))
    try:
        yield [base + i for i in range(4)]
    finally:
        if started:
            subprocess.run(["bash", "stack/services.sh", "down"], cwd=ROOT, env=env,
                           capture_output=True, timeout=120, check=False)  # fmt: skip


def test_demo_run_logs_and_metrics_show_no_secret(
    stack: StackAddresses, running_services: list[int], mqtt_logins: MqttLogins, tmp_path: Path
) -> None:
    secrets = all_secret_values(stack.state)
    # A publisher login that may publish anywhere (the fleet's own credentials are the demo's).
    sim = _python(
        ["-m", "simulators", "mixed", "--devices", "12", "--rate", "60", "--duration", "8",
         "--seed", "3", "--no-progress", "--log", str(tmp_path / "oracle.jsonl"),
         "--username", mqtt_logins.publisher.username, "--password", mqtt_logins.publisher.password],
        {**os.environ, **_clean_env(stack, None)}, timeout=120,
    )  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    time.sleep(5)  # let normalize, sink and share log what they do with it
    texts = {"simulator": sim.stdout + sim.stderr}
    for port in running_services:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            texts[f"metrics:{port}"] = resp.read().decode()
    logs = sorted((stack.state / "services").glob("*.log"))
    assert {p.stem for p in logs} >= {"gateway", "normalize", "sink", "share"}
    for path in [*logs, *sorted((stack.state / "demo").glob("*"))]:
        if path.is_file():
            texts[str(path)] = path.read_text(errors="replace")
    assert {where: _leaks(text, secrets) for where, text in texts.items() if _leaks(text, secrets)} == {}


# Which secret-bearing settings each running service may hold (stack/services.sh + its env file).
_EXPECTED = {
    "gateway": {"SENSEGATE_KAFKA__SASL_PASSWORD", "SENSEGATE_MQTT__PASSWORD"},
    "normalize": {
        "SENSEGATE_KAFKA__SASL_PASSWORD",
        "SENSEGATE_DB__DSN",
        "SENSEGATE_PSEUDONYM__KEYS",
        "SENSEGATE_MQTT__PASSWORD",
    },
    "sink": {"SENSEGATE_KAFKA__SASL_PASSWORD", "SENSEGATE_DB__DSN", "SENSEGATE_PROVENANCE__SIGNING_KEY"},
    "share": {"SENSEGATE_KAFKA__SASL_PASSWORD", "SENSEGATE_SHARE_KEYS__MASTERS"},
    # The monitor's MQTT identity may only read $SYS (processors/registry/broker_auth.py).
    "monitor": {"SENSEGATE_KAFKA__SASL_PASSWORD", "SENSEGATE_DB__DSN", "SENSEGATE_MQTT__PASSWORD"},
}
_SECRET_SETTINGS = {s for names in _EXPECTED.values() for s in names} | {
    "SENSEGATE_BROKER__MQTT__PASSWORD", "SENSEGATE_PROVENANCE__TRUSTED_PUBLIC_KEYS",
}  # fmt: skip


def test_each_running_service_holds_only_its_own_secrets(
    stack: StackAddresses, running_services: list[int]
) -> None:
    conf = stack.state / "services" / "supervisord.conf"
    secrets = all_secret_values(stack.state)
    for service, expected in _EXPECTED.items():
        pid = subprocess.run(
            [str(Path(sys.executable).parent / "supervisorctl"), "-c", str(conf), "pid", service],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        environ = dict(
            item.split("=", 1)
            for item in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
            if "=" in item
        )
        assert {k for k in environ if k in _SECRET_SETTINGS} == expected, service
        assert environ.get("SENSEGATE_KAFKA__SASL_USERNAME") != "sensegate-admin", service
        held = set(_leaks("\n".join(environ.values()), secrets))
        assert len(held) == len(expected), (service, sorted(held))
