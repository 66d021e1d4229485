#!/usr/bin/env bash
# Makes sure a Docker engine answers. On Debian as root with no engine it
# installs Debian's docker.io and starts dockerd in the background; anywhere
# else it says what is missing and stops.
set -euo pipefail

log_dir=${POLARDB_LAB_LOG_DIR:-/var/log/polardb-lab}
wait_seconds=${DOCKER_WAIT_SECONDS:-60}

engine_answers() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && engine_answers; then
  exit 0
fi

is_debian_root() { [ "$(id -u)" = 0 ] && [ -r /etc/debian_version ] && command -v apt-get >/dev/null; }

if ! command -v dockerd >/dev/null 2>&1; then
  if ! is_debian_root; then
    echo "No Docker engine answers and dockerd is not installed." >&2
    echo "Install Docker (or start it) and run this again; automatic install needs Debian and root." >&2
    exit 1
  fi
  echo "Installing Debian's docker.io ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! engine_answers; then
  if [ "$(id -u)" != 0 ]; then
    echo "dockerd is installed but no engine answers; start it (e.g. 'sudo systemctl start docker')." >&2
    exit 1
  fi
  mkdir -p "$log_dir"
  if ! pgrep -x dockerd >/dev/null; then
    echo "Starting dockerd (log: $log_dir/dockerd.log) ..."
    nohup dockerd >"$log_dir/dockerd.log" 2>&1 &
  fi
  for _ in $(seq "$wait_seconds"); do
    engine_answers && break
    sleep 1
  done
fi

if ! engine_answers; then
  echo "dockerd did not answer within ${wait_seconds}s; its last log lines:" >&2
  tail -n 20 "$log_dir/dockerd.log" >&2 || true
  exit 1
fi
# The docker CLI on this PATH may be newer than the engine: BuildKit needs
# buildx, which a bare client lacks, so builds use the classic builder.
echo "Docker engine $(docker version --format '{{.Server.Version}}') answers."
