#!/usr/bin/env python3
"""Fake util-linux 2.38 losetup over a fake sysfs tree.

The kernel's loop devices live in $LOSETUP_FAKE_SYS/block/loopN (dev, size,
and a loop/ folder with backing_file and dio while attached). Device
arguments are node paths; only their base name matters. Every call is
appended to $LOSETUP_FAKE_LOG. $LOSETUP_FAKE_BUSY=N makes the first N
attach attempts fail as if another attacher won the race;
$LOSETUP_FAKE_NO_DIO=1 makes the kernel ignore direct I/O requests;
$LOSETUP_FAKE_IN_USE=1 makes -d leave the device attached (still in use).
Output and messages copy the real tool's.
"""
import json
import os
import shutil
import sys

SYS = os.path.join(os.environ['LOSETUP_FAKE_SYS'], 'block')
LOG = os.environ['LOSETUP_FAKE_LOG']


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text + '\n')


def read(path):
    with open(path) as handle:
        return handle.read().strip()


def loop_dir(device):
    return os.path.join(SYS, os.path.basename(device), 'loop')


def attached(kname):
    return os.path.isdir(os.path.join(SYS, kname, 'loop'))


def set_dio(device, on):
    if os.environ.get('LOSETUP_FAKE_NO_DIO') != '1' or not on:
        write(os.path.join(loop_dir(device), 'dio'), '1' if on else '0')


def attach(device, image, dio):
    busy_file = LOG + '.busy'
    busy = int(os.environ.get('LOSETUP_FAKE_BUSY', '0'))
    done = int(read(busy_file)) if os.path.exists(busy_file) else 0
    kname = os.path.basename(device)
    if attached(kname) or done < busy:
        write(busy_file, str(done + 1))
        write(os.path.join(SYS, kname, 'loop', 'backing_file'), '/other-container.img')
        write(os.path.join(SYS, kname, 'loop', 'dio'), '0')
        sys.exit('losetup: %s: failed to set up loop device: Device or resource busy' % device)
    write(os.path.join(loop_dir(device), 'backing_file'), os.path.abspath(image))
    write(os.path.join(loop_dir(device), 'dio'), '0')
    set_dio(device, dio)
    refresh(device)


def refresh(device):
    backing = read(os.path.join(loop_dir(device), 'backing_file'))
    write(os.path.join(SYS, os.path.basename(device), 'size'), str(os.stat(backing).st_size // 512))


def list_json(device):
    entry = {'name': device, 'back-ino': None, 'back-maj:min': None, 'dio': False}
    if attached(os.path.basename(device)):
        backing = read(os.path.join(loop_dir(device), 'backing_file'))
        st = os.stat(backing) if os.path.exists(backing) else None
        entry.update({'back-ino': st.st_ino if st else 12345,
                      'back-maj:min': '%8d:%-3d' % (os.major(st.st_dev), os.minor(st.st_dev)) if st else '0:99',
                      'dio': read(os.path.join(loop_dir(device), 'dio')) == '1'})
    print(json.dumps({'loopdevices': [entry]}, indent=3))


def first_free():
    numbers = sorted(int(name[4:]) for name in os.listdir(SYS) if name.startswith('loop'))
    free = [n for n in numbers if not attached('loop%d' % n)]
    number = free[0] if free else (numbers[-1] + 1 if numbers else 0)
    write(os.path.join(SYS, 'loop%d' % number, 'dev'), '7:%d' % number)
    write(os.path.join(SYS, 'loop%d' % number, 'size'), '0')
    print('/dev/loop%d' % number)


def main(args):
    with open(LOG, 'a') as handle:
        handle.write(' '.join(args) + '\n')
    if args[:2] == ['-l', '-J']:
        return list_json(args[-1])
    if args == ['-f']:
        return first_free()
    if args[0] == '-c':
        return refresh(args[1])
    if args[0] == '-d':
        if os.environ.get('LOSETUP_FAKE_IN_USE') == '1':
            return  # the kernel only sets autoclear on a device still in use
        shutil.rmtree(loop_dir(args[1]))
        return write(os.path.join(SYS, os.path.basename(args[1]), 'size'), '0')
    if args[0].startswith('--direct-io='):
        on = args[0].endswith('=on')
        if len(args) == 3:
            return attach(args[1], args[2], on)
        return set_dio(args[1], on)
    sys.exit('fake losetup: unsupported arguments %r' % args)


if __name__ == '__main__':
    main(sys.argv[1:])
