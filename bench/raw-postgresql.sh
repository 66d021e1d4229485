#!/usr/bin/env bash
# The baseline of `make bench`: the site's work on the PostgreSQL engine typed
# by hand, as shell commands in the lab's containers (docker exec), without
# the collection: a CA and a certificate per node (openssl), the primary on
# pb1 (initdb, TLS and replication settings, replication role, a hostssl
# entry and a slot per follower), the replica pb2 (base backup, start),
# the standby pb3 on its own disk (20 GiB sparse image, loop device with
# direct I/O, alias, ext4, mount, base backup, start), then one row written
# on pb1 until pb3 has it. Runs on a fresh lab (POLARDB_LAB_PREFIX) and
# checks nothing the collection checks: it is the floor, not a peer.
set -euo pipefail
prefix=${POLARDB_LAB_PREFIX:?set POLARDB_LAB_PREFIX to the lab this may fill}
bin=/usr/lib/postgresql/15/bin
home=/var/lib/postgresql
mount=/var/lib/polardb/nvme2n1
secret=bench-replication-secret

as_postgres() { docker exec -i -u postgres "$prefix$1" sh -se; }
as_root() { docker exec -i "$prefix$1" sh -se; }
# shellcheck source=bench/certificates.sh
. "$(dirname "$0")/certificates.sh"
tls="sslmode=verify-full sslrootcert=$home/tls/root.crt sslcert=$home/tls/node.crt sslkey=$home/tls/node.key"
follow() {  # host, data directory: a base backup of pb1 over TLS through the host's slot, then start it
  as_postgres "$1" <<EOF
PGPASSWORD=$secret $bin/pg_basebackup -d "host=pb1 user=replicator $tls" -D $2 -X stream -R -S $1 -c fast
$bin/pg_ctl -D $2 -l $2.log -w start >/dev/null
EOF
}

install_certificates $home pb1 pb2 pb3

as_postgres pb1 <<EOF
$bin/initdb -D $home/primary --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 \
  --data-checksums >/dev/null
cat >> $home/primary/postgresql.conf <<'CONF'
listen_addresses = '*'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
wal_log_hints = on
max_slot_wal_keep_size = 8GB
ssl = on
ssl_cert_file = '$home/tls/node.crt'
ssl_key_file = '$home/tls/node.key'
ssl_ca_file = '$home/tls/root.crt'
CONF
for follower in pb2 pb3; do
  echo "hostssl replication replicator \$(getent hosts \$follower | cut -d' ' -f1)/32 scram-sha-256" \
    >> $home/primary/pg_hba.conf
done
$bin/pg_ctl -D $home/primary -l $home/primary.log -w start >/dev/null
psql -X -q -c "CREATE ROLE replicator REPLICATION LOGIN PASSWORD '$secret'" \
  -c "SELECT pg_create_physical_replication_slot('pb2'), pg_create_physical_replication_slot('pb3')" >/dev/null
EOF

follow pb2 $home/replica

as_root pb3 <<EOF
truncate -s 20G /data/VirtualDisk_standby.img
device=\$(losetup -f)
[ -b "\$device" ] || mknod "\$device" b 7 "\${device#/dev/loop}"
losetup --direct-io=on "\$device" /data/VirtualDisk_standby.img
ln -sfn "\$device" /dev/nvme2n1
mkfs.ext4 -q /dev/nvme2n1
mkdir -p $mount
mount /dev/nvme2n1 $mount
chown postgres:postgres $mount
EOF

follow pb3 $mount/standby

as_postgres pb1 <<EOF
psql -X -q -c "CREATE TABLE bench_probe (id int); INSERT INTO bench_probe VALUES (1)"
EOF
as_postgres pb3 <<EOF
until [ "\$(psql -X -At -c 'SELECT count(*) FROM bench_probe' 2>/dev/null)" = 1 ]; do sleep 0.05; done
EOF
