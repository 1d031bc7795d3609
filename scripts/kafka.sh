#!/usr/bin/env bash
# Local single-node Apache Kafka 4.x (KRaft, broker+controller) built from the
# Maven Central jars listed in kafka/pom.xml. No tarball download, no Docker.
# It also runs each node of scripts/kafka-cluster.sh (the variables at the end).
#
# Usage: scripts/kafka.sh {fetch|up|down|restart|status|reset|logs|cluster-id|topics ARGS...}
#   fetch    copy the broker jars into $KAFKA_HOME/lib (once; cached)
#   up       fetch if needed, write config, format storage once, start the
#            broker in the background and wait until it answers metadata
#            requests. Returns 0 at once if it is already running.
#   down     stop the broker (SIGTERM, then SIGKILL after $KAFKA_STOP_TIMEOUT s)
#   restart  down + up
#   status   print whether the broker runs (exit 0 if it runs, 3 if not)
#   reset    down + delete the data directory
#   logs     tail -f the broker log
#   cluster-id  print a new KRaft cluster id (what scripts/kafka-cluster.sh formats its nodes with)
#   topics   run kafka-topics (TopicCommand) against the local broker,
#            e.g. scripts/kafka.sh topics --list
#
# Environment:
#   KAFKA_PORT             PLAINTEXT listener on 127.0.0.1 (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener (default KAFKA_PORT+1, i.e. 9093)
#   KAFKA_HOME             state dir: lib/, data/, config, log, pid
#                          (default <repo>/.kafka; a relative path is taken from the repo root)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker in `up` (default 90)
#   KAFKA_STOP_TIMEOUT     seconds to wait for a clean stop in `down` (default 30)
#   KAFKA_HEAP_OPTS        broker heap options (default -Xmx1G)
#   KAFKA_JVM_OPTS         extra JVM options for the broker (default empty)
#   KAFKA_GROUP_INITIAL_DELAY_MS  group.initial.rebalance.delay.ms (default 0, for fast tests; a
#                          production broker's is 3000, which make bench-scale uses)
#   JAVA_HOME / MVN        which java / mvn to use
#
# One node of a multi-node KRaft cluster (scripts/kafka-cluster.sh sets these):
#   KAFKA_NODE_ID          node.id (default 1)
#   KAFKA_VOTERS           the controller quorum, id@host:port,... (default: this node alone)
#   KAFKA_CLUSTER_ID       the cluster id every node is formatted with (needed with KAFKA_VOTERS)
#   KAFKA_LIB              the jar directory (default $KAFKA_HOME/lib), so that nodes share one copy
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

KAFKA_PORT="${KAFKA_PORT:-9092}"
[[ "$KAFKA_PORT" =~ ^[0-9]+$ ]] || { echo "kafka.sh: error: KAFKA_PORT must be a number" >&2; exit 1; }
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"
KAFKA_HOME="${KAFKA_HOME:-$ROOT/.kafka}"
mkdir -p "$KAFKA_HOME"
KAFKA_HOME="$(cd "$KAFKA_HOME" && pwd)"   # absolute: log.dirs must not depend on cwd
KAFKA_START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
KAFKA_STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx1G}"
KAFKA_JVM_OPTS="${KAFKA_JVM_OPTS:-}"
KAFKA_GROUP_INITIAL_DELAY_MS="${KAFKA_GROUP_INITIAL_DELAY_MS:-0}"
[[ "$KAFKA_GROUP_INITIAL_DELAY_MS" =~ ^[0-9]+$ ]] || { echo "kafka.sh: error: KAFKA_GROUP_INITIAL_DELAY_MS must be a number" >&2; exit 1; }
KAFKA_NODE_ID="${KAFKA_NODE_ID:-1}"
KAFKA_VOTERS="${KAFKA_VOTERS:-}"
KAFKA_CLUSTER_ID="${KAFKA_CLUSTER_ID:-}"

POM="$ROOT/kafka/pom.xml"
LIB="${KAFKA_LIB:-$KAFKA_HOME/lib}"
DATA="$KAFKA_HOME/data"
CONF="$KAFKA_HOME/server.properties"
LOG4J_BROKER="$KAFKA_HOME/log4j2.properties"
LOG4J_TOOLS="$KAFKA_HOME/tools-log4j2.properties"
LOGFILE="$KAFKA_HOME/broker.log"
PIDFILE="$KAFKA_HOME/broker.pid"
HOST=127.0.0.1
BOOTSTRAP="$HOST:$KAFKA_PORT"

if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA=java
fi
MVN="${MVN:-mvn}"

log() { echo "kafka.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

kafka_version() {
  local v
  v="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -n1)"
  [[ -n "$v" ]] || die "cannot read <kafka.version> from $POM"
  echo "$v"
}

require_java() {
  command -v "$JAVA" >/dev/null 2>&1 || die "java not found (Java 17+ is required)"
  local v
  v="$("$JAVA" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1)"
  if [[ -n "$v" && "$v" -lt 17 ]]; then
    die "Java 17+ is required, found Java $v ($JAVA)"
  fi
}

# ---------------------------------------------------------------- fetch

cmd_fetch() {
  local ver jar
  ver="$(kafka_version)"
  jar="$LIB/kafka_2.13-$ver.jar"
  if [[ -f "$jar" ]]; then
    return 0
  fi
  command -v "$MVN" >/dev/null 2>&1 || die "maven ($MVN) not found; it is needed once to fetch the Kafka jars"
  log "fetching Kafka $ver jars from Maven Central into $LIB ..."
  # Copy into a temp dir and move it in place, so that an interrupted fetch
  # never leaves a half-filled lib/ that looks complete.
  local tmp="$KAFKA_HOME/lib.tmp.$$"
  rm -rf "$tmp"
  local mvnlog="$KAFKA_HOME/fetch.log"
  if ! "$MVN" -q -B -Dstyle.color=never -f "$POM" dependency:copy-dependencies \
        -DoutputDirectory="$tmp" >"$mvnlog" 2>&1; then
    cat "$mvnlog" >&2
    rm -rf "$tmp"
    die "mvn dependency:copy-dependencies failed (output above, also in $mvnlog)"
  fi
  rm -f "$mvnlog"
  [[ -f "$tmp/kafka_2.13-$ver.jar" ]] || { rm -rf "$tmp"; die "kafka_2.13-$ver.jar missing after fetch"; }
  rm -rf "$LIB"          # drops jars of another Kafka version, if any
  mv "$tmp" "$LIB"
  log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars"
}

# ---------------------------------------------------------------- config

write_config() {
  mkdir -p "$DATA"
  # Single node: its own quorum (formatted --standalone). Cluster node: the static quorum KAFKA_VOTERS, and
  # the broker's internal topics replicated like the application's (3, or fewer nodes).
  local quorum="controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT" replicas=1 isr=1
  if [[ -n "$KAFKA_VOTERS" ]]; then
    local voters
    voters="$(tr ',' '\n' <<<"$KAFKA_VOTERS" | grep -c .)"
    quorum="controller.quorum.voters=$KAFKA_VOTERS"
    replicas=$((voters < 3 ? voters : 3))
    isr=$((replicas > 1 ? replicas - 1 : 1))
  fi
  cat >"$CONF" <<EOF
# Generated by scripts/kafka.sh -- edits are overwritten on every 'up'.
# KRaft: this process is broker and controller.
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
$quorum
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA

# Topics
num.partitions=4
default.replication.factor=$replicas
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true

# The broker's internal topics
offsets.topic.replication.factor=$replicas
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$isr

# Consumer groups: how long an empty group waits for more members before its first
# assignment (0 by default, for fast tests; Kafka's own default is 3000)
group.initial.rebalance.delay.ms=$KAFKA_GROUP_INITIAL_DELAY_MS

# Accept records of a few MiB (the application enforces its own 1 MiB limit)
message.max.bytes=8388608
replica.fetch.max.bytes=8388608
replica.fetch.response.max.bytes=16777216

# Keep everything; 'scripts/kafka.sh reset' or 'make clean' wipes the data
log.retention.hours=-1
log.retention.check.interval.ms=300000
EOF

  # Broker: everything at INFO to stdout (-> broker.log), noisy loggers quieter.
  cat >"$LOG4J_BROKER" <<'EOF'
status = warn
name = convoflow-kafka-broker
# the console appender flushes every line; no log4j shutdown hook needed
shutdownHook = disable
appender.out.type = Console
appender.out.name = STDOUT
appender.out.target = SYSTEM_OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.cleaner.name = kafka.log.LogCleaner
logger.cleaner.level = WARN
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.common.name = org.apache.kafka.common.config
logger.common.level = WARN
# per-partition chatter (log loading, coordinator loading, partition changes)
logger.storage.name = org.apache.kafka.storage
logger.storage.level = WARN
logger.log.name = kafka.log
logger.log.level = WARN
logger.partition.name = kafka.cluster
logger.partition.level = WARN
logger.coord.name = org.apache.kafka.coordinator
logger.coord.level = WARN
logger.txcoord.name = kafka.coordinator
logger.txcoord.level = WARN
logger.replctl.name = org.apache.kafka.controller.ReplicationControlManager
logger.replctl.level = WARN
logger.partchange.name = org.apache.kafka.controller.PartitionChangeBuilder
logger.partchange.level = WARN
logger.replmgr.name = kafka.server.ReplicaFetcherManager
logger.replmgr.level = WARN
logger.perf.name = org.apache.kafka.controller.EventPerformanceMonitor
logger.perf.level = WARN
logger.periodic.name = org.apache.kafka.controller.PeriodicTaskControlManager
logger.periodic.level = WARN
EOF

  # Command line tools (StorageTool, TopicCommand, console clients): warnings only.
  cat >"$LOG4J_TOOLS" <<'EOF'
status = warn
name = convoflow-kafka-tools
shutdownHook = disable
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# Run a Kafka command line tool class with the fetched jars.
run_tool() {
  "$JAVA" -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_TOOLS" \
    -cp "$LIB/*" "$@"
}

new_cluster_id() {
  # A KRaft cluster id: a base64url encoded (no padding) random 16-byte UUID. As Kafka's own
  # Uuid.randomUuid, never one that starts with "-": the format tool would read it as an option.
  local id
  while :; do
    id="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    if [[ "$id" != -* ]]; then
      echo "$id"
      return 0
    fi
  done
}

format_storage() {
  if [[ -f "$DATA/meta.properties" ]]; then
    return 0
  fi
  if [[ -n "$KAFKA_VOTERS" ]]; then
    [[ -n "$KAFKA_CLUSTER_ID" ]] || die "KAFKA_VOTERS needs KAFKA_CLUSTER_ID (the same for every node)"
    log "formatting $DATA (node $KAFKA_NODE_ID of cluster $KAFKA_CLUSTER_ID)"
    run_tool kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c "$CONF" >/dev/null \
      || die "kafka.tools.StorageTool format failed"
    return 0
  fi
  local cluster_id
  cluster_id="$(new_cluster_id)"
  log "formatting $DATA (cluster id $cluster_id)"
  run_tool kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONF" >/dev/null \
    || die "kafka.tools.StorageTool format failed"
}

# ---------------------------------------------------------------- process helpers

port_open() {  # port_open PORT -> 0 if something accepts TCP connections on it
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

is_our_broker() {  # is_our_broker PID -> 0 if PID is a broker using our config
  local pid="$1"
  [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  if [[ -r "/proc/$pid/cmdline" ]]; then
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "kafka.Kafka $CONF"
  else
    return 0   # no /proc (unusual): trust the pid file
  fi
}

broker_pid() {  # prints the pid of our running broker, or nothing
  local pid=""
  if [[ -f "$PIDFILE" ]]; then
    pid="$(tr -dc '0-9' <"$PIDFILE")"
    if is_our_broker "$pid"; then
      echo "$pid"
      return 0
    fi
    rm -f "$PIDFILE"   # stale
  fi
  # pid file lost but our broker (exact config path) still running?
  if command -v pgrep >/dev/null 2>&1; then
    for pid in $(pgrep -f -- "kafka.Kafka $CONF" || true); do
      if is_our_broker "$pid"; then
        echo "$pid" >"$PIDFILE"
        echo "$pid"
        return 0
      fi
    done
  fi
  return 0
}

broker_answers() {  # metadata round trip through the Admin client (max 30 s)
  local limit=()
  if command -v timeout >/dev/null 2>&1; then limit=(timeout 30); fi
  "${limit[@]}" "$JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_TOOLS" -cp "$LIB/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" --list >/dev/null 2>&1
}

wait_ready() {  # wait_ready PID
  local pid="$1" deadline=$((SECONDS + KAFKA_START_TIMEOUT))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "error: broker process $pid exited during startup; last lines of $LOGFILE:"
      tail -n 40 "$LOGFILE" >&2 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    if port_open "$KAFKA_PORT" && broker_answers; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      log "error: broker did not answer on $BOOTSTRAP within ${KAFKA_START_TIMEOUT}s; last lines of $LOGFILE:"
      tail -n 40 "$LOGFILE" >&2 || true
      log "the broker (pid $pid) is left running; stop it with: scripts/kafka.sh down"
      exit 1
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- commands

cmd_up() {
  local pid start=$SECONDS
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    if ! grep -q "^listeners=PLAINTEXT://$HOST:$KAFKA_PORT," "$CONF" 2>/dev/null; then
      die "the broker of $KAFKA_HOME already runs (pid $pid) with other ports ($(grep '^listeners=' "$CONF" 2>/dev/null || echo '?')); run 'scripts/kafka.sh down' first"
    fi
    if port_open "$KAFKA_PORT"; then
      log "broker already running (pid $pid) on $BOOTSTRAP"
      return 0
    fi
    log "broker process $pid exists but $BOOTSTRAP does not answer yet; waiting"
    wait_ready "$pid"
    log "broker ready on $BOOTSTRAP (pid $pid)"
    return 0
  fi

  require_java
  cmd_fetch

  local p
  for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
    if port_open "$p"; then
      die "port $p on $HOST is already in use by another process (set KAFKA_PORT / KAFKA_CONTROLLER_PORT)"
    fi
  done

  write_config
  format_storage

  log "starting Kafka $(kafka_version) on $BOOTSTRAP (log: $LOGFILE)"
  local launcher=()
  # Own session: Ctrl-C in the calling terminal does not kill the broker
  # uncleanly; 'down' stops it.
  if command -v setsid >/dev/null 2>&1; then launcher=(setsid); fi
  # shellcheck disable=SC2086  # heap/JVM options are intentionally word-split
  "${launcher[@]}" nohup "$JAVA" $KAFKA_HEAP_OPTS \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$LOG4J_BROKER" \
    $KAFKA_JVM_OPTS \
    -cp "$LIB/*" kafka.Kafka "$CONF" \
    </dev/null >"$LOGFILE" 2>&1 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"

  wait_ready "$pid"
  log "broker ready on $BOOTSTRAP (pid $pid, $((SECONDS - start))s)"
}

cmd_down() {
  local pid
  pid="$(broker_pid)"
  if [[ -z "$pid" ]]; then
    rm -f "$PIDFILE"
    log "broker not running"
    return 0
  fi
  log "stopping broker (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + KAFKA_STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      log "broker did not stop within ${KAFKA_STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
      break
    fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  log "broker stopped"
}

cmd_status() {
  local pid
  pid="$(broker_pid)"
  if [[ -n "$pid" ]]; then
    if port_open "$KAFKA_PORT"; then
      echo "kafka: running (pid $pid) on $BOOTSTRAP"
    else
      echo "kafka: process running (pid $pid) but $BOOTSTRAP does not answer (starting or stopping?)"
    fi
    return 0
  fi
  echo "kafka: not running"
  return 3
}

cmd_reset() {
  cmd_down
  rm -rf "$DATA"
  log "deleted $DATA"
}

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

# Serialise fetch/up/down/reset of the same KAFKA_HOME (e.g. two `make` runs).
take_lock() {
  command -v flock >/dev/null 2>&1 || return 0
  exec 9>"$KAFKA_HOME/.lock"
  if ! flock -w 180 9; then
    die "timed out waiting for $KAFKA_HOME/.lock (another scripts/kafka.sh is running)"
  fi
}

case "${1:-}" in
  fetch | up | start | down | stop | restart | reset) take_lock ;;
esac

case "${1:-}" in
  fetch) cmd_fetch ;;
  up | start) cmd_up ;;
  down | stop) cmd_down ;;
  restart) cmd_down; cmd_up ;;
  status) cmd_status ;;
  cluster-id) new_cluster_id ;;
  reset) cmd_reset ;;
  logs) exec tail -n 100 -f "$LOGFILE" ;;
  topics) shift; require_java; cmd_fetch; [[ -f "$LOG4J_TOOLS" ]] || write_config
          run_tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$BOOTSTRAP" "$@" ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
