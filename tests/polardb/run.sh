#!/usr/bin/env bash
# Runs the polardb molecule scenario when a PolarDB image is given; otherwise
# says that it is skipped and why. Either way the reason is visible in the log.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -z "${POLARDB_IMAGE:-}" ]; then
  echo "SKIPPED polardb scenario: no PolarDB image. PolarDB and PFS binaries cannot be"
  echo "installed from any registry here; set POLARDB_IMAGE to a loaded image holding"
  echo "PolarDB (/home/postgres/tmp_polardb_pg_15_base) and PFS (/usr/local/polarstore)."
  exit 0
fi
if ! docker image inspect "$POLARDB_IMAGE" >/dev/null 2>&1; then
  echo "POLARDB_IMAGE=$POLARDB_IMAGE is not an image on this Docker engine: docker load it first." >&2
  exit 1
fi
exec molecule test -s polardb
