#!/usr/bin/env bash
# Native stack for sensegate: Mosquitto, Apache Kafka (KRaft) and PostgreSQL on loopback.
# Usage: stack/stack.sh up|status|down|env
# All state lives under $SENSEGATE_STATE (default: <checkout>/.state); nothing listens beyond 127.0.0.1.
# Secured as deployed (issue 15): every secret is generated into $STATE/secrets (0600, stack/credentials.py);
# Kafka answers SCRAM principals only (TLS from the project CA); PostgreSQL has a role per service, TLS.
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
PG_BOOTSTRAP="sensegate_bootstrap"
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

# Run Python with the state folder exported (no secret ever goes on a command line).
py() { (cd "$ROOT" && SENSEGATE_STATE="$STATE" "$PYTHON" "$@"); }

# Run a command with one consumer's secrets (secrets/env/NAME.env) in its environment only.
with_env() { # with_env NAME CMD...
  local name=$1; shift
  ( set -a; source "$STATE/secrets/env/$name.env"; set +a; "$@" )
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
    py -m stack.probe pg "$PG_PORT" || die "PostgreSQL runs but does not answer (log: $d/postgres.log)"
    py -m stack.pgroles "$STATE" >"$d/roles.log" 2>&1 || { tail -n 20 "$d/roles.log" >&2; die "creating the database roles failed"; }
    return
  fi
  port_busy "$PG_PORT" && die "port $PG_PORT (PostgreSQL) is taken by another process"
  if [ -f "$d/data/PG_VERSION" ] && [ ! -f "$d/bootstrap.user" ]; then
    die "$d was created by an older stack with a built-in password; remove it with 'make clean' first"
  fi
  mkdir -p "$d/run" "$d/tls"
  # The server's certificate from the project CA; PostgreSQL wants its key owned by itself, 0600.
  py -m stack.pki server "$STATE" postgres 127.0.0.1 localhost >/dev/null || die "issuing the PostgreSQL certificate failed"
  cp "$STATE/pki/postgres.crt" "$d/tls/server.crt"
  (umask 077; cp "$STATE/pki/postgres.key" "$d/tls/server.key")
  [ "$(id -u)" = 0 ] && chown -R postgres: "$d"
  if [ ! -f "$d/data/PG_VERSION" ]; then
    local pw="$d/pwfile"
    (umask 077; cp "$STATE/secrets/pg-bootstrap.password" "$pw"); [ "$(id -u)" = 0 ] && chown postgres: "$pw"
    pg_run "$bin/initdb" -D "$d/data" -U "$PG_BOOTSTRAP" --pwfile="$pw" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 \
      >"$d/initdb.log" 2>&1 || { rm -f "$pw"; die "initdb failed (log: $d/initdb.log)"; }
    rm -f "$pw"
    echo "$PG_BOOTSTRAP" >"$d/bootstrap.user"
  fi
  # TLS and SCRAM for everyone; plain TCP is refused and the local socket is not offered.
  printf '%s\n' "# Written by stack/stack.sh: TLS and SCRAM for everyone, nothing else." \
    "hostssl all all 127.0.0.1/32 scram-sha-256" "hostnossl all all 0.0.0.0/0 reject" >"$d/data/pg_hba.conf"
  [ "$(id -u)" = 0 ] && chown postgres: "$d/data/pg_hba.conf"
  pg_run "$bin/pg_ctl" -D "$d/data" -l "$d/postgres.log" -w -t 60 start -o \
    "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $d/run -c shared_buffers=256MB -c max_connections=200 -c fsync=on -c ssl=on -c ssl_cert_file=$d/tls/server.crt -c ssl_key_file=$d/tls/server.key -c password_encryption=scram-sha-256" \
    >/dev/null || die "PostgreSQL failed to start (log: $d/postgres.log)"
  wait_for postgresql 30 py -m stack.probe pg "$PG_PORT" \
    || die "PostgreSQL did not answer a query within 30 s (log: $d/postgres.log)"
  py -m stack.pgroles "$STATE" >"$d/roles.log" 2>&1 || { tail -n 20 "$d/roles.log" >&2; die "creating the database roles failed"; }
}

start_kafka() {
  local d="$STATE/kafka"
  if pid_alive "$d/kafka.pid"; then say "kafka already running on 127.0.0.1:$KAFKA_PORT"; return; fi
  port_busy "$KAFKA_PORT" && die "port $KAFKA_PORT (Kafka) is taken by another process"
  port_busy "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT (Kafka controller) is taken by another process"
  port_busy "$KAFKA_SASL_PORT" && die "port $KAFKA_SASL_PORT (Kafka SASL) is taken by another process"
  if [ -f "$d/data/meta.properties" ] && [ ! -f "$d/admin.scram" ]; then
    die "$d was formatted by an older stack with an anonymous super user; remove it with 'make clean' first"
  fi
  fetch_kafka
  mkdir -p "$d/data" "$d/logs"
  SENSEGATE_STACK_KAFKA_PORT=$KAFKA_PORT SENSEGATE_STACK_KAFKA_SASL_PORT=$KAFKA_SASL_PORT \
    SENSEGATE_STACK_KAFKA_CONTROLLER_PORT=$KAFKA_CONTROLLER_PORT py -m stack.kafka_conf render "$STATE" >/dev/null \
    || die "rendering the Kafka configuration failed"
  local cp="$KAFKA_LIBS/*"
  local jopts=(-Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
               -Dkafka.logs.dir="$d/logs" -Dlog4j2.configurationFile="$ROOT/stack/kafka/log4j2.properties"
               -Djava.awt.headless=true)
  if [ ! -f "$d/data/meta.properties" ]; then
    [ -s "$d/cluster.id" ] || java -cp "$cp" kafka.tools.StorageTool random-uuid >"$d/cluster.id" 2>"$d/format.log" \
      || die "generating a Kafka cluster id failed (log: $d/format.log)"
    # The admin's SCRAM credential is added at format time (KIP-900), from a 0600 argument file.
    local args; args=$(py -m stack.kafka_conf format-args "$STATE" "$(tail -n1 "$d/cluster.id")") \
      || die "writing the Kafka format arguments failed"
    java "${jopts[@]}" -cp "$cp" @"$args" >"$d/format.log" 2>&1 \
      || { rm -f "$args"; die "formatting Kafka storage failed (log: $d/format.log)"; }
    rm -f "$args"
    echo "sensegate-admin" >"$d/admin.scram"
  fi
  nohup java "${jopts[@]}" -cp "$cp" kafka.Kafka "$d/server.properties" >"$d/logs/stdout.log" 2>&1 &
  echo $! >"$d/kafka.pid"
  wait_for kafka 90 py -m stack.probe kafka "$KAFKA_PORT" \
    || { tail -n 20 "$d/logs/stdout.log" >&2; die "Kafka did not answer metadata within 90 s (logs: $d/logs)"; }
}

# Pipeline topics, the services' principals and ACLs, as the admin principal. Idempotent;
# passwords come from the state folder every time, so broker and env files always agree.
bootstrap_kafka() {
  local d="$STATE/kafka"
  with_env operator py -m stack.topics >"$d/bootstrap.log" 2>&1 \
    || { tail -n 20 "$d/bootstrap.log" >&2; die "creating the pipeline topics failed"; }
  with_env operator py -m stack.kafka_users "$STATE" >>"$d/bootstrap.log" 2>&1 \
    || { tail -n 20 "$d/bootstrap.log" >&2; die "creating the service principals failed"; }
  say "service principals and ACLs in place"
}

# The schema, as the owner role (services may not run DDL); grants the service roles.
migrate_db() {
  with_env operator py -m processors --log-level WARNING sink --migrate-only >"$STATE/postgres/migrate.log" 2>&1 \
    || { tail -n 20 "$STATE/postgres/migrate.log" >&2; die "migrating the database as the owner role failed"; }
  say "database migrated (owner role); service roles granted"
}

write_env() {
  # Addresses only: secrets live in $STATE/secrets/env/<consumer>.env (stack/credentials.py).
  (umask 077; rm -f "$STATE/stack.env"; cat >"$STATE/stack.env" <<EOF
# Written by stack/stack.sh: addresses of the running stack (no secrets; see secrets/env/*.env).
export SENSEGATE_MQTT__HOST=127.0.0.1
export SENSEGATE_MQTT__PORT=$MQTT_PORT
export SENSEGATE_KAFKA__BOOTSTRAP_SERVERS=127.0.0.1:$KAFKA_PORT
export SENSEGATE_STATE=$STATE
export SENSEGATE_STACK_KAFKA_SASL_BOOTSTRAP=127.0.0.1:$KAFKA_SASL_PORT
export SENSEGATE_STACK_KAFKA_CONTROLLER=127.0.0.1:$KAFKA_CONTROLLER_PORT
export SENSEGATE_STACK_PG_PORT=$PG_PORT
export SENSEGATE_STACK_MQTT_TLS_PORT=$MQTT_TLS_PORT
export SENSEGATE_STACK_MQTT_MTLS_PORT=$MQTT_MTLS_PORT
export SENSEGATE_STACK_MQTT_CA=$STATE/pki/ca.crt
export SENSEGATE_BROKER__MQTT__PORT=$MQTT_PORT
export SENSEGATE_BROKER__TLS_PORT=$MQTT_TLS_PORT
export SENSEGATE_BROKER__MTLS_PORT=$MQTT_MTLS_PORT
EOF
  # The broker's admin client (mosquitto/broker.env) and the services' MQTT identities
  # (mosquitto/services.env) reach only their consumers' env files (stack/credentials.py).
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
  py -m stack.credentials init "$STATE" || die "generating the stack's secrets failed"
  py -m stack.pki ca "$STATE" >/dev/null || die "creating the project CA failed"
  write_env
  start_mosquitto
  bootstrap_mqtt
  start_postgres
  start_kafka
  py -m stack.credentials env "$STATE" >/dev/null || die "writing the consumers' env files failed"
  fetch_mirror
  bootstrap_kafka
  migrate_db
  say "stack up; addresses in $STATE/stack.env, credentials per consumer in $STATE/secrets/env/"
}

case "${1:-}" in
  up) cmd_up ;;
  status) cmd_status ;;
  down) cmd_down ;;
  env) write_env; py -m stack.credentials env "$STATE" >/dev/null; cat "$STATE/stack.env" ;;
  *) echo "usage: $0 up|status|down|env" >&2; exit 2 ;;
esac
