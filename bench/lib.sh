# Sourced by bench/run.sh and the parts it calls. measure NAME COMMAND...: runs
# COMMAND with its output in $logs/NAME.log and appends "NAME<tab>seconds" to $out.
measure() {
  local name=$1; shift
  local start end
  start=$(date +%s.%N)
  "$@" >"$logs/$name.log" 2>&1 || { echo "$name failed: see $logs/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  awk -v n="$name" -v a="$start" -v b="$end" 'BEGIN {printf "%s\t%.1f\n", n, b - a}' >>"$out"
}
