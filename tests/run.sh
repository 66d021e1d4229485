#!/usr/bin/env bash
# make test (tests/run.sh gate) and make test-full (tests/run.sh full).
#
# gate: what CI runs on every change, within its hour on 2 cores: the checks
#   that need no lab (unit tests and sanity on every tested ansible-core), the
#   lifecycle scenario on the newest ansible-core (with the default
#   scenario's checks), the PostgreSQL faults, the polardb scenario and the
#   PolarDB faults, each lab suite without its cases marked `full`
#   (pytest -m "not full"); each mark says which case of the gate proves the
#   same claim, or that only make test-full checks it.
# full: every case of every suite, and what the gate leaves out whole: the lab
#   tests (tests/integration), the default scenario on the pinned
#   ansible-core, and the ssh scenario on both engines: about two hours.
#
# Three lanes share the 2 cores. The PostgreSQL labs run in front, at full
# priority: their cases time what they wait for. Beside them run the checks
# that need no lab, at the lowest priority (nice 19: they only fill the time a
# lab waits), and the PolarDB image's compile, with the fewest CPU shares
# Docker gives (it yields to every lab container). The PolarDB stage starts
# once both are done. Each stage's time is printed at the end, also when a
# stage fails or the run is stopped.
set -uo pipefail
cd "$(dirname "$0")/.." || exit

tier=${1:-gate}
case $tier in
  gate) export PYTEST_ADDOPTS="${PYTEST_ADDOPTS:+$PYTEST_ADDOPTS }-m 'not full'" ;;
  full) ;;
  *) echo "usage: tests/run.sh [gate|full]" >&2; exit 2 ;;
esac

logs=.lab/test-logs
mkdir -p "$logs"
rm -f "$logs"/*.rc "$logs"/*.log "$logs"/checks.times
times=()
started=$SECONDS
lanes=()

report() {
  local pid
  for pid in "${lanes[@]}"; do kill -- "-$pid" 2>/dev/null; done
  echo
  echo "=== make test ($tier): the time of each stage"
  printf '%s\n' "${times[@]}"
  printf '%-44s %5ds\n' "total" $((SECONDS - started))
}
trap report EXIT
trap 'times+=("stopped by a signal after $((SECONDS - started))s"); exit 143' TERM INT

line() {  # name, seconds, rc
  printf '%-44s %5ds %s' "$1" "$2" "$([ "$3" = 0 ] && echo ok || echo "FAILED (exit $3)")"
}

stage() {  # name, command...
  local name=$1 begin=$SECONDS rc
  shift
  echo
  echo "=== $name"
  "$@"
  rc=$?
  times+=("$(line "$name" $((SECONDS - begin)) $rc)")
  [ $rc = 0 ] || exit $rc
}

in_background() {  # lane name, command...: its own process group, its output in $logs/NAME.log
  local name=$1
  shift
  set -m
  ( "$@" >"$logs/$name.log" 2>&1; echo $? >"$logs/$name.rc" ) &
  set +m
  lanes+=($!)
  echo "=== $name: in the background ($logs/$name.log)"
}

wait_for() {  # lane name: its log, then its exit status
  local name=$1
  while [ ! -f "$logs/$name.rc" ]; do sleep 5; done
  echo "--- $logs/$name.log"
  cat "$logs/$name.log"
  return "$(cat "$logs/$name.rc")"
}

checks() {  # every check that needs no lab, one after the other; each one's time in checks.times
  local name_target name target begin rc failed=0
  for name_target in "unit tests:test-unit" "ansible-lint:lint" "ansible-test sanity:sanity" \
                     "publishing checks:test-publish" "ansible-core 2.20, 2.21, installs:test-versions-full"; do
    name=${name_target%%:*} target=${name_target#*:} begin=$SECONDS
    echo "=== $name"
    make --no-print-directory "$target"
    rc=$?
    line "  $name" $((SECONDS - begin)) "$rc" >>"$logs/checks.times"
    echo >>"$logs/checks.times"
    [ "$rc" = 0 ] || failed=$rc
  done
  return "$failed"
}

wait_for_checks() {
  local rc=0
  wait_for checks || rc=$?
  while IFS= read -r check; do times+=("$check"); done <"$logs/checks.times"
  return "$rc"
}

polardb_wanted() { [ -n "${POLARDB_SRC_DIR:-}" ] || [ -n "${POLARDB_IMAGE:-}" ]; }

stage "Docker engine" make --no-print-directory docker
in_background postgresql-image env POLARDB_IMAGES=postgresql scripts/build-images.sh
# The checks' other venvs (2.20, publishing) are made in their lane.
stage "venvs (pinned, and 2.21 for the lifecycle)" make --no-print-directory -j2 venv .venv-2.21/bin/.installed
stage "PostgreSQL lab image (built meanwhile)" wait_for postgresql-image
if polardb_wanted; then
  in_background images env POLARDB_IMAGES=polardb POLARDB_BUILD_CPU_SHARES=2 scripts/build-images.sh
fi
in_background checks nice -n 19 bash -c "$(declare -f line checks); logs=$logs; checks"

if [ "$tier" = full ]; then
  stage "lab and modules (tests/integration)" make --no-print-directory test-lab
  stage "scenario default" make --no-print-directory test-integration
fi
stage "lifecycle scenario, ansible-core 2.21" make --no-print-directory test-lifecycle
stage "faults (PostgreSQL)" make --no-print-directory test-faults
[ "$tier" = full ] && stage "scenario ssh (PostgreSQL)" make --no-print-directory test-ssh
stage "checks without a lab (beside the labs)" wait_for_checks
if polardb_wanted; then
  stage "PolarDB image (built beside them)" wait_for images
fi
stage "PolarDB scenarios and faults" make --no-print-directory test-polardb POLARDB_TIER="$tier"
exit 0
