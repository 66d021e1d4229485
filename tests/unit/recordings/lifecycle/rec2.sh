set -e
B=/usr/lib/postgresql/15/bin
cd "$REC_DIR"; rm -rf p2 s2
$B/initdb -D p2 -A trust >/dev/null
printf "port=6003\nunix_socket_directories='"$REC_DIR"'\nlisten_addresses=''\n" >> p2/postgresql.conf
$B/pg_ctl -D p2 -l p2.log start -w >/dev/null
$B/pg_basebackup -h "$REC_DIR" -p 6003 -D s2 -R >/dev/null
sed -i 's/port=6003/port=6004/' s2/postgresql.conf
$B/pg_ctl -D s2 -l s2.log start -w >/dev/null
$B/psql -h "$REC_DIR" -p 6003 -d postgres -qc "create table t(i int); insert into t select generate_series(1,10)"
$B/pg_ctl -D p2 stop -m fast -w >/dev/null
sleep 1
$B/pg_ctl -D s2 promote -w >/dev/null
$B/psql -h "$REC_DIR" -p 6004 -d postgres -Atc "select pg_read_file('pg_wal/00000002.history')" > history-2-clean.txt
LC_ALL=C $B/pg_controldata p2 > controldata-clean-primary.txt
CP=$(grep 'Latest checkpoint location' controldata-clean-primary.txt | awk '{print $4}')
$B/pg_waldump -p p2/pg_wal -t 1 -s $CP > waldump-clean-primary.txt 2> waldump-clean-primary.err || true
$B/pg_ctl -D s2 stop -w >/dev/null
LC_ALL=C $B/pg_controldata s2 > controldata-stopped-promoted.txt
