#!/usr/bin/env bash
# make test (tests/run.sh gate) and make test-full (tests/run.sh full).
#
# gate: what CI runs on every change, within its hour on 2 cores: the checks
#   that need no lab (unit tests and sanity on every tested ansible-core), the
#   lifecycle scenario (with the default scenario's checks), the default
#   scenario on the newest ansible-core, the PostgreSQL faults, the polardb
#   scenario and the PolarDB faults,
#   each lab suite without its cases marked `full` (pytest -m "not full"); each
#   mark says which case of the gate proves the same claim, or that only
#   make test-full checks it.
# full: every case of every suite, and what the gate leaves out whole: the lab
#   tests (tests/integration), the default scenario on the pinned
#   ansible-core, and the ssh scenario on both engines: about two hours.
#
# The lab images are built in the background while the checks that need no lab
# run (they wait on the network and the disk more than on the CPU). Each stage's
# time is printed at the end, also when a stage fails or the run is stopped.
set -uo pipefail
cd "$(dirname "$0")/.."

tier=${1:-gate}
case $tier in
  gate) export PYTEST_ADDOPTS="${PYTEST_ADDOPTS:+$PYTEST_ADDOPTS }-m 'not full'" ;;
  full) ;;
  *) echo "usage: tests/run.sh [gate|full]" >&2; exit 2 ;;
esac

logs=.lab/test-logs
mkdir -p "$logs"
times=()
started=$SECONDS

report() {
  echo
  echo "=== make test ($tier): the time of each stage"
  printf '%s\n' "${times[@]}"
  printf '%-36s %5ds\n' "total" $((SECONDS - started))
}
trap report EXIT
trap 'times+=("stopped by a signal after $((SECONDS - started))s"); exit 143' TERM INT

stage() {  # name, command...
  local name=$1 begin=$SECONDS rc
  shift
  echo
  echo "=== $name"
  "$@"
  rc=$?
  times+=("$(printf '%-36s %5ds %s' "$name" $((SECONDS - begin)) "$([ $rc = 0 ] && echo ok || echo "FAILED (exit $rc)")")")
  [ $rc = 0 ] || exit $rc
}

images_in_background() {
  (begin=$SECONDS; make --no-print-directory image; rc=$?
   echo "$((SECONDS - begin))" >"$logs/images.seconds"; exit $rc) >"$logs/images.log" 2>&1 &
  images_pid=$!
}

wait_for_images() {
  local rc=0
  wait "$images_pid" || rc=$?
  cat "$logs/images.log"
  return $rc
}

stage "venv and Docker engine" make --no-print-directory venv docker
images_in_background
stage "unit tests" make --no-print-directory test-unit
stage "ansible-lint" make --no-print-directory lint
stage "ansible-test sanity" make --no-print-directory sanity
stage "publishing checks" make --no-print-directory test-publish
stage "ansible-core 2.20, 2.21, installs" make --no-print-directory test-versions-full
stage "images (built meanwhile)" wait_for_images
times+=("$(printf '%-36s %5ds' "  (the build itself, beside them)" "$(cat "$logs/images.seconds" 2>/dev/null || echo 0)")")
if [ "$tier" = full ]; then
  stage "lab and modules (tests/integration)" make --no-print-directory test-lab
  stage "scenario default" make --no-print-directory test-integration
fi
stage "lifecycle scenario" make --no-print-directory test-lifecycle
stage "default scenario, ansible-core 2.21" make --no-print-directory test-newest
stage "faults (PostgreSQL)" make --no-print-directory test-faults
[ "$tier" = full ] && stage "scenario ssh (PostgreSQL)" make --no-print-directory test-ssh
stage "PolarDB scenarios and faults" make --no-print-directory test-polardb POLARDB_TIER="$tier"
exit 0
