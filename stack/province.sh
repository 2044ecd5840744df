#!/usr/bin/env bash
# A local "province": a second single-node KRaft Kafka, SCRAM only, for `make demo PROVINCE=1` and for
# trying federation by hand (docs/federation.md). Admits this instance and writes its upstream settings.
# Usage: stack/province.sh up|down|show|env. State: $SENSEGATE_STATE/province; ports overridable.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SENSEGATE_STATE:-$ROOT/.state}"
DIR="$STATE/province"
CACHE="${SENSEGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sensegate}"
PORT="${SENSEGATE_STACK_PROVINCE_PORT:-19192}"
CONTROLLER_PORT="${SENSEGATE_STACK_PROVINCE_CONTROLLER_PORT:-19193}"
SASL_PORT="${SENSEGATE_STACK_PROVINCE_SASL_PORT:-19194}"  # inter-broker listener (SCRAM)
CODE="${SENSEGATE_FEDERATION__INSTANCE_CODE:-demo_city}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
LIBS="$CACHE/kafka-4.1.1/libs"

die() { echo "province: error: $*" >&2; exit 1; }
say() { echo "province: $*"; }
SECRET="$DIR/secrets/kafka-admin.password"  # where stack/kafka_conf.py reads the admin password
alive() { [ -f "$DIR/kafka.pid" ] && kill -0 "$(cat "$DIR/kafka.pid")" 2>/dev/null; }

admin_env() { # the province operator's login, for `python -m processors province ...`
  echo "export SENSEGATE_PROVINCE__KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:$PORT"
  echo "export SENSEGATE_PROVINCE__KAFKA__SECURITY_PROTOCOL=SASL_SSL"
  echo "export SENSEGATE_PROVINCE__KAFKA__SASL_MECHANISM=SCRAM-SHA-512"
  echo "export SENSEGATE_PROVINCE__KAFKA__SSL_CAFILE=$DIR/pki/ca.crt"
  echo "export SENSEGATE_PROVINCE__KAFKA__SASL_USERNAME=sensegate-admin"
  echo "export SENSEGATE_PROVINCE__KAFKA__SASL_PASSWORD=$(cat "$SECRET")"
  echo "export SENSEGATE_PROVINCE__STATE_DIR=$DIR/platform"
}

cmd_up() {
  [ -f "$LIBS/kafka_2.13-4.1.1.jar" ] || die "Kafka libraries missing (run 'make stack-up')"
  mkdir -p "$DIR/kafka/data" "$DIR/kafka/logs"
  (umask 077; mkdir -p "$DIR/secrets"; [ -s "$SECRET" ] || "$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$SECRET")
  if ! alive; then
    # The same secured broker as the stack's (stack/kafka_conf.py): SASL_SSL with the province's own
    # CA in $DIR/pki, SCRAM on every listener, the StandardAuthorizer, no anonymous principal.
    local props cp="$LIBS/*" jopts=(-Xms384m -Xmx384m -XX:+UseSerialGC "-Dkafka.logs.dir=$DIR/kafka/logs"
      "-Dlog4j2.configurationFile=$ROOT/stack/kafka/log4j2.properties")
    props=$(cd "$ROOT" && SENSEGATE_STACK_KAFKA_PORT=$PORT SENSEGATE_STACK_KAFKA_SASL_PORT=$SASL_PORT \
      SENSEGATE_STACK_KAFKA_CONTROLLER_PORT=$CONTROLLER_PORT "$PYTHON" -m stack.kafka_conf render "$DIR") \
      || die "rendering the province broker's configuration failed"
    if [ ! -f "$DIR/kafka/data/meta.properties" ]; then
      local args; args=$(cd "$ROOT" && "$PYTHON" -m stack.kafka_conf format-args "$DIR" "sgprovince$(date +%s)xx")
      java "${jopts[@]}" -cp "$cp" "@$args" >"$DIR/format.log" 2>&1 || { rm -f "$args"; die "format failed ($DIR/format.log)"; }
      rm -f "$args"
    fi
    nohup java "${jopts[@]}" -cp "$cp" kafka.Kafka "$props" >"$DIR/kafka/logs/stdout.log" 2>&1 &
    echo $! >"$DIR/kafka.pid"
  fi
  (umask 077; admin_env >"$DIR/admin.env")
  # shellcheck disable=SC1091
  source "$DIR/admin.env"
  local deadline=$((SECONDS + 90))
  until "$PYTHON" -m processors --log-level ERROR province admit --code "$CODE" \
      --public-key "$(instance_public_key)" --password-file "$DIR/instance.secret" >"$DIR/admit.log" 2>&1; do
    [ $SECONDS -lt $deadline ] || { cat "$DIR/admit.log" >&2; die "province did not admit $CODE within 90 s"; }
    sleep 2
  done
  (umask 077; cat >"$STATE/federation.env" <<EOF2
# Written by stack/province.sh: this instance replicates to the local demo province.
export SENSEGATE_FEDERATION__INSTANCE_CODE=$CODE
export SENSEGATE_FEDERATION__UPSTREAM_BOOTSTRAP=127.0.0.1:$PORT
export SENSEGATE_FEDERATION__UPSTREAM_SECURITY_PROTOCOL=SASL_SSL
export SENSEGATE_FEDERATION__UPSTREAM_TRUSTSTORE=$DIR/pki/ca.crt
export SENSEGATE_FEDERATION__UPSTREAM_USERNAME=instance-$CODE
export SENSEGATE_FEDERATION__UPSTREAM_PASSWORD=$(cat "$DIR/instance.secret")
EOF2
  )
  say "up on 127.0.0.1:$PORT (SASL_SSL, SCRAM); $CODE admitted; upstream settings in $STATE/federation.env"
}

# The instance's checkpoint public key, pinned by the province at admission.
instance_public_key() {
  # shellcheck disable=SC1091
  source "$STATE/stack.env"
  # shellcheck disable=SC1091
  source "$STATE/secrets/env/admin.env"  # the signing key (stack.env holds no secret)
  "$PYTHON" -c 'import os; from pydantic import SecretStr; from processors.provenance.keys import Signer; print(Signer(SecretStr(os.environ["SENSEGATE_PROVENANCE__SIGNING_KEY"])).public_key)'
}

cmd_down() {
  if alive; then
    local pid; pid=$(cat "$DIR/kafka.pid"); kill "$pid"
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    say "stopped"
  fi
  rm -f "$DIR/kafka.pid"
}

# What arrived upstream (after `make demo`): per-topic record counts, then the provincial merge.
cmd_show() {
  # shellcheck disable=SC1091
  source "$DIR/admin.env"
  sleep "${SENSEGATE_PROVINCE_SHOW_WAIT_S:-15}"  # let MirrorMaker drain the last records
  "$PYTHON" -m processors --log-level ERROR province topics
  "$PYTHON" -m processors --log-level ERROR province merge || true
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  show) cmd_show ;;
  env) admin_env ;;
  *) echo "usage: $0 up|down|show|env" >&2; exit 2 ;;
esac
