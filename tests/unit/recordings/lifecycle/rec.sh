set -e
B=/usr/lib/postgresql/15/bin
cd "$REC_DIR"
$B/initdb -D p -A trust >/dev/null
cat >> p/postgresql.conf <<X
port=6001
unix_socket_directories='"$REC_DIR"'
wal_log_hints=on
listen_addresses=''
X
$B/pg_ctl -D p -l p.log start -w >/dev/null
$B/pg_basebackup -h "$REC_DIR" -p 6001 -D s -R >/dev/null
sed -i 's/port=6001/port=6002/' s/postgresql.conf
$B/pg_ctl -D s -l s.log start -w >/dev/null
$B/psql -h "$REC_DIR" -p 6001 -d postgres -qc "create table t(i int); insert into t select generate_series(1,10)"
sleep 1
$B/pg_ctl -D s stop -w >/dev/null
# primary writes what the standby never receives
$B/psql -h "$REC_DIR" -p 6001 -d postgres -qc "insert into t select generate_series(11,20)"
$B/pg_ctl -D p stop -m fast -w >/dev/null
$B/pg_ctl -D s -l s.log start -w >/dev/null
$B/pg_ctl -D s promote -w >/dev/null
$B/psql -h "$REC_DIR" -p 6002 -d postgres -Atc "select pg_read_file('pg_wal/00000002.history')" > history-2.txt
$B/psql -h "$REC_DIR" -p 6002 -d postgres -Atc "select pg_current_wal_lsn()" > upstream-lsn.txt
LC_ALL=C $B/pg_controldata p > controldata-diverged-primary.txt
LC_ALL=C $B/pg_controldata s > controldata-running-promoted.txt
CP=$(grep 'Latest checkpoint location' controldata-diverged-primary.txt | awk '{print $4}')
$B/pg_waldump -p p/pg_wal -t 1 -s $CP > waldump-diverged-primary.txt 2> waldump-diverged-primary.err || true
