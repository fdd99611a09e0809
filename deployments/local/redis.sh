#!/usr/bin/env bash
# Real Redis (Debian's redis-server) on loopback, for tests and CI.
# No persistence: every start is an empty, in-memory server.
#
#   redis.sh start      start (or report the running one), print the URL
#   redis.sh stop       stop it (SHUTDOWN NOSAVE / SIGTERM, SIGKILL after a timeout)
#   redis.sh restart    stop, then start again on the same port (data is lost)
#   redis.sh status     exit 0 if running, 3 if not
#   redis.sh url        print the URL only
#
# Environment:
#   HOOKLINE_LOCAL_DIR  state dir (pid file, log); default ~/.cache/hookline-local
#   REDIS_PORT / PORT   port; default 16390
#   REDIS_START_TIMEOUT seconds to wait for PING; default 30
#   REDIS_STOP_TIMEOUT  seconds to wait for exit before SIGKILL; default 10
#   REDIS_ARGS          extra redis-server arguments (e.g. "--maxmemory 64mb")
#
# redis-server/redis-cli are installed with apt-get when missing (root or sudo).
set -euo pipefail

STATE_DIR="${HOOKLINE_LOCAL_DIR:-$HOME/.cache/hookline-local}"
REDIS_PORT="${REDIS_PORT:-${PORT:-16390}}"
REDIS_DIR="$STATE_DIR/redis-$REDIS_PORT"
PIDFILE="$REDIS_DIR/redis.pid"
LOGFILE="$REDIS_DIR/redis.log"
START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
STOP_TIMEOUT="${REDIS_STOP_TIMEOUT:-10}"

log() { echo "redis: $*" >&2; }
die() { echo "redis: $*" >&2; exit 1; }

url() { echo "redis://127.0.0.1:$REDIS_PORT/0"; }

ensure_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return 0
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "need root (or sudo) to apt-get install redis-server"
    sudo="sudo"
  fi
  command -v apt-get >/dev/null 2>&1 || die "redis-server not found and apt-get is missing; install Redis by hand"
  log "installing redis-server with apt-get"
  # The package must not start a system-wide Redis on 6379: where no
  # policy-rc.d exists (containers usually have one), add one for the install.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
    $sudo chmod 755 "$policy"
    added_policy=1
  fi
  local rc=0 aptlog
  aptlog="$(mktemp)"
  {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      redis-server redis-tools
  } >"$aptlog" 2>&1 || rc=$?
  if [ "$added_policy" = 1 ]; then
    $sudo rm -f "$policy"
  fi
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$aptlog" >&2
    rm -f "$aptlog"
    die "apt-get install redis-server failed"
  fi
  rm -f "$aptlog"
  command -v redis-server >/dev/null 2>&1 || die "redis-server still not on PATH after install"
}

cli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

# Prints the pid if our redis-server on REDIS_PORT is running.
redis_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null || true)"
  [ -n "$pid" ] && alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "redis-server.*:$REDIS_PORT" || return 1
  echo "$pid"
}

redis_version() {
  cli INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^redis_version://p'
}

# alive PID: the process exists and is not a zombie (an exited daemon stays a
# zombie until init reaps it, which can take a while in some containers).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true)"
  [ "$state" != "Z" ] && [ "$state" != "X" ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

do_start() {
  local pid deadline
  if pid="$(redis_pid)"; then
    echo "redis: already running Redis $(redis_version) at $(url) (pid $pid)"
    return 0
  fi
  ensure_redis
  if port_open "$REDIS_PORT"; then
    die "port $REDIS_PORT is already in use by another process (set REDIS_PORT)"
  fi
  mkdir -p "$REDIS_DIR"
  rm -f "$PIDFILE"
  [ -f "$LOGFILE" ] && mv -f "$LOGFILE" "$LOGFILE.1"
  # shellcheck disable=SC2086
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" \
    --save '' --appendonly no \
    --daemonize yes --pidfile "$PIDFILE" --logfile "$LOGFILE" \
    --dir "$REDIS_DIR" ${REDIS_ARGS:-} 8>&- 9>&- </dev/null >/dev/null
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  until [ "$(cli PING 2>/dev/null || true)" = "PONG" ]; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      tail -n 30 "$LOGFILE" >&2 2>/dev/null || true
      die "redis-server did not answer PING on port $REDIS_PORT within ${START_TIMEOUT}s"
    fi
    sleep 0.1
  done
  # The pid file is written right after daemonizing; wait for it too.
  until pid="$(redis_pid)"; do
    [ "$(date +%s)" -lt "$deadline" ] || die "redis-server answers but wrote no pid file ($PIDFILE)"
    sleep 0.1
  done
  echo "redis: started Redis $(redis_version) at $(url) (pid $pid)"
}

do_stop() {
  local pid deadline
  if ! pid="$(redis_pid)"; then
    rm -f "$PIDFILE"
    echo "redis: not running at $(url)"
    return 0
  fi
  cli SHUTDOWN NOSAVE >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while alive "$pid"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "graceful stop timed out after ${STOP_TIMEOUT}s; sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      break
    fi
    sleep 0.1
  done
  rm -f "$PIDFILE"
  echo "redis: stopped $(url)"
}

do_status() {
  local pid
  if pid="$(redis_pid)"; then
    echo "redis: running Redis $(redis_version) at $(url) (pid $pid)"
  else
    echo "redis: not running at $(url)"
    return 3
  fi
}

with_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.redis-$REDIS_PORT.lock"
  flock -w 120 9 || die "timed out waiting for lock on port $REDIS_PORT"
  "$@"
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

case "${1:-}" in
  start) with_lock do_start ;;
  stop) with_lock do_stop ;;
  restart) with_lock do_stop; do_start ;;
  status) do_status ;;
  url) url ;;
  -h|--help|help|'') usage ;;
  *) usage >&2; exit 2 ;;
esac
