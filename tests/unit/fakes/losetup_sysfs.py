"""Fake kernel loop devices (a sysfs tree the fake losetup also uses) and
fake device nodes: regular files holding MAJ:MIN, so tests need no mknod."""
import os


def add_loop(sys_root, number, backing=None, dio='1', sectors=None):
    base = os.path.join(str(sys_root), 'block', 'loop%d' % number)
    os.makedirs(base)
    if sectors is None:
        sectors = os.stat(backing).st_size // 512 if backing and os.path.exists(backing) else 0
    _write(os.path.join(base, 'dev'), '7:%d' % number)
    _write(os.path.join(base, 'size'), str(sectors))
    if backing:
        os.mkdir(os.path.join(base, 'loop'))
        for name, value in (('backing_file', backing), ('dio', dio), ('offset', '0'), ('sizelimit', '0')):
            _write(os.path.join(base, 'loop', name), value)


def _write(path, text):
    with open(path, 'w') as handle:
        handle.write(text + '\n')


def make_node(path, devno):
    with open(path, 'w') as handle:
        handle.write(devno)


def node_matches(path, devno):
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    with open(path) as handle:
        return handle.read() == devno
