#!/usr/bin/env bash
# Runs the polardb molecule scenario, whose verify runs the PolarDB faults on
# its lab, and the ssh scenario (real servers: SSH, sudo, installed
# collection; with POLARDB_TIER=full, as make test-full sets it) on the real
# binaries: an image compiled from POLARDB_SRC_DIR, or one built on
# POLARDB_IMAGE. With neither, says that it is skipped and how to give them.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${POLARDB_SRC_DIR:-}" ] && [ -z "${POLARDB_IMAGE:-}" ]; then
  echo "SKIPPED polardb scenario and faults: no PolarDB. Set POLARDB_SRC_DIR to a folder holding"
  echo "polardb-pg15.tar.gz, pfs.tar.gz and zlog-<version>.tar.gz (README, 'PolarDB from source'),"
  echo "or POLARDB_IMAGE to a loaded image holding PolarDB (/home/postgres/tmp_polardb_pg_15_base)"
  echo "and PFS (/usr/local/polarstore)."
  exit 0
fi
if [ -n "${POLARDB_IMAGE:-}" ] && ! docker image inspect "$POLARDB_IMAGE" >/dev/null 2>&1; then
  echo "POLARDB_IMAGE=$POLARDB_IMAGE is not an image on this Docker engine: docker load it first." >&2
  exit 1
fi
scripts/build-images.sh
molecule test -s polardb
if [ "${POLARDB_TIER:-full}" = full ]; then
  POLARDB_ENGINE=polardb POLARDB_LAB_PREFIX=${POLARDB_SSH_PREFIX:-pssh-} molecule test -s ssh
fi
