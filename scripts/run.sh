#!/usr/bin/env bash
# `make run`: the local broker, one worker, a live simulated contact centre, and this week's exports.
# The feed (`convoflow simulate --live`) first publishes the last 7 days (timestamps relative to now),
# then keeps publishing each event when its time comes, so the dashboard moves while you watch.
# `scripts/run.sh stop` (or Ctrl-C) stops the feed and the worker; `make stop` also stops the broker.
# Running it again continues from the stored state (data/ and the broker's topics): the feed's days
# are deterministic, so sending the backfill again changes nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
BIN="$ROOT/.venv/bin"
export CONVOFLOW_BROKER="${CONVOFLOW_BROKER:-kafka://127.0.0.1:${KAFKA_PORT:-9092}}"
export CONVOFLOW_DATA_DIR="${CONVOFLOW_DATA_DIR:-$ROOT/data}"
export CONVOFLOW_EXPORT_DIR="${CONVOFLOW_EXPORT_DIR:-$ROOT/exports}"
export CONVOFLOW_WEB_PORT="${CONVOFLOW_WEB_PORT:-6066}"
RATE="${CONVOFLOW_LIVE_RATE:-120}"     # new conversations per hour
ZONE=Europe/Amsterdam
PIDFILE="$CONVOFLOW_DATA_DIR/worker.pid"
LOG="$CONVOFLOW_DATA_DIR/worker.log"
FEED_PIDFILE="$CONVOFLOW_DATA_DIR/live.pid"
FEED_LOG="$CONVOFLOW_DATA_DIR/live.log"
WEB="http://127.0.0.1:$CONVOFLOW_WEB_PORT"

running() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop_pid() {  # pidfile, name
  if running "$1"; then
    echo "run.sh: stopping the $2 (pid $(cat "$1"))"
    kill -TERM "$(cat "$1")" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$(cat "$1")" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$(cat "$1")" 2>/dev/null || true
  fi
  rm -f "$1"
}

stop_all() {
  stop_pid "$FEED_PIDFILE" "live feed"
  stop_pid "$PIDFILE" worker
}

if [ "${1:-}" = "stop" ]; then
  stop_all
  exit 0
fi

mkdir -p "$CONVOFLOW_DATA_DIR" "$CONVOFLOW_EXPORT_DIR"
bash scripts/kafka.sh up

if running "$PIDFILE"; then
  echo "run.sh: a worker already runs (pid $(cat "$PIDFILE"))"
else
  "$BIN/convoflow" worker >>"$LOG" 2>&1 &
  echo $! >"$PIDFILE"
  echo "run.sh: worker started (pid $!, log $LOG)"
fi
trap 'echo; stop_all; bash scripts/kafka.sh down; exit 0' INT TERM

for _ in $(seq 1 120); do
  curl -fs "$WEB/health" >/dev/null 2>&1 && break
  running "$PIDFILE" || { echo "run.sh: the worker died:"; tail -30 "$LOG"; exit 1; }
  sleep 0.5
done

# The live feed: the last 7 days at once, then in real time until stopped.
if running "$FEED_PIDFILE"; then
  echo "run.sh: the live feed already runs (pid $(cat "$FEED_PIDFILE"))"
else
  touch "$FEED_LOG"
  seen=$(wc -l <"$FEED_LOG")
  "$BIN/convoflow" simulate --live --backfill 7 --rate "$RATE" --agents 25 --seed 7 >>"$FEED_LOG" 2>&1 &
  echo $! >"$FEED_PIDFILE"
  echo "run.sh: live feed started (pid $!, $RATE conversations per hour, log $FEED_LOG); publishing the last 7 days ..."
  until grep -q "^live: backfill published" <(tail -n +"$((seen + 1))" "$FEED_LOG"); do
    running "$FEED_PIDFILE" || { echo "run.sh: the live feed stopped:"; tail -20 "$FEED_LOG"; stop_all; exit 1; }
    sleep 0.5
  done
  tail -n +"$((seen + 1))" "$FEED_LOG" | grep "^live: backfill published" | sed 's/^/run.sh: /'
fi

FROM=$(TZ=$ZONE date -d '6 days ago' +%F)
TO=$(TZ=$ZONE date +%F)
cat <<MSG

convoflow is running.
  dashboard:     $WEB/dashboard?tz=$ZONE
  export page:   $WEB/exports
  metrics:       $WEB/metrics     health: $WEB/health
  live lookups:  $WEB/agents/a-1/metrics?tz=$ZONE&from=$FROM&to=$TO
                 $WEB/teams/t-1/metrics?tz=$ZONE&from=$FROM&to=$TO
                 $WEB/agents/a-1/presence   $WEB/contacts/ct-00001
  more exports:  .venv/bin/convoflow export --type messages --tz UTC --from $TO --to $TO --out /tmp/m.csv
  this week's CSV exports ($FROM to $TO, $ZONE) are being written to $CONVOFLOW_EXPORT_DIR/ ...
Ctrl-C (or 'make stop' in another terminal) stops everything.

MSG

for type in conversations_resolved conversations_open messages agent_responses teams contacts topics tags \
            agent_presence agent_metrics virtual_agents contact_attributes; do
  "$BIN/convoflow" export --type "$type" --tz "$ZONE" --from "$FROM" --to "$TO" \
    --request-id "demo-$type-$(date +%s)" --out "$CONVOFLOW_EXPORT_DIR/$type.csv" --web-url "$WEB" \
    2>>"$CONVOFLOW_DATA_DIR/exports.log" | sed "s/^/run.sh: $type: /" \
    || echo "run.sh: $type: export failed (see $CONVOFLOW_DATA_DIR/exports.log)"
done
echo "run.sh: this week's exports are in $CONVOFLOW_EXPORT_DIR/ (the dashboard keeps moving: $WEB/dashboard?tz=$ZONE)"

warned=
while running "$PIDFILE"; do
  if [ -z "$warned" ] && ! running "$FEED_PIDFILE"; then
    echo "run.sh: the live feed stopped:"; tail -5 "$FEED_LOG"; warned=1
  fi
  sleep 1
done
echo "run.sh: the worker stopped"
rm -f "$PIDFILE"
stop_pid "$FEED_PIDFILE" "live feed"
