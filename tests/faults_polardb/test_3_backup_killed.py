"""A staged base backup killed half-way while pb1 writes: the next run removes what it had made, and only that.

On PolarDB 15 the backup is staged: polar_basebackup copies the shared data
into a local staging folder beside the data directory, then `pfs cp -r` puts
it on PFS. The module is killed in either step, so that it cannot clean up;
its marker beside the data directory records what it had created (local data
directory, staging folder, the PFS shared data), and the next run removes
exactly that, then backs up again. Files of the operator elsewhere on the
local disk and on PFS stay.
"""
import json

import pytest

# Slow enough to be caught half-way; only the polar_basebackup case needs it.
SLOW_BACKUP = ("-e", "standby_backup_max_rate=1M")
LEFTOVER = "left-by-the-killed-run"
NOTE = "operator-notes.txt"

# Waits in pb3 until the step is under way, then kills the module first (so
# that it cannot clean up), then the step's processes. `pfs cp` of the lab's
# small shared data lasts about a second, too short to catch by polling: each
# look freezes it (SIGSTOP) and lets it go on until the copy is seen on PFS.
KILLER = r"""
deadline=$(( $(date +%%s) + 280 ))
while [ "$(date +%%s)" -lt "$deadline" ]; do
  for p in $(pidof %(tool)s); do
    if tr '\0' ' ' < /proc/$p/cmdline | grep -q -e '%(argument)s'; then
      %(freeze)s
      if %(under_way)s; then
        module=$(python3 -c "import json; print(json.load(open('%(marker)s'))['pid'])")
        kill -KILL "$module"; kill -KILL %(victims)s
        echo "$module"; exit 0
      fi
      %(thaw)s
    fi
  done
  sleep %(pause)s
done
echo "%(tool)s never got under way" >&2; exit 1
"""


def killer(lab, step):
    if step == "polar_basebackup":
        return KILLER % dict(tool="polar_basebackup", argument="--polardata=%s/" % lab.staging,
                             under_way="[ -d %s/shared_data/base ]" % lab.staging, marker=lab.marker,
                             victims="$(pidof timeout polar_basebackup)", freeze=":", thaw=":", pause="0.2")
    return KILLER % dict(tool="pfs", argument=" cp -r %s/" % lab.staging,
                         under_way="pfs -C disk stat %s/global >/dev/null 2>&1" % lab.shared_data,
                         marker=lab.marker, victims="$p", freeze="kill -STOP $p", thaw="kill -CONT $p",
                         pause="0.02")


def rebuild_from_scratch(lab):
    """What an operator does to rebuild pb3: stop the standby, remove its data directory and shared data."""
    lab.sh("pb3", "%s/pg_ctl stop -m fast -D %s" % (lab.bin, lab.standby_data), user="postgres")
    lab.sh("pb3", "rm -rf " + lab.standby_data)
    lab.pfs("rm", "-r", lab.shared_data)


def place_notes(lab):
    """A file of the operator beside the data directory, and one on PFS beside the shared data."""
    lab.sh("pb3", "echo keep me > %s/%s" % (lab.home, NOTE))
    lab.sh("pb3", "echo keep me > /tmp/%s && pfs -C disk cp /tmp/%s %s%s >/dev/null"
           % (NOTE, NOTE, lab.pfs_root, NOTE))


def notes(lab):
    return (lab.sh("pb3", "cat %s/%s" % (lab.home, NOTE), check=False),
            lab.pfs("read", lab.pfs_root + NOTE, check=False))


def remove_notes(lab):
    lab.sh("pb3", "rm -f %s/%s" % (lab.home, NOTE))
    lab.pfs("rm", lab.pfs_root + NOTE, check=False)


def primary_identity(lab):
    return (lab.postmaster_start("pb1"), lab.system_identifier("pb1"),
            lab.sh("pb1", "md5sum %s/pg_hba.conf %s/postgresql.conf" % (lab.primary_data, lab.primary_data)))


@pytest.mark.parametrize("step", ["polar_basebackup", "pfs cp"])
def test_a_staged_backup_killed_half_way_is_cleaned_and_built_on_the_next_run(lab, step):
    primary = primary_identity(lab)
    old_backup = lab.backup_identity()
    pfs_root = lab.pfs_names(lab.pfs_root)
    rebuild_from_scratch(lab)
    place_notes(lab)
    try:
        with lab.writer("backup-killed-in-" + step.replace(" ", "-")) as writer:
            process = lab.start_playbook(*lab.rerun, *(SLOW_BACKUP if step == "polar_basebackup" else ()))
            try:
                module_pid = lab.sh("pb3", killer(lab, step))
            finally:
                run = lab.finish_playbook(process)
            assert run.returncode != 0 and run.recap["pb3"]["failed"] == 1, run.tail()
            # What the killed run leaves: its marker, naming what it had created, and a partial copy.
            record = json.loads(lab.sh("pb3", "cat " + lab.marker))
            assert record["pid"] == int(module_pid)
            made = {entry["path"]: entry["created"] for entry in record["locations"]}
            assert made == {lab.standby_data: True, lab.shared_data: True, lab.staging: True,
                            lab.staging + "/shared_data": True}, record
            assert lab.sh("pb3", "pidof polar_basebackup pfs timeout || echo none") == "none"
            assert lab.sh("pb3", "test -e %s/standby.signal || echo partial" % lab.standby_data) == "partial"
            if step == "polar_basebackup":
                # The tool had not finished: pg_basebackup writes its manifest last; nothing on PFS yet.
                assert lab.sh("pb3", "test -e %s/backup_manifest || echo unfinished" % lab.standby_data) == \
                    "unfinished"
                assert lab.pfs_names(lab.shared_data) is None
            else:
                assert "global" in lab.pfs_names(lab.shared_data)
                lab.pfs("touch", "%s/%s" % (lab.shared_data, LEFTOVER))
            # Something in each folder the run had made, to see that the next run removes the folder.
            lab.sh("pb3", "touch %s/%s %s/%s" % (lab.standby_data, LEFTOVER, lab.staging, LEFTOVER))
            rows_before_rerun = writer.rows()
            rerun = lab.converge(*lab.rerun, "-v")
        assert "remove the leftovers of an interrupted run recorded in %s" % lab.marker in rerun.output, \
            rerun.tail()
        # Only what the killed run had made was removed, then built again ...
        assert LEFTOVER not in lab.sh("pb3", "ls -A " + lab.standby_data).split()
        assert lab.sh("pb3", "test -e %s || test -e %s || echo gone" % (lab.staging, lab.marker)) == "gone"
        assert LEFTOVER not in lab.pfs_names(lab.shared_data)
        # ... the operator's files on local disk and on PFS are still there ...
        assert notes(lab) == ("keep me", "keep me")
        assert lab.pfs_names(lab.pfs_root) == sorted(pfs_root + [NOTE])
        # ... and pb3 is a new copy of pb1, streaming, with every row; pb1 untouched.
        assert lab.sh("pb3", "test -f %s/standby.signal && echo standby" % lab.standby_data) == "standby"
        assert lab.system_identifier("pb3") == lab.system_identifier("pb1")
        new_backup = lab.backup_identity()
        assert new_backup["local_label"] != old_backup["local_label"]
        assert new_backup["pfs_label"] != old_backup["pfs_label"]
        assert primary_identity(lab) == primary
        assert writer.rows() > rows_before_rerun > 20
        lab.assert_healthy()
    finally:
        remove_notes(lab)
