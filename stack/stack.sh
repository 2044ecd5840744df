#!/usr/bin/env bash
# Native stack for sensegate: Mosquitto, Apache Kafka (KRaft) and PostgreSQL on loopback.
# Usage: stack/stack.sh up|status|down|env
# All state lives under $SENSEGATE_STATE (default: <checkout>/.state); nothing listens beyond 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${SENSEGATE_STATE:-$ROOT/.state}"
CACHE="${SENSEGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sensegate}"
KAFKA_VERSION="4.1.1"
MQTT_PORT="${SENSEGATE_STACK_MQTT_PORT:-11883}"
# MQTT over TLS (password) and mutual TLS (client certificate): docs/operations.md "Security".
MQTT_TLS_PORT="${SENSEGATE_STACK_MQTT_TLS_PORT:-18883}"
MQTT_MTLS_PORT="${SENSEGATE_STACK_MQTT_MTLS_PORT:-18884}"
KAFKA_PORT="${SENSEGATE_STACK_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SENSEGATE_STACK_KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_SASL_PORT="${SENSEGATE_STACK_KAFKA_SASL_PORT:-19095}"
PG_PORT="${SENSEGATE_STACK_PG_PORT:-15432}"
PG_USER="sensegate"
PG_PASSWORD="sensegate"
PG_DB="sensegate"
KAFKA_HEAP="${SENSEGATE_STACK_KAFKA_HEAP:-512m}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
KAFKA_LIBS="$CACHE/kafka-$KAFKA_VERSION/libs"
# MirrorMaker 2 (upstream replication to the province, docs/federation.md): its own class path.
MIRROR_LIBS="$CACHE/kafka-$KAFKA_VERSION/mirror-libs"

die() { echo "stack: error: $*" >&2; exit 1; }
say() { echo "stack: $*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && echo "$d"
}

# Run a PostgreSQL server binary as a non-root user (PostgreSQL refuses to run as root).
pg_run() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null; }

install_debian_packages() {
  local missing=()
  command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
  command -v mosquitto_pub >/dev/null 2>&1 || missing+=(mosquitto-clients)
  [ -n "$(pg_bindir || true)" ] || missing+=(postgresql)
  command -v java >/dev/null 2>&1 || die "Java 17+ is required to run Kafka and 'java' is not on PATH (install openjdk-17-jre-headless)"
  command -v mvn >/dev/null 2>&1 || missing+=(maven)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null \
      || die "apt-get update failed; cannot install ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  fi
  # Debian's postinst may start system services on the default ports; ours use their own ports, so leave them.
}

# fetch_jars POM DEST MARKER_JAR WHAT: resolve a pom's dependencies from Maven Central into DEST once.
fetch_jars() {
  local pom=$1 dest=$2 marker=$3 what=$4 log="$CACHE/mvn-$(basename "$2").log"
  if [ -f "$dest/$marker" ]; then return; fi
  say "resolving $what from Maven Central into $dest"
  mkdir -p "$dest.tmp"
  if ! timeout 600 mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$dest.tmp" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "downloading $what with Maven failed (log: $log)"
  fi
  rm -rf "$dest" && mv "$dest.tmp" "$dest"
}

fetch_kafka() {
  fetch_jars "$ROOT/stack/kafka/pom.xml" "$KAFKA_LIBS" "kafka_2.13-$KAFKA_VERSION.jar" "Apache Kafka $KAFKA_VERSION"
}

# MirrorMaker 2 and the Connect runtime it runs on, same Kafka version (stack/kafka/mirror-pom.xml).
fetch_mirror() {
  fetch_jars "$ROOT/stack/kafka/mirror-pom.xml" "$MIRROR_LIBS" "connect-mirror-$KAFKA_VERSION.jar" \
    "Kafka MirrorMaker 2 $KAFKA_VERSION"
}

render() { # render TEMPLATE OUT
  sed -e "s|@STATE@|$STATE|g" -e "s|@MQTT_PORT@|$MQTT_PORT|g" -e "s|@KAFKA_PORT@|$KAFKA_PORT|g" \
      -e "s|@MQTT_TLS_PORT@|$MQTT_TLS_PORT|g" -e "s|@MQTT_MTLS_PORT@|$MQTT_MTLS_PORT|g" \
      -e "s|@DYNSEC_PLUGIN@|$(dynsec_plugin)|g" \
      -e "s|@KAFKA_CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@KAFKA_SASL_PORT@|$KAFKA_SASL_PORT|g" "$1" >"$2"
}

wait_for() { # wait_for NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
  say "$name ready"
}

dynsec_plugin() { # path of Mosquitto's dynamic security plugin (Debian: package mosquitto)
  local f
  f=$(dpkg -L mosquitto 2>/dev/null | grep -m1 'mosquitto_dynamic_security.so$' || true)
  [ -n "$f" ] || f=$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so 2>/dev/null | head -n1)
  [ -n "$f" ] || die "mosquitto_dynamic_security.so not found (Debian package mosquitto 2.0+)"
  echo "$f"
}

start_mosquitto() {
  local d="$STATE/mosquitto"
  if pid_alive "$d/mosquitto.pid"; then say "mosquitto already running on 127.0.0.1:$MQTT_PORT"; return; fi
  local p
  for p in "$MQTT_PORT" "$MQTT_TLS_PORT" "$MQTT_MTLS_PORT"; do
    port_busy "$p" && die "port $p (MQTT) is taken by another process"
  done
  mkdir -p "$d/data"
  # Server certificate, CRL and the dynamic-security file (admin only) before the first start.
  "$PYTHON" -m stack.mqtt_auth init "$STATE" || die "preparing the broker's certificates and identities failed"
  render "$ROOT/stack/mosquitto.conf.in" "$d/mosquitto.conf"
  # Keep privileges as the invoking user so the state folder stays writable.
  echo "user $(id -un)" >>"$d/mosquitto.conf"
  local bin; bin=$(command -v mosquitto || echo /usr/sbin/mosquitto)
  # Its start-up warning about running as root is expected here: 'user' keeps the invoking user.
  "$bin" -c "$d/mosquitto.conf" -d 2>"$d/start.log" \
    || { cat "$d/start.log" >&2; die "mosquitto failed to start (log: $d/mosquitto.log)"; }
  wait_for mosquitto 20 "$PYTHON" "$ROOT/stack/probe.py" mqtt "$MQTT_PORT" \
    || die "mosquitto did not accept a connection within 20 s (log: $d/mosquitto.log)"
  say "mosquitto: anonymous refused; TLS on 127.0.0.1:$MQTT_TLS_PORT, mutual TLS on 127.0.0.1:$MQTT_MTLS_PORT"
}

# The gateway's and Sparkplug host application's MQTT identities (idempotent; as admin).
bootstrap_mqtt() {
  local d="$STATE/mosquitto"
  "$PYTHON" -m stack.mqtt_auth services "$STATE" "$MQTT_PORT" >"$d/bootstrap.log" 2>&1 \
    || { tail -n 20 "$d/bootstrap.log" >&2; die "creating the services' MQTT identities failed"; }
}

start_postgres() {
  local d="$STATE/postgres" bin
  bin=$(pg_bindir) || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  if pid_alive "$d/data/postmaster.pid"; then
    say "postgresql already running on 127.0.0.1:$PG_PORT"
    "$PYTHON" "$ROOT/stack/probe.py" pg "$PG_PORT" || die "PostgreSQL runs but does not answer (log: $d/postgres.log)"
    return
  fi
  port_busy "$PG_PORT" && die "port $PG_PORT (PostgreSQL) is taken by another process"
  mkdir -p "$d/run"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$d"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    local pw="$d/pwfile"; echo "$PG_PASSWORD" >"$pw"; [ "$(id -u)" = 0 ] && chown postgres: "$pw"
    pg_run "$bin/initdb" -D "$d/data" -U "$PG_USER" --pwfile="$pw" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 \
      >"$d/initdb.log" 2>&1 || die "initdb failed (log: $d/initdb.log)"
    rm -f "$pw"
  fi
  pg_run "$bin/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t 60 start -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $d/run -c shared_buffers=256MB -c max_connections=200 -c fsync=on" \
    >/dev/null || die "PostgreSQL failed to start (log: $d/postgres.log)"
  wait_for postgresql 30 "$PYTHON" "$ROOT/stack/probe.py" pg "$PG_PORT" \
    || die "PostgreSQL did not answer a query within 30 s (log: $d/postgres.log)"
}

start_kafka() {
  local d="$STATE/kafka"
  if pid_alive "$d/kafka.pid"; then say "kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  port_busy "$KAFKA_PORT" && die "port $KAFKA_PORT (Kafka) is taken by another process"
  port_busy "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT (Kafka controller) is taken by another process"
  port_busy "$KAFKA_SASL_PORT" && die "port $KAFKA_SASL_PORT (Kafka SASL) is taken by another process"
  fetch_kafka
  mkdir -p "$d/data" "$d/logs"
  render "$ROOT/stack/kafka/server.properties.in" "$d/server.properties"
  local cp="$KAFKA_LIBS/*"
  local jopts=(-Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
               -Dkafka.logs.dir="$d/logs" -Dlog4j2.configurationFile="$ROOT/stack/kafka/log4j2.properties"
               -Djava.awt.headless=true)
  if [ ! -f "$d/data/meta.properties" ]; then
    [ -s "$d/cluster.id" ] || java -cp "$cp" kafka.tools.StorageTool random-uuid >"$d/cluster.id" 2>"$d/format.log" \
      || die "generating a Kafka cluster id failed (log: $d/format.log)"
    java "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "$(tail -n1 "$d/cluster.id")" \
      -c "$d/server.properties" >"$d/format.log" 2>&1 || die "formatting Kafka storage failed (log: $d/format.log)"
  fi
  nohup java "${jopts[@]}" -cp "$cp" kafka.Kafka "$d/server.properties" >"$d/logs/stdout.log" 2>&1 &
  echo $! >"$d/kafka.pid"
  wait_for kafka 90 "$PYTHON" "$ROOT/stack/probe.py" kafka "$KAFKA_PORT" \
    || { tail -n 20 "$d/logs/stdout.log" >&2; die "Kafka did not answer metadata within 90 s (logs: $d/logs)"; }
}

# Pipeline topics and the services' least-privilege principals (idempotent; as operator).
bootstrap_kafka() {
  local d="$STATE/kafka"
  local env=(env "SENSEGATE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT" "SENSEGATE_DB__DSN=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB")
  "${env[@]}" "$PYTHON" -m stack.topics >"$d/bootstrap.log" 2>&1 \
    || { tail -n 20 "$d/bootstrap.log" >&2; die "creating the pipeline topics failed"; }
  if [ ! -s "$d/principals.env" ]; then
    "${env[@]}" "$PYTHON" -m processors --log-level WARNING grants bootstrap-principals --apply \
      --create-users --env-file "$d/principals.env" >>"$d/bootstrap.log" 2>&1 \
      || { rm -f "$d/principals.env"; tail -n 20 "$d/bootstrap.log" >&2; die "creating the service principals failed"; }
    say "service principals and ACLs created"
  else
    # ACL sets grow with the code (e.g. the share service's derived data topics): re-apply them.
    "${env[@]}" "$PYTHON" -m processors --log-level WARNING grants bootstrap-principals --apply \
      >>"$d/bootstrap.log" 2>&1 \
      || { tail -n 20 "$d/bootstrap.log" >&2; die "applying the service ACLs failed"; }
  fi
}

write_env() {
  # The development stack's Ed25519 key for signing provenance checkpoints (kept with the state).
  local keyfile="$STATE/provenance.key"
  if [ ! -s "$keyfile" ]; then
    (umask 077; "$PYTHON" -m processors provenance keygen >"$keyfile.tmp" \
      && sed -n '1s/^[^=]*=//p' "$keyfile.tmp" >"$keyfile" && rm -f "$keyfile.tmp") \
      || die "generating the provenance signing key failed"
  fi
  (umask 077; rm -f "$STATE/stack.env"; cat >"$STATE/stack.env" <<EOF
# Written by stack/stack.sh: addresses of the running stack for sensegate services and tests.
export SENSEGATE_MQTT__HOST=127.0.0.1
export SENSEGATE_MQTT__PORT=$MQTT_PORT
export SENSEGATE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export SENSEGATE_DB__DSN=postgresql://$PG_USER:$PG_PASSWORD@127.0.0.1:$PG_PORT/$PG_DB
export SENSEGATE_STATE=$STATE
export SENSEGATE_STACK_KAFKA_SASL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_PORT
export SENSEGATE_PROVENANCE__SIGNING_KEY=$(cat "$keyfile")
export SENSEGATE_STACK_MQTT_TLS_PORT=$MQTT_TLS_PORT
export SENSEGATE_STACK_MQTT_MTLS_PORT=$MQTT_MTLS_PORT
export SENSEGATE_STACK_MQTT_CA=$STATE/pki/ca.crt
export SENSEGATE_BROKER__MQTT__PORT=$MQTT_PORT
export SENSEGATE_BROKER__TLS_PORT=$MQTT_TLS_PORT
export SENSEGATE_BROKER__MTLS_PORT=$MQTT_MTLS_PORT
EOF
  # The broker's admin client (device registry CLI: issue and revoke device credentials).
  if [ -f "$STATE/mosquitto/broker.env" ]; then grep '^export ' "$STATE/mosquitto/broker.env" >>"$STATE/stack.env"; fi
  )
}

status_line() { # NAME PORT PIDFILE
  local state="stopped"
  if pid_alive "$3"; then state="running (pid $(head -n1 "$3"))"; elif port_busy "$2"; then state="port taken by another process"; fi
  printf '%-12s 127.0.0.1:%-6s %s\n' "$1" "$2" "$state"
}

cmd_status() {
  status_line mosquitto "$MQTT_PORT" "$STATE/mosquitto/mosquitto.pid"
  status_line kafka "$KAFKA_PORT" "$STATE/kafka/kafka.pid"
  status_line postgresql "$PG_PORT" "$STATE/postgres/data/postmaster.pid"
  bash "$ROOT/stack/services.sh" status
}

stop_pidfile() { # NAME PIDFILE
  if pid_alive "$2"; then
    local pid; pid=$(head -n1 "$2")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null || true
    say "$1 stopped"
  fi
  rm -f "$2"
}

cmd_down() {
  local bin
  stop_pidfile kafka "$STATE/kafka/kafka.pid"
  stop_pidfile mosquitto "$STATE/mosquitto/mosquitto.pid"
  if pid_alive "$STATE/postgres/data/postmaster.pid"; then
    bin=$(pg_bindir)
    pg_run "$bin/pg_ctl" -D "$STATE/postgres/data" -m fast -w -t 60 stop >/dev/null && say "postgresql stopped"
  fi
}

cmd_up() {
  mkdir -p "$STATE" "$CACHE"
  [ -x "$PYTHON" ] || die "no virtualenv at $ROOT/.venv (run 'make venv' first)"
  install_debian_packages
  start_mosquitto
  bootstrap_mqtt
  start_postgres
  start_kafka
  fetch_mirror
  bootstrap_kafka
  write_env
  say "stack up; environment in $STATE/stack.env"
}

case "${1:-}" in
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  env) write_env; cat "$STATE/stack.env" ;;
  *) echo "usage: $0 up|status|down|env" >&2; exit 2 ;;
esac
