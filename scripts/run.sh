#!/usr/bin/env bash
# `make run`: the local broker, one worker, a simulated contact centre, and its exports.
# `scripts/run.sh stop` (or Ctrl-C) stops the worker; `make stop` also stops the broker.
# Running it again continues from the stored state (data/ and the broker's topics).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
export CONVOFLOW_BROKER="${CONVOFLOW_BROKER:-kafka://127.0.0.1:${KAFKA_PORT:-9092}}"
export CONVOFLOW_DATA_DIR="${CONVOFLOW_DATA_DIR:-$ROOT/data}"
export CONVOFLOW_EXPORT_DIR="${CONVOFLOW_EXPORT_DIR:-$ROOT/exports}"
export CONVOFLOW_WEB_PORT="${CONVOFLOW_WEB_PORT:-6066}"
PIDFILE="$CONVOFLOW_DATA_DIR/worker.pid"
LOG="$CONVOFLOW_DATA_DIR/worker.log"
WEB="http://127.0.0.1:$CONVOFLOW_WEB_PORT"

stop_worker() {
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "run.sh: stopping the worker (pid $(cat "$PIDFILE"))"
    kill -TERM "$(cat "$PIDFILE")" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$(cat "$PIDFILE")" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
}

if [ "${1:-}" = "stop" ]; then
  stop_worker
  exit 0
fi

mkdir -p "$CONVOFLOW_DATA_DIR" "$CONVOFLOW_EXPORT_DIR"
bash scripts/kafka.sh up

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "run.sh: a worker already runs (pid $(cat "$PIDFILE"))"
else
  "$BIN/convoflow" worker >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  echo "run.sh: worker started (pid $!, log $LOG)"
fi
trap 'echo; stop_worker; bash scripts/kafka.sh down; exit 0' INT TERM

for _ in $(seq 1 120); do
  curl -fs "$WEB/health" >/dev/null 2>&1 && break
  kill -0 "$(cat "$PIDFILE")" 2>/dev/null || { echo "run.sh: the worker died:"; tail -30 "$LOG"; exit 1; }
  sleep 0.5
done

SIM="$CONVOFLOW_DATA_DIR/simulated.jsonl"
if [ ! -f "$SIM" ]; then
  "$BIN/convoflow" simulate --seed 7 --agents 25 --conversations 2000 --days 7 --start 2024-07-15T00:00:00Z \
    --duplicates 0.02 --disorder 50 --out "$SIM"
fi
# Publishing the same events again is harmless: every fact is stored under a stable id.
"$BIN/convoflow" publish "$SIM"

for type in conversations_resolved conversations_open messages agent_responses teams contacts topics tags \
            agent_presence agent_metrics virtual_agents contact_attributes; do
  "$BIN/convoflow" export --type "$type" --tz Europe/Amsterdam --from 2024-07-15 --to 2024-07-21 \
    --request-id "demo-$type-$(date +%s)" --out "$CONVOFLOW_EXPORT_DIR/$type.csv" --web-url "$WEB" || true
done

cat <<MSG

convoflow is running.
  CSV exports:   $CONVOFLOW_EXPORT_DIR/*.csv
  download:      $WEB/exports/<request_id>.csv
  health:        $WEB/health
  live lookups:  $WEB/agents/a-1/metrics?tz=Europe/Amsterdam&from=2024-07-15&to=2024-07-21
                 $WEB/teams/t-1/metrics?tz=UTC&from=2024-07-15&to=2024-07-21
                 $WEB/agents/a-1/presence   $WEB/conversations/c-000001   $WEB/contacts/ct-00001
  more exports:  .venv/bin/convoflow export --type messages --tz UTC --from 2024-07-15 --to 2024-07-21 --out /tmp/m.csv
Ctrl-C (or 'make stop' in another terminal) stops everything.
MSG
while kill -0 "$(cat "$PIDFILE" 2>/dev/null || echo 0)" 2>/dev/null; do sleep 1; done
echo "run.sh: the worker stopped"
