"""Load messages with the C publisher (``mosquitto_pub -l``) without losing any at QoS 1.

``mosquitto_pub -l`` (Mosquitto 2.0) disconnects once the PUBACK of the packet id of its last line
arrives; past 65 535 lines the ids wrap, an earlier message carries that id, and the rest of the
input is silently dropped (100 000 lines delivered ~34 500). Each invocation here therefore
publishes at most ``CHUNK_LINES`` lines.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

__all__ = ["CHUNK_LINES", "publish_lines"]

CHUNK_LINES = 50_000


def publish_lines(
    port: int,
    topic: str,
    source: Path,
    qos: int,
    *,
    v5: bool = False,
    timeout_s: float = 600,
    env: dict[str, str] | None = None,
) -> None:
    """Publish every line of ``source`` as one message (newline stripped), in order.

    ``env``: the C client's environment (e.g. ``XDG_CONFIG_HOME`` of its login options file).
    """
    cmd = ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-t", topic, "-l"]
    if v5:
        cmd += ["-V", "5"]
    chunk: list[bytes] = []
    with source.open("rb") as fh:
        for line in fh:
            chunk.append(line)
            if len(chunk) == CHUNK_LINES:
                subprocess.run(cmd, input=b"".join(chunk), check=True, timeout=timeout_s, env=env)
                chunk = []
    if chunk:
        subprocess.run(cmd, input=b"".join(chunk), check=True, timeout=timeout_s, env=env)
