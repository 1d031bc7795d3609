#!/usr/bin/env bash
# A local Apache Kafka cluster of several KRaft nodes (each broker and controller, one static quorum of all
# of them), from the same jars as scripts/kafka.sh, which runs every node. For trying replication and
# broker failures on one machine; the tests start one of their own (tests/cluster.py).
#
# Usage: scripts/kafka-cluster.sh {up|down|status|bootstrap|stop-node N|kill-node N|start-node N|reset}
#   up           start every node (formatting new ones) and wait until each answers
#   down         stop every node
#   status       one line per node (exit 0 if all run, 3 if not)
#   bootstrap    print the bootstrap list, e.g. 127.0.0.1:9192,127.0.0.1:9194,127.0.0.1:9196
#   stop-node N  stop node N (1-based) cleanly, as an operator would
#   kill-node N  SIGKILL node N (a crashed broker)
#   start-node N start node N again and wait until it answers
#   reset        down + delete every node's data
#
# Environment:
#   KAFKA_CLUSTER_HOME   state dir: node-N/ (data, config, log, pid) and cluster.id
#                        (default <repo>/.kafka-cluster; a relative path is taken from the repo root)
#   KAFKA_CLUSTER_PORT   first port (default 9192): node N listens on PORT+2(N-1), its controller on the next one
#   KAFKA_CLUSTER_NODES  number of nodes (default 3)
#   KAFKA_HOME           where scripts/kafka.sh keeps the jars the nodes share (default <repo>/.kafka)
#   KAFKA_HEAP_OPTS      heap of each node (default -Xmx512m)
#   KAFKA_START_TIMEOUT, KAFKA_STOP_TIMEOUT, JAVA_HOME, MVN: as for scripts/kafka.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
KAFKA_SH="$ROOT/scripts/kafka.sh"

CLUSTER_HOME="${KAFKA_CLUSTER_HOME:-$ROOT/.kafka-cluster}"
mkdir -p "$CLUSTER_HOME"
CLUSTER_HOME="$(cd "$CLUSTER_HOME" && pwd)"
PORT="${KAFKA_CLUSTER_PORT:-9192}"
NODES="${KAFKA_CLUSTER_NODES:-3}"
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "kafka-cluster.sh: error: KAFKA_CLUSTER_PORT must be a number" >&2; exit 1; }
[[ "$NODES" =~ ^[1-9]$ ]] || { echo "kafka-cluster.sh: error: KAFKA_CLUSTER_NODES must be 1 to 9" >&2; exit 1; }
LIB_HOME="${KAFKA_HOME:-$ROOT/.kafka}"
[[ "$LIB_HOME" = /* ]] || LIB_HOME="$ROOT/$LIB_HOME"
export KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xmx512m}"

log() { echo "kafka-cluster.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

broker_port() { echo $((PORT + 2 * ($1 - 1))); }
controller_port() { echo $((PORT + 2 * ($1 - 1) + 1)); }

voters() {
  local n out=""
  for ((n = 1; n <= NODES; n++)); do out+="${out:+,}$n@127.0.0.1:$(controller_port "$n")"; done
  echo "$out"
}

bootstrap() {
  local n out=""
  for ((n = 1; n <= NODES; n++)); do out+="${out:+,}127.0.0.1:$(broker_port "$n")"; done
  echo "$out"
}

cluster_id() {  # made once per KAFKA_CLUSTER_HOME (scripts/kafka.sh cluster-id)
  local file="$CLUSTER_HOME/cluster.id"
  if [[ ! -s "$file" ]]; then
    bash "$KAFKA_SH" cluster-id >"$file"
  fi
  cat "$file"
}

node() {  # node N COMMAND: scripts/kafka.sh COMMAND for node N
  local n="$1" id
  shift
  id="$(cluster_id)"
  KAFKA_HOME="$CLUSTER_HOME/node-$n" KAFKA_LIB="$LIB_HOME/lib" KAFKA_NODE_ID="$n" \
    KAFKA_PORT="$(broker_port "$n")" KAFKA_CONTROLLER_PORT="$(controller_port "$n")" \
    KAFKA_VOTERS="$(voters)" KAFKA_CLUSTER_ID="$id" bash "$KAFKA_SH" "$@"
}

check_node() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= NODES)) || die "node must be 1 to $NODES, not '${1:-}'"
}

# Every node, at once (a node answers only when a majority of the quorum runs); fails if one fails.
on_all_nodes() {
  local n pids=() rc=0
  cluster_id >/dev/null   # made here, not by the nodes at once
  for ((n = 1; n <= NODES; n++)); do
    node "$n" "$@" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || rc=1; done
  return $rc
}

cmd_up() {
  KAFKA_HOME="$LIB_HOME" bash "$KAFKA_SH" fetch   # once, before the nodes share the jars
  on_all_nodes up || die "a node did not start (its broker.log is under $CLUSTER_HOME/node-N)"
  log "cluster of $NODES nodes ready on $(bootstrap)"
}

cmd_kill_node() {
  local pidfile="$CLUSTER_HOME/node-$1/broker.pid" pid
  pid="$(tr -dc '0-9' <"$pidfile" 2>/dev/null || true)"
  if [[ -n "$pid" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "kafka.Kafka $CLUSTER_HOME/node-$1/"; then
    kill -KILL "$pid"
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$pidfile"
    log "node $1 killed (pid $pid)"
  else
    log "node $1 not running"
  fi
}

cmd_status() {
  local n rc=0
  for ((n = 1; n <= NODES; n++)); do
    echo -n "node $n: "
    node "$n" status || rc=3
  done
  return $rc
}

case "${1:-}" in
  up | start) cmd_up ;;
  down | stop) on_all_nodes down ;;
  status) cmd_status ;;
  bootstrap) bootstrap ;;
  stop-node) check_node "${2:-}"; node "$2" down ;;
  kill-node) check_node "${2:-}"; cmd_kill_node "$2" ;;
  start-node) check_node "${2:-}"; node "$2" up ;;
  reset) on_all_nodes down; rm -rf "$CLUSTER_HOME"/node-* "$CLUSTER_HOME/cluster.id"; log "deleted the nodes' data" ;;
  -h | --help | help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
