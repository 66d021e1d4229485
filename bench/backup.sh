#!/usr/bin/env bash
# usage: backup.sh RESULTS LOGS   (PostgreSQL lab with pb1's data to measure on; POLARDB_LAB_PREFIX names it)
# Appends to RESULTS: raw_backup_1gib (pg_basebackup by hand, plain, WAL streamed, into pb3's
# repository), backup_1gib (playbooks/backup.yml: the archive kept, a backup taken, verified and
# checked), raw_restore_1gib (that backup copied, recovered and promoted by hand on port 5499) and
# restore_1gib (playbooks/restore.yml doing the same beside the standby: the restore drill's time).
# backup_1gib_in_module is the backup's own time as backup.yml reports it (pg_basebackup and the
# verification, without Ansible's start and the archive's record check); restore_1gib_in_role the
# restore's, from its layout to the first write accepted, as its receipt says. Each is measured
# BENCH_REPS times (3), by hand and by the tool in turn, and the best is kept: on 2 cores one
# sample of a few seconds moves by half from run to run.
set -euo pipefail
results=$1 logs=$2
reps=${BENCH_REPS:-3}
bin=/usr/lib/postgresql/15/bin
repo=/var/lib/polardb-backup
side=/var/lib/polardb/nvme2n1/bench-restore
secret=lab-replication-secret  # inventory/lab's
in_pb3() { docker exec -u postgres "${POLARDB_LAB_PREFIX}pb3" sh -c "$1"; }

. "$(dirname "$0")/lib.sh"

restore_by_hand() {
  in_pb3 "rm -rf $side && cp -a $repo/bench-raw $side && touch $side/recovery.signal &&
    printf \"port = 5499\nrestore_command = '/bin/false'\nrecovery_target_action = 'promote'\narchive_mode = off\n\" \
      >> $side/postgresql.auto.conf &&
    $bin/pg_ctl start -w -t 3600 -l $side.log -D $side &&
    until [ \"\$(psql -X -At -p 5499 -d postgres -c 'SELECT pg_is_in_recovery()')\" = f ]; do sleep 0.2; done &&
    $bin/pg_ctl stop -m fast -D $side"
}

ansible-playbook playbooks/backup.yml -e backup_max_age=86400 >"$logs/backup-archive.log" 2>&1
samples=$(mktemp)
out=$samples  # measure() appends here; the best of each goes to $results below
for _ in $(seq "$reps"); do
  in_pb3 "rm -rf $repo/bench-raw"
  measure raw_backup_1gib in_pb3 \
    "PGPASSWORD=$secret $bin/pg_basebackup -h pb1 -U replicator -D $repo/bench-raw -Fp -X stream -c fast"
  measure backup_1gib ansible-playbook playbooks/backup.yml
  sed -n 's/.*Backup [0-9TZ]* taken in \([0-9.]*\) s.*/backup_1gib_in_module\t\1/p' "$logs/backup_1gib.log" >>"$out"

  measure raw_restore_1gib restore_by_hand
  in_pb3 "rm -rf $side $side.log"
  measure restore_1gib ansible-playbook playbooks/restore.yml --limit pb3 \
    -e restore_data_dir=$side -e restore_listen_port=5499
  sed -n 's/.*archived WAL segments in \([0-9.]*\) s, to .*/restore_1gib_in_role\t\1/p' "$logs/restore_1gib.log" >>"$out"
  in_pb3 "$bin/pg_ctl stop -m fast -D $side && rm -rf $side $side.log"
done
in_pb3 "rm -rf $repo/bench-raw"
for name in raw_backup_1gib backup_1gib backup_1gib_in_module raw_restore_1gib restore_1gib restore_1gib_in_role; do
  awk -F'\t' -v n="$name" '$1 == n {print $2}' "$samples" | sort -n | head -1 |
    awk -v n="$name" '{printf "%s\t%s\n", n, $1}' >>"$results"
done
rm -f "$samples"
