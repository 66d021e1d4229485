#!/usr/bin/env python3
"""Fake `blkid -p -o export` and `wipefs -n -J -O TYPE,USAGE,OFFSET`
(linked under either name) replaying util-linux 2.38 output for the disk
named by $BLOCKDEV_FAKE: ext4, empty, gpt, ambivalent, broken."""
import json
import os
import sys

TOOL = os.path.basename(sys.argv[0])
DISK = os.environ.get('BLOCKDEV_FAKE', 'empty')
PATH = sys.argv[-1]

WIPEFS = {
    'ext4': [{'type': 'ext4', 'usage': 'filesystem', 'offset': '0x438'}],
    'empty': [],
    'gpt': [{'type': 'gpt', 'usage': 'partition table', 'offset': '0x200'},
            {'type': 'PMBR', 'usage': 'partition table', 'offset': '0x1fe'}],
    'ambivalent': [{'type': 'ext4', 'usage': 'filesystem', 'offset': '0x438'},
                   {'type': 'swap', 'usage': 'other', 'offset': '0xff6'}],
}
BLKID = {
    'ext4': (0, 'DEVNAME=%s\nUUID=cf7e9c72-d475-4064-816b-3d4a6c2d0c5d\nVERSION=1.0\nBLOCK_SIZE=1024\n'
                'TYPE=ext4\nUSAGE=filesystem\n' % PATH, ''),
    'empty': (2, '', ''),
    'gpt': (0, 'DEVNAME=%s\nPTUUID=0f2d9a3c-5e1b-4c7e-9d2a-3b4c5d6e7f80\nPTTYPE=gpt\n' % PATH, ''),
    'ambivalent': (8, '', '%s: ambivalent result (probably more filesystems on the device, use wipefs(8) '
                          'to see more details)\n' % PATH),
}

if DISK == 'broken':
    sys.stderr.write('%s: error: %s: probing initialization failed: Permission denied\n' % (TOOL, PATH))
    sys.exit(1 if TOOL == 'wipefs' else 4)
if TOOL == 'wipefs':
    print(json.dumps({'signatures': WIPEFS[DISK]}, indent=3))
else:
    rc, out, err = BLKID[DISK]
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(rc)
