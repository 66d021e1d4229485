"""The Docker lab: up twice without change, usable loop devices, a clean teardown."""


def test_second_lab_run_changes_nothing(lab):
    _, output, changed = lab.playbook("playbooks/lab.yml")
    assert changed == {"localhost": 0}, output[-3000:]


def test_containers_answer_ansible_over_docker(lab):
    _, output, _ = lab.playbook("tests/integration/playbooks/ping.yml")
    for host in ("pb1", "pb2", "pb3"):
        assert "ok: [%s]" % host in output


def test_containers_run_with_an_init(lab):
    for host in ("pb1", "pb2", "pb3"):
        init = lab.in_container(host, "tr '\\0' ' ' < /proc/1/cmdline").stdout
        assert "docker-init" in init or "tini" in init


def test_pb3_attaches_an_image_with_direct_io_and_detaches_it(lab):
    script = """
set -e
truncate -s 11G /data/lab-test.img
dev=$(losetup -f)
[ -e "$dev" ] || mknod "$dev" b 7 "${dev#/dev/loop}"
losetup --direct-io=on "$dev" /data/lab-test.img
cat /sys/block/${dev#/dev/}/loop/dio
losetup -j /data/lab-test.img | cut -d: -f1
losetup -d "$dev"
losetup -j /data/lab-test.img | wc -l
rm /data/lab-test.img
"""
    dio, device, remaining = lab.in_container("pb3", script).stdout.split()
    assert dio == "1"
    assert device.startswith("/dev/loop")
    assert remaining == "0"


def test_check_mode_on_an_empty_lab_explains_and_changes_nothing(lab):
    _, output, changed = lab.playbook("site.yml", "--check")
    assert "Check mode: /var/lib/postgresql/primary does not exist yet" in output
    assert "Check mode: the primary pb1 does not exist yet" in output
    assert changed["pb2"] == 0 and changed["pb3"] == 0
    assert lab.in_container("pb1", "test -e /var/lib/postgresql/primary", check=False).returncode != 0
    assert lab.attached_devices() == []


def test_teardown_leaves_nothing_even_with_a_mounted_device(lab):
    script = """
set -e
truncate -s 11G /data/teardown.img
dev=$(losetup -f)
[ -e "$dev" ] || mknod "$dev" b 7 "${dev#/dev/loop}"
losetup --direct-io=on "$dev" /data/teardown.img
mkfs.ext4 -q "$dev"
mkdir -p /mnt/teardown && mount "$dev" /mnt/teardown
echo "$dev"
"""
    lab.in_container("pb3", script)
    assert lab.attached_devices(), "the test device should be attached before teardown"

    lab.playbook("playbooks/lab.yml", "-e", "lab_state=absent")

    assert lab.attached_devices() == []
    names = lab.docker("ps", "-a", "--filter", "label=org.polardb.lab=" + lab.network, "--format", "{{.Names}}").stdout
    assert names.strip() == ""
    assert lab.docker("network", "inspect", lab.network, check=False).returncode != 0
    for image in lab.data.rglob("*.img"):
        image.unlink()
