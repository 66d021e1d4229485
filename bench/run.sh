#!/usr/bin/env bash
# Times the site's runs and, in the same run, the same work done by hand
# (bench/raw-postgresql.sh, and bench/raw-polardb.sh where the PolarDB image
# exists) and one `ansible -m ping` round, then prints each figure with its
# ratio to what bench/targets.tsv compares it with. Reports; never fails on a
# slow number. Uses labs of its own (prefixes bench- and bench-p-).
set -euo pipefail
cd "$(dirname "$0")/.."
export POLARDB_LAB_PREFIX=${POLARDB_LAB_PREFIX:-bench-}
export ANSIBLE_NOCOLOR=1
results=bench/results
mkdir -p "$results"
out="$results/$(date -u +%Y%m%dT%H%M%SZ).tsv"
mount=/var/lib/polardb/nvme2n1
bin=/usr/lib/postgresql/15/bin
secret=lab-replication-secret  # inventory/lab's

logs=$results
. bench/lib.sh

with_standbys() {  # folder, hosts...: a copy of inventory/lab with more standbys
  local folder=$1; shift
  rm -rf "$folder" && cp -r inventory/lab "$folder"
  python3 - "$folder/hosts.yml" "$@" <<'EOF'
import sys, yaml
path, hosts = sys.argv[1], sys.argv[2:]
inventory = yaml.safe_load(open(path))
standbys = inventory["all"]["children"]["polardb"]["children"]["standby"]["hosts"]
standbys.update({host: {"ansible_docker_host": "{{ polardb_lab_prefix }}" + host} for host in hosts})
yaml.safe_dump(inventory, open(path, "w"))
EOF
}

lab_down() { ansible-playbook -i "$1" playbooks/lab.yml -e lab_state=absent; }
in_pb3() { docker exec -u postgres "${POLARDB_LAB_PREFIX}pb3" sh -c "$1"; }

one=$results/inventory-pb4
three=$results/inventory-pb4-pb7
with_standbys "$one" pb4
with_standbys "$three" pb4 pb5 pb6 pb7
trap 'lab_down "$three" >/dev/null 2>&1 || true' EXIT
lab_down "$three" >/dev/null

# The work by hand, on a lab of its own; then the teardown of a full lab.
ansible-playbook playbooks/lab.yml >/dev/null
measure raw_site bench/raw-postgresql.sh
measure lab_down lab_down inventory/lab

measure lab_up ansible-playbook playbooks/lab.yml
measure lab_up_again ansible-playbook playbooks/lab.yml
measure site_first_converge ansible-playbook site.yml
measure site_no_change ansible-playbook site.yml
measure site_check ansible-playbook site.yml --check
measure ping_round ansible polardb -m ansible.builtin.ping
measure storage_tag_on_pb3 ansible-playbook site.yml --tags storage --limit pb3

# Switchover there and back, and a promote with pb1 fenced, while a ledger
# client writes (bench/dr.py: receipts, the client's write gap, lost commits).
bench/dr.py "$out" postgresql | tee "$results/dr.txt" || echo "bench/dr.py (PostgreSQL) failed: see above" >&2

# A base backup of a 1 GiB database: pg_basebackup by hand, then the module,
# both from pb1 onto pb3's standby disk.
docker exec -u postgres "${POLARDB_LAB_PREFIX}pb1" psql -X -q -c \
  "CREATE TABLE bench_fill AS SELECT g AS id, repeat('x', 950) AS pad FROM generate_series(1, 1050000) g" \
  >"$results/fill.log" 2>&1
measure raw_basebackup_1gib in_pb3 \
  "PGPASSWORD=$secret $bin/pg_basebackup -h pb1 -U replicator -D $mount/bench-raw -X stream -c fast"
measure module_basebackup_1gib ansible pb3 -m polardb.cluster.polar_basebackup -a \
  "engine=postgresql login_host=pb1 login_user=replicator login_password=$secret data_dir=$mount/bench-module
   bin_dir=$bin owner=postgres standby_signal=false"
# The module's own time (its duration_s: its checks and the copy), without
# Ansible's start and connection, which the wall-clock figure above includes.
sed -n 's/^ *"duration_s": \([0-9.]*\),*$/module_basebackup_1gib_in_module\t\1/p' \
  "$results/module_basebackup_1gib.log" >>"$out"
docker exec "${POLARDB_LAB_PREFIX}pb3" rm -rf "$mount/bench-raw" "$mount/bench-module"

# Backups of that 1 GiB (bench/backup.sh): pg_basebackup by hand into pb3's
# repository against backup.yml (its archive, backup, verification and
# checks), then a restore beside the standby against the same by hand.
bench/backup.sh "$out" "$results" || echo "bench/backup.sh failed: see above" >&2

# On that 1 GiB, a diverged former primary rejoins by pg_rewind, then by a
# fresh copy (bench/rejoin.py).
bench/rejoin.py "$out" | tee "$results/rejoin.txt" || echo "bench/rejoin.py failed: see above" >&2

# One more standby, then three more in one run (their containers first, untimed).
ansible-playbook -i "$one" playbooks/lab.yml >/dev/null
measure add_one_standby ansible-playbook -i "$one" site.yml
ansible-playbook -i "$three" playbooks/lab.yml >/dev/null
measure add_three_standbys ansible-playbook -i "$three" site.yml

lab_down "$three" >/dev/null
trap - EXIT

# The same on PolarDB where its image exists: the work by hand, then the site,
# each on a fresh lab of its own (prefix bench-p-).
if docker image inspect polardb-lab:polardb >/dev/null 2>&1; then
  export POLARDB_ENGINE=polardb POLARDB_LAB_PREFIX=${POLARDB_BENCH_PREFIX:-bench-p-}
  trap 'lab_down inventory/lab >/dev/null 2>&1 || true' EXIT
  lab_down inventory/lab >/dev/null
  ansible-playbook playbooks/lab.yml >/dev/null
  measure polardb_raw_site bench/raw-polardb.sh
  lab_down inventory/lab >/dev/null
  ansible-playbook playbooks/lab.yml >/dev/null
  measure polardb_site_first_converge ansible-playbook site.yml
  measure polardb_site_no_change ansible-playbook site.yml
  measure polardb_site_check ansible-playbook site.yml --check
  measure polardb_ping_round ansible polardb -m ansible.builtin.ping
  bench/dr.py "$out" polardb | tee -a "$results/dr.txt" || echo "bench/dr.py (PolarDB) failed: see above" >&2
  lab_down inventory/lab >/dev/null
else
  echo "no PolarDB image (polardb-lab:polardb): PolarDB figures left out; make image POLARDB_SRC_DIR=... builds it" >&2
fi

bench/report.py bench/targets.tsv "$out"
echo "results: $out"
