#!/usr/bin/env bash
# Ensures a Java 17+ runtime (and, with --maven, Apache Maven) is installed.
#
#   deployments/local/install-java.sh            # java only
#   deployments/local/install-java.sh --maven    # java + mvn
#
# Installs Debian's openjdk-17-jre-headless / maven with apt-get when missing
# (needs root, or sudo). Safe to run repeatedly: does nothing when both are there.
# kafka.sh sources this file and calls ensure_java / ensure_maven.
set -euo pipefail

_hl_apt_updated=0

_hl_apt_install() {
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      sudo="sudo"
    else
      echo "install-java: need root (or sudo) to apt-get install $*" >&2
      return 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-java: apt-get not found; install $* by hand" >&2
    return 1
  fi
  if [ "$_hl_apt_updated" -eq 0 ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    _hl_apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# Prints the major version of `java` on PATH (17, 21, ...), or nothing.
java_major_version() {
  command -v java >/dev/null 2>&1 || return 0
  java -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' |
    sed 's/^1\.//; s/\..*//' | head -n1
}

ensure_java() {
  local major
  major="$(java_major_version)"
  if [ -n "$major" ] && [ "$major" -ge 17 ]; then
    return 0
  fi
  echo "install-java: installing openjdk-17-jre-headless (found java: ${major:-none})" >&2
  _hl_apt_install openjdk-17-jre-headless
  # A newer java may be installed but an older one first on PATH; prefer 17.
  major="$(java_major_version)"
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    if [ -x /usr/lib/jvm/java-17-openjdk-amd64/bin/java ]; then
      export PATH="/usr/lib/jvm/java-17-openjdk-amd64/bin:$PATH"
    elif [ -x /usr/lib/jvm/java-17-openjdk-arm64/bin/java ]; then
      export PATH="/usr/lib/jvm/java-17-openjdk-arm64/bin:$PATH"
    fi
    major="$(java_major_version)"
  fi
  if [ -z "$major" ] || [ "$major" -lt 17 ]; then
    echo "install-java: java 17+ still not on PATH" >&2
    return 1
  fi
}

ensure_maven() {
  ensure_java
  if command -v mvn >/dev/null 2>&1; then
    return 0
  fi
  echo "install-java: installing maven" >&2
  _hl_apt_install maven
  command -v mvn >/dev/null 2>&1
}

# Executed (not sourced): install what was asked for and report.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  ensure_java
  if [ "${1:-}" = "--maven" ]; then
    ensure_maven
    echo "install-java: $(java -version 2>&1 | head -n1); $(mvn -v 2>/dev/null | head -n1 | sed 's/\x1b\[[0-9;]*m//g')"
  else
    echo "install-java: $(java -version 2>&1 | head -n1)"
  fi
fi
