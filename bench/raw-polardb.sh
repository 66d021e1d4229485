#!/usr/bin/env bash
# The baseline of `make bench` for the PolarDB engine: the site's work typed by
# hand, as shell commands in the lab's containers (docker exec), without the
# collection: a CA and a certificate per node (openssl); the disk pb1 and pb2
# share (20 GiB sparse image, loop device with direct I/O attached on pb1 and
# given the same node on pb2, alias /dev/nvme1n1, pfs mkfs from pb1, a pfsd on
# each); the primary on pb1 (initdb, its shared data moved onto PFS with
# polar-initdb.sh, PFS, TLS and replication settings, replication role, a
# hostssl entry and a slot per follower); the read-only replica pb2 (local
# directory from the shared data, configuration files of a scratch initdb,
# replica.signal, start); the standby pb3 on its own disk (image, loop device,
# alias /dev/nvme2n1, pfs mkfs, pfsd, a base backup with the shared data staged
# on the local disk, copied into PFS with pfs cp -r, standby.signal, start);
# then one row written on pb1 until pb3 and pb2 have it. Runs on a fresh lab
# (POLARDB_LAB_PREFIX) and checks nothing the collection checks: it is the
# floor, not a peer. The tools' chatter goes to /tmp/bench.log (root) and
# /home/postgres/bench.log (postgres) in each container.
set -euo pipefail
prefix=${POLARDB_LAB_PREFIX:?set POLARDB_LAB_PREFIX to the lab this may fill}
bin=/home/postgres/tmp_polardb_pg_15_base/bin
home=/home/postgres
pfsd=/usr/local/polarstore/pfsd/bin
secret=bench-replication-secret

as_postgres() { docker exec -i -u postgres "$prefix$1" sh -se; }
as_root() { docker exec -i "$prefix$1" sh -se; }
# shellcheck source=bench/certificates.sh
. "$(dirname "$0")/certificates.sh"
tls="sslmode=verify-full sslrootcert=$home/tls/root.crt sslcert=$home/tls/node.crt sslkey=$home/tls/node.key"
settings() {  # host id, disk: what every PolarDB node on PFS sets, and TLS
  cat <<EOF
listen_addresses = '*'
port = 5432
hot_standby = on
polar_enable_shared_storage_mode = on
polar_hostid = $1
polar_disk_name = '$2'
polar_datadir = '/$2/shared_data/'
polar_storage_cluster_name = 'disk'
polar_vfs.localfs_mode = off
shared_preload_libraries = '\$libdir/polar_vfs,\$libdir/polar_worker'
huge_pages = off
polar_logindex_mem_size = 64MB
polar_xlog_queue_buffers = 64MB
polar_xlog_page_buffers = 64MB
min_wal_size = 2GB
max_wal_size = 4GB
ssl = on
ssl_cert_file = '$home/tls/node.crt'
ssl_key_file = '$home/tls/node.key'
ssl_ca_file = '$home/tls/root.crt'
EOF
}
follow() {  # host, data directory, extra settings: stream from pb1 through the host's slot, then start
  as_postgres "$1" <<EOF
printf '*:5432:*:replicator:%s\n' '$secret' > $home/.pgpass.$1 && chmod 600 $home/.pgpass.$1
cat >> $2/postgresql.conf <<'CONF'
$3
primary_conninfo = 'host=pb1 port=5432 user=replicator passfile=$home/.pgpass.$1 application_name=$1 $tls'
primary_slot_name = '$1'
CONF
$bin/pg_ctl -D $2 -l $2.log -w -t 600 start >/dev/null
EOF
}
disk() {  # host, image, alias: a sparse image on a free loop device with direct I/O; prints the device
  as_root "$1" <<EOF
truncate -s 20G $2
for try in 1 2 3 4 5; do
  device=\$(losetup -f)
  [ -b "\$device" ] || mknod "\$device" b 7 "\${device#/dev/loop}"
  losetup --direct-io=on "\$device" $2 && break  # busy: another lab took it first
done
losetup -j $2 | grep -q "^\$device:"
ln -sfn "\$device" $3
echo "\$device"
EOF
}
pfs_up() {  # host, disk, format (yes/no): pfs mkfs when asked, then pfsd for the disk
  as_root "$1" <<EOF
mkdir -p -m 777 /var/run/pfs  # where PFS writers take their lock
[ $3 = no ] || pfs -C disk mkfs $2 >>/tmp/bench.log 2>&1
$pfsd/start_pfsd.sh -p $2 -w 1 >>/tmp/bench.log 2>&1
EOF
}

install_certificates $home pb1 pb2 pb3

# The shared disk: attached on pb1, the same loop device given a node on pb2.
shared=$(disk pb1 /shared/VirtualDisk.img /dev/nvme1n1)
pfs_up pb1 nvme1n1 yes
as_root pb2 <<EOF
mknod $shared b 7 ${shared#/dev/loop} && ln -sfn $shared /dev/nvme1n1
EOF
pfs_up pb2 nvme1n1 no

# The primary: a local directory whose shared data polar-initdb.sh moves onto PFS (as root).
as_postgres pb1 <<EOF
$bin/initdb -k -U postgres -D $home/primary >>$home/bench.log 2>&1
EOF
as_root pb1 <<EOF
pfs -C disk mkdir /nvme1n1/shared_data >>/tmp/bench.log 2>&1
$bin/polar-initdb.sh $home/primary/ /nvme1n1/shared_data/ primary disk >>/tmp/bench.log 2>&1
chown -R postgres:postgres $home/primary
EOF
as_postgres pb1 <<EOF
cat >> $home/primary/postgresql.conf <<'CONF'
$(settings 1 nvme1n1)
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_log_hints = on
max_slot_wal_keep_size = 8GB
archive_mode = off
CONF
for follower in pb2 pb3; do
  echo "hostssl replication replicator \$(getent hosts \$follower | cut -d' ' -f1)/32 scram-sha-256" \
    >> $home/primary/pg_hba.conf
done
$bin/pg_ctl -D $home/primary -l $home/primary.log -w -t 600 start >/dev/null
$bin/psql -X -q -c "CREATE ROLE replicator REPLICATION LOGIN PASSWORD '$secret'" \
  -c "SELECT pg_create_physical_replication_slot('pb2', true), pg_create_physical_replication_slot('pb3', true)" >/dev/null
EOF

# The replica: an empty directory filled from the shared data (as root), then
# the configuration files of a scratch initdb, replica.signal.
as_root pb2 <<EOF
mkdir -m 700 $home/replica
$bin/polar-initdb.sh $home/replica/ /nvme1n1/shared_data/ replica disk >>/tmp/bench.log 2>&1
chown -R postgres:postgres $home/replica
EOF
as_postgres pb2 <<EOF
$bin/initdb -k -U postgres -D $home/replica.initdb >>$home/bench.log 2>&1
cd $home/replica.initdb
cp -p pg_hba.conf pg_ident.conf polar_settings.conf postgresql.auto.conf postgresql.conf $home/replica/
rm -rf $home/replica.initdb
touch $home/replica/replica.signal
EOF
follow pb2 $home/replica "$(settings 2 nvme1n1)"

# The standby on its own PFS disk: the base backup writes the shared data to
# the local disk, pfs cp -r moves it into PFS (as root); standby.signal is local.
disk pb3 /data/VirtualDisk_standby.img /dev/nvme2n1 >/dev/null
pfs_up pb3 nvme2n1 yes
as_postgres pb3 <<EOF
PGPASSWORD=$secret $bin/polar_basebackup -d "host=pb1 user=replicator $tls" -D $home/standby \
  --polardata=$home/standby.staging/shared_data -X stream -S pb3 --checkpoint=fast >>$home/bench.log 2>&1
EOF
as_root pb3 <<EOF
pfs -C disk cp -r $home/standby.staging/shared_data /nvme2n1/ >>/tmp/bench.log 2>&1
rm -rf $home/standby.staging
pfs -C disk rm /nvme2n1/shared_data/standby.signal >/dev/null 2>&1 || true  # none without -R
touch $home/standby/standby.signal && chown postgres:postgres $home/standby/standby.signal
EOF
follow pb3 $home/standby "$(settings 3 nvme2n1)
archive_mode = off
max_slot_wal_keep_size = 8GB
wal_log_hints = on
recovery_min_apply_delay = '0'
full_page_writes = off
polar_has_partial_write = off
polar_resource_manager.enable_resource_manager = off"

as_postgres pb1 <<EOF
$bin/psql -X -q -c "CREATE TABLE bench_probe (id int); INSERT INTO bench_probe VALUES (1)"
EOF
for follower in pb3 pb2; do
  as_postgres $follower <<EOF
until [ "\$($bin/psql -X -At -c 'SELECT count(*) FROM bench_probe' 2>/dev/null)" = 1 ]; do sleep 0.05; done
EOF
done
