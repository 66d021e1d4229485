#!/usr/bin/env bash
# Times the operator's everyday runs on the Docker lab and compares them with
# the targets in bench/targets.tsv. Reports; never fails on a slow number.
# Uses its own lab (prefix bench-) so it can run beside other labs.
set -euo pipefail
cd "$(dirname "$0")/.."
export POLARDB_LAB_PREFIX=${POLARDB_LAB_PREFIX:-bench-}
export ANSIBLE_NOCOLOR=1
results=bench/results
mkdir -p "$results"
out="$results/$(date -u +%Y%m%dT%H%M%SZ).tsv"

measure() {  # name, command...
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >"$results/$name.log" 2>&1 || { echo "$name failed: see $results/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v n="$name" -v a="$start" -v b="$end" 'BEGIN {printf "%s\t%.1f\n", n, b - a}' >>"$out"
}

trap 'ansible-playbook playbooks/lab.yml -e lab_state=absent >/dev/null 2>&1 || true' EXIT
ansible-playbook playbooks/lab.yml -e lab_state=absent >/dev/null
measure lab_up ansible-playbook playbooks/lab.yml
measure lab_up_again ansible-playbook playbooks/lab.yml
measure site_first_converge ansible-playbook site.yml
measure site_no_change ansible-playbook site.yml
measure site_check ansible-playbook site.yml --check
measure storage_tag_on_pb3 ansible-playbook site.yml --tags storage --limit pb3
measure lab_down ansible-playbook playbooks/lab.yml -e lab_state=absent

printf '%-22s %8s %8s\n' step seconds target
while IFS=$'\t' read -r name seconds; do
  target=$(awk -F'\t' -v n="$name" '$1 == n {print $2}' bench/targets.tsv)
  mark=""
  [ -n "$target" ] && awk -v s="$seconds" -v t="$target" 'BEGIN {exit !(s > t)}' && mark="  over target"
  printf '%-22s %8s %8s%s\n' "$name" "$seconds" "${target:--}" "$mark"
done <"$out"
echo "results: $out"
