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
#   redis.sh cluster-start    3 masters + 3 replicas with --cluster-enabled, slots
#                             assigned by redis-cli --cluster create; print the URL
#   redis.sh cluster-stop     stop all six (their state is dropped: the next start
#                             makes a new, empty cluster)
#   redis.sh cluster-status   exit 0 if all six run and cluster_state is ok, 3 if not
#   redis.sh cluster-url      print redis+cluster://127.0.0.1:16400,...
#   redis.sh sentinel-start   a master, its replica and three sentinels watching it
#                             as "mymaster" (quorum 2); print the URL
#   redis.sh sentinel-stop    stop all five (state dropped, as for the cluster)
#   redis.sh sentinel-status  exit 0 if all five run, 3 if not
#   redis.sh sentinel-url     print redis+sentinel://127.0.0.1:16420,.../mymaster/0
#
# Environment:
#   HOOKLINE_LOCAL_DIR  state dir (pid file, log); default ~/.cache/hookline-local
#   REDIS_PORT / PORT   port; default 16390
#   REDIS_START_TIMEOUT seconds to wait for PING; default 30
#   REDIS_STOP_TIMEOUT  seconds to wait for exit before SIGKILL; default 10
#   REDIS_ARGS          extra redis-server arguments (e.g. "--maxmemory 64mb")
#   REDIS_CLUSTER_PORT  first cluster port (masters +0..+2, replicas +3..+5); default 16400
#   REDIS_SENTINEL_PORT master's port (replica +1, sentinels +10..+12); default 16410
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
  exec 9>"$STATE_DIR/.redis-${LOCK_NAME:-$REDIS_PORT}.lock"
  flock -w 120 9 || die "timed out waiting for lock on port $REDIS_PORT"
  "$@"
}

# ------------------------------------------------------------ cluster, sentinel

CLUSTER_PORT="${REDIS_CLUSTER_PORT:-16400}"
SENTINEL_PORT="${REDIS_SENTINEL_PORT:-16410}"
CLUSTER_DIR="$STATE_DIR/redis-cluster-$CLUSTER_PORT"
SENTINEL_DIR="$STATE_DIR/redis-sentinel-$SENTINEL_PORT"
MASTER_NAME=mymaster

cluster_ports() { local i; for i in 0 1 2 3 4 5; do echo $(( CLUSTER_PORT + i )); done; }
sentinel_ports() { echo "$SENTINEL_PORT" $(( SENTINEL_PORT + 1 )); }
sentinels() { local i; for i in 10 11 12; do echo $(( SENTINEL_PORT + i )); done; }

cluster_url() {
  echo "redis+cluster://127.0.0.1:$CLUSTER_PORT,127.0.0.1:$(( CLUSTER_PORT + 1 )),127.0.0.1:$(( CLUSTER_PORT + 2 ))"
}
sentinel_url() {
  local s; s="$(sentinels | sed 's/^/127.0.0.1:/' | paste -sd, -)"
  echo "redis+sentinel://$s/$MASTER_NAME/0"
}

# node_pid DIR PORT: the pid of our server on PORT in DIR, if running.
node_pid() {
  local pid f="$1/$2/redis.pid"
  [ -f "$f" ] || return 1
  pid="$(cat "$f" 2>/dev/null || true)"
  [ -n "$pid" ] && alive "$pid" || return 1
  echo "$pid"
}

# node_start DIR PORT ARGS...: one daemonized server (or sentinel, with
# --sentinel among ARGS) in DIR/PORT, on an empty state.
node_start() {
  local dir="$1/$2" port="$2"; shift 2
  if port_open "$port"; then
    die "port $port is already in use by another process"
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  local conf="$dir/redis.conf"
  : >"$conf"
  # shellcheck disable=SC2086
  redis-server "$conf" --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" \
    "$@" 8>&- 9>&- </dev/null >/dev/null
}

node_wait() {
  local port="$1" deadline=$(( $(date +%s) + START_TIMEOUT ))
  until [ "$(redis-cli -p "$port" PING 2>/dev/null || true)" = "PONG" ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "port $port did not answer PING within ${START_TIMEOUT}s"
    sleep 0.1
  done
}

node_stop() {
  local dir="$1" port="$2" pid deadline
  pid="$(node_pid "$dir" "$port")" || return 0
  redis-cli -p "$port" SHUTDOWN NOSAVE >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while alive "$pid"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.1
  done
}

cluster_ok() {
  local p
  for p in $(cluster_ports); do
    node_pid "$CLUSTER_DIR" "$p" >/dev/null || return 1
    redis-cli -p "$p" CLUSTER INFO 2>/dev/null | tr -d '\r' | grep -q '^cluster_state:ok$' || return 1
  done
}

do_cluster_start() {
  local p deadline nodes=()
  if cluster_ok; then
    echo "redis: cluster already running at $(cluster_url)"
    return 0
  fi
  ensure_redis
  do_cluster_stop >/dev/null
  for p in $(cluster_ports); do
    # node timeout 2 s: a failover test's replica takes over within seconds.
    node_start "$CLUSTER_DIR" "$p" --cluster-enabled yes --cluster-config-file nodes.conf \
      --cluster-node-timeout 2000 ${REDIS_ARGS:-}
    nodes+=("127.0.0.1:$p")
  done
  for p in $(cluster_ports); do node_wait "$p"; done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$CLUSTER_DIR/create.log" 2>&1 ||
    { cat "$CLUSTER_DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  until cluster_ok && [ "$(redis-cli -p "$CLUSTER_PORT" CLUSTER INFO | tr -d '\r' | sed -n 's/^cluster_known_nodes://p')" = 6 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || die "cluster not ok within ${START_TIMEOUT}s"
    sleep 0.2
  done
  # Every replica in sync, so that a failover test starts from a whole copy.
  for p in $(cluster_ports | tail -n 3); do
    until redis-cli -p "$p" INFO replication | tr -d '\r' | grep -q '^master_link_status:up$'; do
      [ "$(date +%s)" -lt "$deadline" ] || die "replica $p not in sync within ${START_TIMEOUT}s"
      sleep 0.2
    done
  done
  echo "redis: started cluster (3 masters, 3 replicas, Redis $(redis-cli -p "$CLUSTER_PORT" INFO server | tr -d '\r' | sed -n 's/^redis_version://p')) at $(cluster_url)"
}

do_cluster_stop() {
  local p
  for p in $(cluster_ports); do node_stop "$CLUSTER_DIR" "$p"; done
  echo "redis: stopped cluster $(cluster_url)"
}

do_cluster_status() {
  if cluster_ok; then echo "redis: cluster running at $(cluster_url)"; else echo "redis: cluster not running"; return 3; fi
}

sentinel_ok() {
  local p
  for p in $(sentinel_ports) $(sentinels); do node_pid "$SENTINEL_DIR" "$p" >/dev/null || return 1; done
}

do_sentinel_start() {
  local p s deadline
  if sentinel_ok; then
    echo "redis: sentinel setup already running at $(sentinel_url)"
    return 0
  fi
  ensure_redis
  do_sentinel_stop >/dev/null
  node_start "$SENTINEL_DIR" "$SENTINEL_PORT" ${REDIS_ARGS:-}
  node_start "$SENTINEL_DIR" $(( SENTINEL_PORT + 1 )) --replicaof 127.0.0.1 "$SENTINEL_PORT" ${REDIS_ARGS:-}
  node_wait "$SENTINEL_PORT"; node_wait $(( SENTINEL_PORT + 1 ))
  for s in $(sentinels); do
    # A sentinel rewrites its config file: each has its own, written here.
    printf 'sentinel monitor %s 127.0.0.1 %s 2\nsentinel down-after-milliseconds %s 2000\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n' \
      "$MASTER_NAME" "$SENTINEL_PORT" "$MASTER_NAME" "$MASTER_NAME" "$MASTER_NAME" >"$SENTINEL_DIR/sentinel-$s.conf"
    mkdir -p "$SENTINEL_DIR/$s"
    redis-server "$SENTINEL_DIR/sentinel-$s.conf" --sentinel --bind 127.0.0.1 --port "$s" \
      --daemonize yes --pidfile "$SENTINEL_DIR/$s/redis.pid" --logfile "$SENTINEL_DIR/$s/redis.log" \
      --dir "$SENTINEL_DIR/$s" 8>&- 9>&- </dev/null >/dev/null
  done
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  for s in $(sentinels); do
    node_wait "$s"
    # Each sentinel must know the replica and the other two before a
    # failover can be asked of it.
    until [ "$(redis-cli -p "$s" SENTINEL MASTER "$MASTER_NAME" 2>/dev/null | tr -d '\r' | sed -n '/^num-other-sentinels$/{n;p}')" = 2 ] &&
        [ "$(redis-cli -p "$s" SENTINEL MASTER "$MASTER_NAME" 2>/dev/null | tr -d '\r' | sed -n '/^num-slaves$/{n;p}')" = 1 ]; do
      [ "$(date +%s)" -lt "$deadline" ] || die "sentinel $s does not see the replica and the other sentinels within ${START_TIMEOUT}s"
      sleep 0.2
    done
  done
  until redis-cli -p $(( SENTINEL_PORT + 1 )) INFO replication | tr -d '\r' | grep -q '^master_link_status:up$'; do
    [ "$(date +%s)" -lt "$deadline" ] || die "replica not in sync within ${START_TIMEOUT}s"
    sleep 0.2
  done
  echo "redis: started master 127.0.0.1:$SENTINEL_PORT, replica :$(( SENTINEL_PORT + 1 )), sentinels :$(sentinels | paste -sd, -) at $(sentinel_url)"
}

do_sentinel_stop() {
  local p
  for p in $(sentinels) $(sentinel_ports); do node_stop "$SENTINEL_DIR" "$p"; done
  echo "redis: stopped sentinel setup $(sentinel_url)"
}

do_sentinel_status() {
  if sentinel_ok; then echo "redis: sentinel setup running at $(sentinel_url)"; else echo "redis: sentinel setup not running"; return 3; fi
}

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

case "${1:-}" in
  start) with_lock do_start ;;
  stop) with_lock do_stop ;;
  restart) with_lock do_stop; do_start ;;
  status) do_status ;;
  url) url ;;
  cluster-start) LOCK_NAME=cluster with_lock do_cluster_start ;;
  cluster-stop) LOCK_NAME=cluster with_lock do_cluster_stop ;;
  cluster-status) do_cluster_status ;;
  cluster-url) cluster_url ;;
  sentinel-start) LOCK_NAME=sentinel with_lock do_sentinel_start ;;
  sentinel-stop) LOCK_NAME=sentinel with_lock do_sentinel_stop ;;
  sentinel-status) do_sentinel_status ;;
  sentinel-url) sentinel_url ;;
  -h|--help|help|'') usage ;;
  *) usage >&2; exit 2 ;;
esac
