#!/usr/bin/env bash
# sensegate services (gateway, normalize, sink, share) as background processes of the native stack.
# Usage: stack/services.sh up|down|status. Logs and pid files: $SENSEGATE_STATE/services/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SENSEGATE_STATE:-$ROOT/.state}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
DIR="$STATE/services"
# Metrics ports are PORT_BASE+0..3; override the base to run a second stack beside the first.
PORT_BASE="${SENSEGATE_SERVICES_PORT_BASE:-19100}"
# name|metrics port|Kafka principal (stack/kafka principals.env key)|command
SERVICES=(
  "gateway|$PORT_BASE|GATEWAY|-m gateway"
  "normalize|$((PORT_BASE + 1))|NORMALIZER|-m processors normalize"
  "sink|$((PORT_BASE + 2))|SINK|-m processors sink"
  "share|$((PORT_BASE + 3))|SHARE|-m processors share"
)

die() { echo "services: error: $*" >&2; exit 1; }
say() { echo "services: $*"; }
pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

http_ok() { "$PYTHON" - "$1" <<'PY'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
}

cmd_up() {
  [ -f "$STATE/stack.env" ] || die "the stack is not up (run 'make stack-up')"
  # shellcheck disable=SC1091
  source "$STATE/stack.env"
  local creds="$STATE/kafka/principals.env"
  [ -s "$creds" ] || die "no service principals in $creds (run 'make stack-up')"
  # shellcheck disable=SC1090
  source "$creds"
  [ -s "$STATE/mosquitto/services.env" ] || die "no MQTT service identities (run 'make stack-up')"
  # shellcheck disable=SC1091
  source "$STATE/mosquitto/services.env"
  mkdir -p "$DIR"
  local entry name port principal cmd
  for entry in "${SERVICES[@]}"; do
    IFS='|' read -r name port principal cmd <<<"$entry"
    if pid_alive "$DIR/$name.pid"; then say "$name already running"; continue; fi
    local user_var="${principal}_SASL_USERNAME" pass_var="${principal}_SASL_PASSWORD"
    # Each service talks to Kafka as its own least-privilege principal on the SASL listener.
    # shellcheck disable=SC2086
    # Each service's own MQTT identity (stack/mqtt_auth.py): the broker refuses anonymous clients.
    local mqtt_env=()
    case "$name" in
      gateway) mqtt_env=("SENSEGATE_MQTT__USERNAME=$GATEWAY_MQTT_USERNAME" "SENSEGATE_MQTT__PASSWORD=$GATEWAY_MQTT_PASSWORD") ;;
      normalize) mqtt_env=("SENSEGATE_MQTT__USERNAME=$HOSTAPP_MQTT_USERNAME" "SENSEGATE_MQTT__PASSWORD=$HOSTAPP_MQTT_PASSWORD") ;;
    esac
    # Sparkplug birth state (normalize) survives restarts in the state folder; others ignore it.
    env "${mqtt_env[@]}" "SENSEGATE_METRICS__PORT=$port" "SENSEGATE_MAPPERS__SPARKPLUG_STATE_DIR=$DIR/sparkplug-state" \
      "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS=$SENSEGATE_STACK_KAFKA_SASL_BOOTSTRAP" \
      "SENSEGATE_KAFKA__SECURITY_PROTOCOL=SASL_PLAINTEXT" "SENSEGATE_KAFKA__SASL_MECHANISM=SCRAM-SHA-512" \
      "SENSEGATE_KAFKA__SASL_USERNAME=${!user_var}" "SENSEGATE_KAFKA__SASL_PASSWORD=${!pass_var}" \
      nohup "$PYTHON" $cmd >>"$DIR/$name.log" 2>&1 &
    echo $! >"$DIR/$name.pid"
  done
  local deadline=$((SECONDS + 60))
  for entry in "${SERVICES[@]}"; do
    IFS='|' read -r name port principal cmd <<<"$entry"
    until http_ok "http://127.0.0.1:$port/readyz"; do
      pid_alive "$DIR/$name.pid" || { tail -n 20 "$DIR/$name.log" >&2; die "$name exited (log: $DIR/$name.log)"; }
      [ $SECONDS -lt $deadline ] || { tail -n 20 "$DIR/$name.log" >&2; die "$name not ready within 60 s (log: $DIR/$name.log)"; }
      sleep 0.5
    done
    say "$name ready (metrics http://127.0.0.1:$port/metrics)"
  done
}

cmd_down() {
  local entry name port principal cmd pid
  for entry in "${SERVICES[@]}"; do
    IFS='|' read -r name port principal cmd <<<"$entry"
    if pid_alive "$DIR/$name.pid"; then
      pid=$(head -n1 "$DIR/$name.pid")
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -9 "$pid" 2>/dev/null || true
      say "$name stopped"
    fi
    rm -f "$DIR/$name.pid"
  done
}

cmd_status() {
  local entry name port principal cmd
  for entry in "${SERVICES[@]}"; do
    IFS='|' read -r name port principal cmd <<<"$entry"
    if pid_alive "$DIR/$name.pid"; then
      printf '%-12s %-16s running (pid %s)\n' "$name" "metrics :$port" "$(head -n1 "$DIR/$name.pid")"
    else
      printf '%-12s %-16s stopped\n' "$name" "metrics :$port"
    fi
  done
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
