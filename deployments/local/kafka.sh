#!/usr/bin/env bash
# Real Apache Kafka (KRaft, no ZooKeeper) on loopback, for tests and CI.
# The broker jars come from Maven Central (kafka-pom.xml) and are cached in the
# state dir, so only the first start runs Maven.
#
# Single node (combined broker + controller):
#   kafka.sh start            start (or report the running one), print the address
#   kafka.sh stop             stop it (SIGTERM, SIGKILL after KAFKA_STOP_TIMEOUT)
#   kafka.sh status           exit 0 if running, 3 if not
#   kafka.sh bootstrap        print the bootstrap address only
#   kafka.sh secure-env       print the secure listeners' test variables as
#                             exports (HOOKLINE_TEST_KAFKA_SASL_SSL, _MTLS, ...)
#                             for eval; see kafka-secure.sh
#
# Three-node cluster (each node a combined broker + controller, static voters):
#   kafka.sh cluster-start    (same as: kafka.sh start --brokers 3)
#   kafka.sh cluster-stop     (same as: kafka.sh stop --brokers 3)
#   kafka.sh cluster-status
#   kafka.sh cluster-bootstrap
#   kafka.sh kill-broker N    SIGKILL broker N (1-3), wait until it is gone
#   kafka.sh stop-broker N    stop broker N gracefully
#   kafka.sh start-broker N   (re)start broker N, wait until the cluster has it again
#
# Other:
#   kafka.sh fetch            only download the jars into the cache
#   kafka.sh clean            stop both setups and delete their data (keeps jars)
#   kafka.sh tool CLASS ARGS  run a Kafka CLI class, e.g.
#                             kafka.sh tool org.apache.kafka.tools.TopicCommand \
#                               --bootstrap-server 127.0.0.1:19092 --list
#
# Environment:
#   HOOKLINE_LOCAL_DIR    state dir (jars, data, logs); default ~/.cache/hookline-local
#   KAFKA_PORT / PORT     single-node client port; default 19092 (controller: +1)
#   KAFKA_CONTROLLER_PORT single-node controller port; default PORT+1
#   KAFKA_SECURE          1 (default): the single node also listens with
#                         SASL_SSL on KAFKA_SASL_SSL_PORT (default PORT+2) and
#                         mTLS on KAFKA_MTLS_PORT (default PORT+3); 0: not
#   KAFKA_CLUSTER_PORT    cluster base port; default 19192. Broker N listens on
#                         BASE+10*(N-1) (19192, 19202, 19212), its controller on +1
#                         (19193, 19203, 19213)
#   KAFKA_VERSION         default 4.3.1
#   KAFKA_HEAP            single-node heap; default -Xmx512m
#   KAFKA_CLUSTER_HEAP    per-node heap in the cluster; default -Xmx384m
#   KAFKA_JVM_FLAGS       GC/JIT flags; default
#                         "-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1"
#   KAFKA_OPTS            extra JVM options (appended)
#   KAFKA_EXTRA_CONFIG    extra server.properties lines (newline-separated), appended
#   KAFKA_START_TIMEOUT   seconds to wait for start; default 150
#   KAFKA_STOP_TIMEOUT    seconds to wait for a graceful stop; default 30
#   KAFKA_QUORUM_GRACE    cluster stop: seconds a node may still take once the
#                         controller quorum is gone, before SIGKILL; default 3
#   KAFKA_CLEAN=1         wipe the data before starting
#   HOOKLINE_MAVEN_REPO   Maven local repository; default STATE_DIR/m2
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=install-java.sh
. "$HERE/install-java.sh"

KAFKA_VERSION="${KAFKA_VERSION:-4.3.1}"
STATE_DIR="${HOOKLINE_LOCAL_DIR:-$HOME/.cache/hookline-local}"
KAFKA_HOME="$STATE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIB="$KAFKA_HOME/lib"
MAVEN_REPO="${HOOKLINE_MAVEN_REPO:-$STATE_DIR/m2}"

SINGLE_PORT="${KAFKA_PORT:-${PORT:-19092}}"
SINGLE_CPORT="${KAFKA_CONTROLLER_PORT:-$((SINGLE_PORT + 1))}"
SINGLE_DIR="$STATE_DIR/kafka-single-$SINGLE_PORT"
SINGLE_HEAP="${KAFKA_HEAP:--Xmx512m}"
# shellcheck source=kafka-secure.sh
. "$HERE/kafka-secure.sh"

CLUSTER_SIZE=3
CLUSTER_BASE="${KAFKA_CLUSTER_PORT:-19192}"
CLUSTER_DIR="$STATE_DIR/kafka-cluster-$CLUSTER_BASE"
CLUSTER_HEAP="${KAFKA_CLUSTER_HEAP:--Xmx384m}"

# C1-only JIT: on a 2-core machine the brokers start ~40% faster with it and
# measured no slower (a bit faster) on produce throughput, since the C2 compiler
# threads no longer compete with the broker and the tests for the CPU.
JVM_FLAGS="${KAFKA_JVM_FLAGS:--XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1}"

START_TIMEOUT="${KAFKA_START_TIMEOUT:-150}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

log() { echo "kafka: $*" >&2; }
die() { echo "kafka: $*" >&2; exit 1; }

# ---------------------------------------------------------------- jars

fetch() {
  if [ -f "$KAFKA_HOME/.complete" ]; then
    return 0
  fi
  mkdir -p "$STATE_DIR"
  (
    exec 8>"$STATE_DIR/.fetch-$KAFKA_VERSION.lock"
    flock -w 600 8 || die "timed out waiting for another fetch of Kafka $KAFKA_VERSION"
    if [ -f "$KAFKA_HOME/.complete" ]; then
      exit 0
    fi
    ensure_maven
    log "fetching Apache Kafka $KAFKA_VERSION from Maven Central into $KAFKA_LIB"
    local_tmp="$(mktemp -d "$STATE_DIR/.fetch-$KAFKA_VERSION.XXXXXX")"
    trap 'rm -rf "$local_tmp"' EXIT
    # Run Maven on a copy of the pom so nothing is written into the checkout.
    cp "$HERE/kafka-pom.xml" "$local_tmp/pom.xml"
    if ! mvn -B -ntp -q -f "$local_tmp/pom.xml" \
        -Dmaven.repo.local="$MAVEN_REPO" \
        -Dkafka.version="$KAFKA_VERSION" \
        -DoutputDirectory="$local_tmp/lib" \
        dependency:copy-dependencies >"$local_tmp/fetch.log" 2>&1; then
      tail -n 40 "$local_tmp/fetch.log" >&2
      die "maven could not fetch Apache Kafka $KAFKA_VERSION"
    fi
    ls "$local_tmp/lib"/kafka_2.13-*.jar >/dev/null 2>&1 ||
      die "fetch finished but kafka_2.13 jar is missing in $local_tmp/lib"
    rm -rf "$KAFKA_HOME"
    mkdir -p "$KAFKA_HOME"
    mv "$local_tmp/lib" "$KAFKA_LIB"
    cp "$HERE/kafka-pom.xml" "$KAFKA_HOME/kafka-pom.xml"
    touch "$KAFKA_HOME/.complete"
  )
}

# Runs a Kafka CLI class (short-lived JVM, tuned for start-up time).
# TOOL_TIMEOUT=N run_tool ... gives up after N seconds (0: never).
run_tool() {
  local class="$1"; shift
  local argv=(java -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true
    -Dlog4j2.configurationFile="$HERE/log4j2.properties"
    -Dhookline.kafka.startlevel=WARN
    -cp "$KAFKA_LIB/*" "$class" "$@")
  if [ -n "${TOOL_TIMEOUT:-}" ]; then
    timeout "$TOOL_TIMEOUT" "${argv[@]}"
  else
    "${argv[@]}"
  fi
}

has_tool() { ls "$KAFKA_LIB"/kafka-tools-*.jar >/dev/null 2>&1; }

# ---------------------------------------------------------------- nodes
# A node is a directory holding server.properties, data/, kafka.log, kafka.pid.

# alive PID: the process exists and is not a zombie (an exited daemon stays a
# zombie until init reaps it, which can take a while in some containers).
alive() {
  local state
  kill -0 "$1" 2>/dev/null || return 1
  state="$(sed -n 's/^[0-9]* (.*) \([A-Za-z]\).*/\1/p' "/proc/$1/stat" 2>/dev/null || true)"
  [ "$state" != "Z" ] && [ "$state" != "X" ]
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Prints the pid of the node's JVM if it is running.
node_pid() {
  local dir="$1" pid
  [ -f "$dir/kafka.pid" ] || return 1
  pid="$(cat "$dir/kafka.pid" 2>/dev/null || true)"
  [ -n "$pid" ] && alive "$pid" || return 1
  # Guard against a recycled pid: the process must be this node's broker.
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$dir/server.properties" || return 1
  echo "$pid"
}

node_version() {
  local v
  v="$(grep -ho 'Kafka version: [^ ]*' "$1/kafka.log" 2>/dev/null | head -n1 | sed 's/.*: //' || true)"
  if [ -z "$v" ]; then
    v="$(cat "$1/kafka.version" 2>/dev/null || echo "$KAFKA_VERSION")"
  fi
  echo "$v"
}

# write_config DIR NODE_ID PORT CONTROLLER_PORT VOTERS REPLICATION_FACTOR MIN_ISR
write_config() {
  local dir="$1" id="$2" port="$3" cport="$4" voters="$5" rf="$6" isr="$7"
  mkdir -p "$dir/data"
  cat >"$dir/server.properties" <<EOF
# Written by deployments/local/kafka.sh; regenerated on every start.
process.roles=broker,controller
node.id=$id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data

auto.create.topics.enable=true
num.partitions=1
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr

# Consumer groups: no initial rebalance delay. The KIP-848 "consumer" protocol
# is on by default in 4.x (group.coordinator.rebalance.protocols includes
# consumer); a short heartbeat makes its joins and rebalances take < 1 s.
group.initial.rebalance.delay.ms=0
group.consumer.min.heartbeat.interval.ms=500
group.consumer.heartbeat.interval.ms=500
EOF
  if [ -n "${KAFKA_EXTRA_CONFIG:-}" ]; then
    printf '\n# KAFKA_EXTRA_CONFIG\n%s\n' "$KAFKA_EXTRA_CONFIG" >>"$dir/server.properties"
  fi
  cp "$HERE/log4j2.properties" "$dir/log4j2.properties"
}

# format_node DIR CLUSTER_ID [ARGS...]: formats the storage once (keeps
# existing data); ARGS go to the storage tool (--add-scram ...).
format_node() {
  local dir="$1" cid="$2" out
  shift 2
  if [ -f "$dir/data/meta.properties" ]; then
    return 0
  fi
  if ! out="$(run_tool kafka.tools.StorageTool format --ignore-formatted \
      -t "$cid" -c "$dir/server.properties" "$@" 2>&1)"; then
    echo "$out" >&2
    die "formatting $dir/data failed"
  fi
}

# launch_node DIR HEAP: starts the JVM in the background, writes kafka.pid.
launch_node() {
  local dir="$1" heap="$2" pid
  [ -f "$dir/kafka.log" ] && mv -f "$dir/kafka.log" "$dir/kafka.log.1"
  echo "$KAFKA_VERSION" >"$dir/kafka.version"
  # shellcheck disable=SC2086
  setsid java $heap $JVM_FLAGS \
    -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$dir/log4j2.properties" \
    -Dkafka.logs.dir="$dir" ${KAFKA_OPTS:-} \
    -cp "$KAFKA_LIB/*" kafka.Kafka "$dir/server.properties" \
    >"$dir/kafka.log" 2>&1 </dev/null 8>&- 9>&- &
  pid=$!
  echo "$pid" >"$dir/kafka.pid"
  LAUNCHED+=("$dir")
}

# Nodes launched by this invocation; a failed start kills them again, so that
# a retry does not find a half-started broker and report it as running.
LAUNCHED=()
start_failed() {
  local dir pid
  for dir in "${LAUNCHED[@]}"; do
    if pid="$(node_pid "$dir")"; then
      kill -KILL "$pid" 2>/dev/null || true
      while alive "$pid"; do sleep 0.1; done
    fi
    rm -f "$dir/kafka.pid"
  done
  die "$@"
}

# wait_node_started DIR PORT DEADLINE: until the node logs that it started.
wait_node_started() {
  local dir="$1" port="$2" deadline="$3"
  while :; do
    if ! node_pid "$dir" >/dev/null; then
      echo "---- $dir/kafka.log (tail) ----" >&2
      tail -n 60 "$dir/kafka.log" >&2 || true
      start_failed "broker in $dir exited during start-up"
    fi
    if grep -qE 'Kafka Server started|Transition from STARTING to STARTED' "$dir/kafka.log" 2>/dev/null &&
       port_open "$port"; then
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "---- $dir/kafka.log (tail) ----" >&2
      tail -n 60 "$dir/kafka.log" >&2 || true
      start_failed "broker in $dir did not start within ${START_TIMEOUT}s"
    fi
    sleep 0.5
  done
}

# wait_brokers BOOTSTRAP COUNT DEADLINE: until a client sees COUNT live brokers.
wait_brokers() {
  local bootstrap="$1" want="$2" deadline="$3" out n
  has_tool || return 0
  while :; do
    out="$(TOOL_TIMEOUT=30 run_tool org.apache.kafka.tools.BrokerApiVersionsCommand \
      --bootstrap-server "$bootstrap" 2>/dev/null || true)"
    n="$(grep -c ' (id: ' <<<"$out" || true)"
    if [ "${n:-0}" -ge "$want" ]; then
      return 0
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      start_failed "only ${n:-0} of $want brokers reachable at $bootstrap after ${START_TIMEOUT}s"
    fi
    sleep 1
  done
}

# stop_nodes DIR...: SIGTERM all, wait, then SIGKILL what is left.
# With QUORUM_DIRS set (the cluster's node dirs): once fewer than a majority of
# those nodes are alive, a broker still in controlled shutdown can never finish
# it (its controller has no quorum), so it gets QUORUM_GRACE seconds, then SIGKILL.
QUORUM_GRACE="${KAFKA_QUORUM_GRACE:-3}"
stop_nodes() {
  local dir pid pids=() deadline lost_at=""
  for dir in "$@"; do
    if pid="$(node_pid "$dir")"; then
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid")
    fi
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while :; do
    local still=()
    for pid in "${pids[@]}"; do
      if alive "$pid"; then still+=("$pid"); fi
    done
    [ "${#still[@]}" -gt 0 ] || break
    if [ -n "${QUORUM_DIRS:-}" ] && [ -z "$lost_at" ]; then
      local up=0 total=0 qd
      for qd in $QUORUM_DIRS; do
        total=$((total + 1))
        if node_pid "$qd" >/dev/null; then up=$((up + 1)); fi
      done
      if [ $((up * 2)) -le "$total" ]; then
        lost_at="$(date +%s)"
        if [ $((lost_at + QUORUM_GRACE)) -lt "$deadline" ]; then
          deadline=$((lost_at + QUORUM_GRACE))
        fi
      fi
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      if [ -n "$lost_at" ]; then
        log "controller quorum gone; sending SIGKILL to ${still[*]}"
      else
        log "graceful stop timed out after ${STOP_TIMEOUT}s; sending SIGKILL to ${still[*]}"
      fi
      kill -KILL "${still[@]}" 2>/dev/null || true
      for pid in "${still[@]}"; do
        while alive "$pid"; do sleep 0.1; done
      done
      break
    fi
    sleep 0.3
  done
  for dir in "$@"; do rm -f "$dir/kafka.pid"; done
}

check_port_free() {
  if port_open "$1"; then
    die "port $1 is already in use by another process (set KAFKA_PORT / KAFKA_CLUSTER_PORT)"
  fi
}

with_lock() {
  local name="$1"; shift
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.$name.lock"
  flock -w 600 9 || die "timed out waiting for lock $name"
  "$@"
}

# ---------------------------------------------------------------- single node

single_bootstrap() { echo "127.0.0.1:$SINGLE_PORT"; }

single_start() {
  local pid deadline cid
  if pid="$(node_pid "$SINGLE_DIR")"; then
    echo "kafka: already running Apache Kafka $(node_version "$SINGLE_DIR") at $(single_bootstrap) (pid $pid)"
    if secure_on && ! grep -q '^listener.name.mtls' "$SINGLE_DIR/server.properties"; then
      log "this broker was started without the secure listeners: stop and start it to have them"
    fi
    return 0
  fi
  ensure_java
  fetch
  check_port_free "$SINGLE_PORT"
  check_port_free "$SINGLE_CPORT"
  if secure_on; then
    check_port_free "$SASL_SSL_PORT"
    check_port_free "$MTLS_PORT"
  fi
  if [ "${KAFKA_CLEAN:-0}" = 1 ]; then
    rm -rf "$SINGLE_DIR"
  fi
  mkdir -p "$SINGLE_DIR"
  write_config "$SINGLE_DIR" 1 "$SINGLE_PORT" "$SINGLE_CPORT" \
    "1@127.0.0.1:$SINGLE_CPORT" 1 1
  [ -s "$SINGLE_DIR/cluster.id" ] || run_tool kafka.tools.StorageTool random-uuid >"$SINGLE_DIR/cluster.id"
  if secure_on; then
    secure_certs
    secure_config "$SINGLE_DIR"
    if [ ! -f "$SINGLE_DIR/data/meta.properties" ]; then
      local -a scram
      mapfile -t scram < <(secure_format_args)
      format_node "$SINGLE_DIR" "$(cat "$SINGLE_DIR/cluster.id")" "${scram[@]}"
      touch "$SECURE_DIR/scram.done"
    fi
  fi
  format_node "$SINGLE_DIR" "$(cat "$SINGLE_DIR/cluster.id")"
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  launch_node "$SINGLE_DIR" "$SINGLE_HEAP"
  wait_node_started "$SINGLE_DIR" "$SINGLE_PORT" "$deadline"
  if has_tool; then
    # A real client round trip: list topics through the client port.
    local out
    while ! out="$(TOOL_TIMEOUT=30 run_tool org.apache.kafka.tools.TopicCommand \
        --bootstrap-server "$(single_bootstrap)" --list 2>&1)"; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "$out" >&2
        tail -n 60 "$SINGLE_DIR/kafka.log" >&2 || true
        start_failed "broker started but does not answer clients at $(single_bootstrap)"
      fi
      sleep 1
    done
  fi
  if secure_on; then
    secure_started "$deadline"
  fi
  echo "kafka: started Apache Kafka $(node_version "$SINGLE_DIR") at $(single_bootstrap) (pid $(cat "$SINGLE_DIR/kafka.pid"), data $SINGLE_DIR)"
  secure_summary
}

single_stop() {
  if node_pid "$SINGLE_DIR" >/dev/null; then
    stop_nodes "$SINGLE_DIR"
    echo "kafka: stopped $(single_bootstrap)"
  else
    rm -f "$SINGLE_DIR/kafka.pid"
    echo "kafka: not running at $(single_bootstrap)"
  fi
}

single_status() {
  local pid
  if pid="$(node_pid "$SINGLE_DIR")"; then
    echo "kafka: running Apache Kafka $(node_version "$SINGLE_DIR") at $(single_bootstrap) (pid $pid)"
  else
    echo "kafka: not running at $(single_bootstrap)"
    return 3
  fi
}

# ---------------------------------------------------------------- cluster

broker_port() { echo $(( CLUSTER_BASE + 10 * ($1 - 1) )); }
broker_cport() { echo $(( CLUSTER_BASE + 10 * ($1 - 1) + 1 )); }
broker_dir() { echo "$CLUSTER_DIR/broker-$1"; }
cluster_dirs() {
  local n
  for n in $(seq 1 "$CLUSTER_SIZE"); do broker_dir "$n"; done | tr '\n' ' '
}

cluster_bootstrap() {
  local n out=""
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    out="${out:+$out,}127.0.0.1:$(broker_port "$n")"
  done
  echo "$out"
}

cluster_voters() {
  local n out=""
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    out="${out:+$out,}$n@127.0.0.1:$(broker_cport "$n")"
  done
  echo "$out"
}

check_broker_arg() {
  case "${1:-}" in
    ''|*[!0-9]*) die "broker number required (1-$CLUSTER_SIZE)" ;;
  esac
  if [ "$1" -lt 1 ] || [ "$1" -gt "$CLUSTER_SIZE" ]; then
    die "broker number must be 1-$CLUSTER_SIZE"
  fi
}

# prepare_broker N: config + formatted storage for broker N.
prepare_broker() {
  local n="$1" dir
  dir="$(broker_dir "$n")"
  mkdir -p "$dir"
  write_config "$dir" "$n" "$(broker_port "$n")" "$(broker_cport "$n")" \
    "$(cluster_voters)" 3 2
  format_node "$dir" "$(cat "$CLUSTER_DIR/cluster.id")"
}

cluster_start() {
  local n dir deadline started=() running=0
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    node_pid "$(broker_dir "$n")" >/dev/null && running=$((running + 1))
  done
  if [ "$running" -eq "$CLUSTER_SIZE" ]; then
    echo "kafka: cluster already running Apache Kafka $(node_version "$(broker_dir 1)") at $(cluster_bootstrap)"
    return 0
  fi
  ensure_java
  fetch
  if [ "${KAFKA_CLEAN:-0}" = 1 ] && [ "$running" -eq 0 ]; then
    rm -rf "$CLUSTER_DIR"
  fi
  mkdir -p "$CLUSTER_DIR"
  [ -s "$CLUSTER_DIR/cluster.id" ] || run_tool kafka.tools.StorageTool random-uuid >"$CLUSTER_DIR/cluster.id"
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    dir="$(broker_dir "$n")"
    node_pid "$dir" >/dev/null && continue
    check_port_free "$(broker_port "$n")"
    check_port_free "$(broker_cport "$n")"
    prepare_broker "$n"
  done
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    dir="$(broker_dir "$n")"
    node_pid "$dir" >/dev/null && continue
    launch_node "$dir" "$CLUSTER_HEAP"
    started+=("$n")
  done
  for n in "${started[@]}"; do
    wait_node_started "$(broker_dir "$n")" "$(broker_port "$n")" "$deadline"
  done
  wait_brokers "$(cluster_bootstrap)" "$CLUSTER_SIZE" "$deadline"
  echo "kafka: started Apache Kafka $(node_version "$(broker_dir 1)") cluster at $(cluster_bootstrap) (data $CLUSTER_DIR)"
}

cluster_stop() {
  local n dirs=() any=0
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    dirs+=("$(broker_dir "$n")")
    node_pid "$(broker_dir "$n")" >/dev/null && any=1
  done
  QUORUM_DIRS="${dirs[*]}" stop_nodes "${dirs[@]}"
  if [ "$any" = 1 ]; then
    echo "kafka: stopped cluster $(cluster_bootstrap)"
  else
    echo "kafka: cluster not running at $(cluster_bootstrap)"
  fi
}

cluster_status() {
  local n pid rc=0
  for n in $(seq 1 "$CLUSTER_SIZE"); do
    if pid="$(node_pid "$(broker_dir "$n")")"; then
      echo "kafka: broker $n running at 127.0.0.1:$(broker_port "$n") (pid $pid)"
    else
      echo "kafka: broker $n not running (127.0.0.1:$(broker_port "$n"))"
      rc=3
    fi
  done
  return "$rc"
}

kill_broker() {
  local n="$1" dir pid
  check_broker_arg "$n"
  dir="$(broker_dir "$n")"
  if ! pid="$(node_pid "$dir")"; then
    echo "kafka: broker $n not running"
    return 0
  fi
  kill -KILL "$pid"
  while alive "$pid"; do sleep 0.1; done
  rm -f "$dir/kafka.pid"
  echo "kafka: killed broker $n (pid $pid, 127.0.0.1:$(broker_port "$n"))"
}

stop_broker() {
  local n="$1"
  check_broker_arg "$n"
  QUORUM_DIRS="$(cluster_dirs)" stop_nodes "$(broker_dir "$n")"
  echo "kafka: stopped broker $n (127.0.0.1:$(broker_port "$n"))"
}

start_broker() {
  local n="$1" dir pid deadline
  check_broker_arg "$n"
  dir="$(broker_dir "$n")"
  if pid="$(node_pid "$dir")"; then
    echo "kafka: broker $n already running at 127.0.0.1:$(broker_port "$n") (pid $pid)"
    return 0
  fi
  [ -s "$CLUSTER_DIR/cluster.id" ] || die "no cluster in $CLUSTER_DIR; run cluster-start first"
  ensure_java
  fetch
  check_port_free "$(broker_port "$n")"
  check_port_free "$(broker_cport "$n")"
  prepare_broker "$n"
  deadline=$(( $(date +%s) + START_TIMEOUT ))
  launch_node "$dir" "$CLUSTER_HEAP"
  wait_node_started "$dir" "$(broker_port "$n")" "$deadline"
  # Back means: registered and unfenced, i.e. visible to clients again.
  local running=0 m
  for m in $(seq 1 "$CLUSTER_SIZE"); do
    node_pid "$(broker_dir "$m")" >/dev/null && running=$((running + 1))
  done
  wait_brokers "$(cluster_bootstrap)" "$running" "$deadline"
  echo "kafka: started broker $n at 127.0.0.1:$(broker_port "$n") (pid $(cat "$dir/kafka.pid"))"
}

# ---------------------------------------------------------------- main

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

main() {
  local cmd="${1:-}"
  [ $# -gt 0 ] && shift
  local brokers=1
  if [ "${1:-}" = "--brokers" ]; then
    brokers="${2:-}"
    shift 2 || die "--brokers needs a number"
    case "$brokers" in
      1) ;;
      3) case "$cmd" in
           start) cmd=cluster-start ;;
           stop) cmd=cluster-stop ;;
           status) cmd=cluster-status ;;
           bootstrap) cmd=cluster-bootstrap ;;
         esac ;;
      *) die "--brokers must be 1 or 3" ;;
    esac
  fi
  case "$cmd" in
    fetch) ensure_java; fetch; echo "kafka: Apache Kafka $KAFKA_VERSION jars in $KAFKA_LIB" ;;
    start) with_lock "kafka-single-$SINGLE_PORT" single_start ;;
    stop) with_lock "kafka-single-$SINGLE_PORT" single_stop ;;
    status) single_status ;;
    bootstrap) single_bootstrap ;;
    secure-env) secure_env ;;
    cluster-start) with_lock "kafka-cluster-$CLUSTER_BASE" cluster_start ;;
    cluster-stop) with_lock "kafka-cluster-$CLUSTER_BASE" cluster_stop ;;
    cluster-status) cluster_status ;;
    cluster-bootstrap) cluster_bootstrap ;;
    kill-broker) with_lock "kafka-cluster-$CLUSTER_BASE" kill_broker "${1:-}" ;;
    stop-broker) with_lock "kafka-cluster-$CLUSTER_BASE" stop_broker "${1:-}" ;;
    start-broker) with_lock "kafka-cluster-$CLUSTER_BASE" start_broker "${1:-}" ;;
    clean)
      with_lock "kafka-single-$SINGLE_PORT" single_stop
      exec 9>&-
      with_lock "kafka-cluster-$CLUSTER_BASE" cluster_stop
      rm -rf "$SINGLE_DIR" "$CLUSTER_DIR"
      echo "kafka: removed $SINGLE_DIR and $CLUSTER_DIR (jars kept in $KAFKA_HOME)"
      ;;
    tool)
      [ $# -ge 1 ] || die "usage: kafka.sh tool CLASS [ARGS...]"
      ensure_java; fetch; run_tool "$@" ;;
    -h|--help|help|'') usage ;;
    *) usage >&2; exit 2 ;;
  esac
}

main "$@"
