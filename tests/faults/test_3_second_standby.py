"""6. A second standby pb4 in the inventory: its own slot, disk and data; pb3 untouched; the progress of
its (throttled) base backup shows in the run's output."""
import re
import time

import pytest

import labtools


@pytest.mark.full(reason="checked by make test-full only")
def test_a_second_standby_gets_its_own_slot_disk_and_data_without_touching_pb3(lab):
    inventory = lab.inventory("with-pb4", standbys=["pb4"])
    pb3_before = dict(started=lab.postmaster_start("pb3"), sysid=lab.system_identifier("pb3"),
                      data_dir=lab.sh("pb3", "stat -c %i " + lab.standby_data),
                      files=lab.sh("pb3", "cd %s && md5sum postgresql.conf polardb_standby.conf "
                                          "postgresql.auto.conf /var/lib/postgresql/.pgpass.pb3" % lab.standby_data),
                      disk=sorted(labtools.attached_lab_devices()))
    pb1_started = lab.postmaster_start("pb1")

    lab.converge("-i", inventory, "playbooks/lab.yml")
    with lab.writer("second-standby"):
        time.sleep(1)
        run = lab.converge("-i", inventory, "site.yml", "-e", "standby_backup_max_rate=2M",
                           "-e", "standby_backup_progress_interval=2")
    assert run.changed["pb3"] == 0 and run.changed["pb2"] == 0, run.tail()
    # The copy's progress, as the primary counts it, while it runs: bytes done of the estimate, and the rate.
    progress = re.findall(r"pb4: base backup of pb1: streaming database files, ([\d.]+ [KM]B) of ([\d.]+ MB) "
                          r"\((\d+)%\), ([\d.]+ [KM]B)/s", run.output)
    assert len(progress) >= 2, run.tail()
    percents = [int(percent) for _, _, percent, _ in progress]
    assert percents == sorted(percents) and percents[0] < percents[-1], progress
    assert run.changed["pb4"] > 0 and run.changed["pb1"] > 0, run.tail()

    # Its own slot, streaming, and every row.
    assert lab.db("pb1").query("SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots "
                               "WHERE slot_type = 'physical'") == "pb2,pb3,pb4"
    lab.assert_healthy("pb4")
    assert lab.system_identifier("pb4") == lab.system_identifier("pb1")
    # Its own image in its own /data, on its own loop device.
    pb4_image = lab.data / "pb4" / "VirtualDisk_standby.img"
    pb3_image = lab.data / "pb3" / "VirtualDisk_standby.img"
    pb4_devices = labtools.attached_lab_devices()
    assert pb4_image.is_file() and pb4_image.stat().st_ino != pb3_image.stat().st_ino
    [pb4_device] = [d for d in pb4_devices if d not in pb3_before["disk"]]
    assert lab.sh("pb4", "readlink -f /dev/nvme2n1") == pb4_device
    assert lab.sh("pb4", "findmnt -n -o SOURCE --mountpoint %s" % lab.standby_mount) == pb4_device
    assert lab.sh("pb4", "grep -o \"primary_slot_name = 'pb4'\" %s/polardb_standby.conf" % lab.standby_data)
    # pb3 and pb1 were neither restarted nor rebuilt.
    assert pb3_before == dict(started=lab.postmaster_start("pb3"), sysid=lab.system_identifier("pb3"),
                              data_dir=lab.sh("pb3", "stat -c %i " + lab.standby_data),
                              files=lab.sh("pb3", "cd %s && md5sum postgresql.conf polardb_standby.conf "
                                                  "postgresql.auto.conf /var/lib/postgresql/.pgpass.pb3"
                                           % lab.standby_data),
                              disk=sorted(d for d in labtools.attached_lab_devices() if d != pb4_device))
    assert lab.postmaster_start("pb1") == pb1_started
    lab.assert_healthy("pb3")
