#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: config_files
short_description: Write a server's small files (settings, password file, certificates) in one call
version_added: 0.2.0
author: polardb.cluster contributors (@polardb-cluster)
description:
  - Makes each of I(files) hold exactly its I(content) (or I(secret)), with one owner, group
    and mode, and each of I(directories) exist, in one call on the host.
  - The same work as one M(ansible.builtin.file), M(ansible.builtin.copy) or
    M(ansible.builtin.template) and M(ansible.builtin.lineinfile) per file, without their
    two or three round trips each, which on a run that changes nothing are what costs time.
  - A settings file can be included from a server's C(postgresql.conf) with I(include_from); the
    module appends C(include_if_exists = 'NAME') to it when no line says so.
  - Files are written through a private (0600) temporary file in the same folder, then renamed,
    so a reader sees the old or the new content, never a key readable by others.
options:
  files:
    description: The files, each written whole.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute, normalised path of the file (no C(.), C(..), repeated or trailing C(/)). Its
            folder must exist or be one of I(directories).
          - A symbolic link there is refused, never followed, and so is a folder, FIFO, socket or
            device; so is a folder on the way that is a link owned by another user than root.
        type: path
        required: true
      content:
        description: What the file holds, shown in C(--diff).
        type: str
      secret:
        description: What the file holds, for a key or a password; never shown or logged.
        type: str
      mode:
        description: Permissions of the file.
        type: raw
        default: '0600'
      include_from:
        description:
          - A C(postgresql.conf) that must include this file. A line
            C(include_if_exists = 'NAME') is appended to it when missing; NAME is the file's
            name when both are in one folder, else its path. The rest of that file is left as it is.
        type: path
  directories:
    description:
      - Folders made (or given I(owner), I(group) and I(directory_mode)) before the files.
      - Absolute and normalised; a symbolic link there is refused, never followed.
    type: list
    elements: path
    default: []
  directory_mode:
    description: Permissions of I(directories).
    type: raw
    default: '0700'
  owner:
    description: Owner of the files and folders (the database user). Unchanged when not given.
    type: str
  group:
    description: Group of the files and folders. Unchanged when not given.
    type: str
notes:
  - Exactly one of I(content) and I(secret) is given for each file.
  - Files and folders are replaced or changed only where they differ, so a second run reports no change.
  - The folders hold files the database user owns, and the module runs as root, so it never follows a
    symbolic link it finds in their place, so that a link to C(/etc/shadow) is neither read, shown
    in a diff, nor given to the database user.
attributes:
  check_mode:
    support: full
    description: Reports what would be written and changes nothing.
  diff_mode:
    support: full
    description:
      - Shows each changed file's content (C(secret) files as a placeholder) and each include line added.
      - Only with C(--diff); without it the result holds no content.
'''

EXAMPLES = r'''
- name: Install the node's certificates
  polardb.cluster.config_files:
    directories: [/var/lib/postgresql/tls]
    owner: postgres
    group: postgres
    files:
      - path: /var/lib/postgresql/tls/root.crt
        content: "{{ lookup('ansible.builtin.file', 'tls/ca.crt', rstrip=false) }}"
      - path: /var/lib/postgresql/tls/node.key
        secret: "{{ lookup('ansible.builtin.file', 'tls/pb3.key', rstrip=false) }}"
  become: true

- name: Write the standby's settings and its password file
  polardb.cluster.config_files:
    owner: postgres
    group: postgres
    files:
      - path: /var/lib/postgresql/standby/polardb_standby.conf
        content: "{{ lookup('ansible.builtin.template', 'polardb_standby.conf.j2') }}"
        include_from: /var/lib/postgresql/standby/postgresql.conf
      - path: /var/lib/postgresql/.pgpass_replication
        secret: "{{ replication_password | polardb.cluster.pgpass_entry('replicator', 5432) }}\n"
  register: settings
  become: true

- name: Restart when the settings changed
  ansible.builtin.debug:
    msg: restart needed
  when: "'/var/lib/postgresql/standby/polardb_standby.conf' in settings.changed_paths"
'''

RETURN = r'''
changed_paths:
  description:
    - The files and folders that were (in check mode, would be) made or changed, in the order
      given; a C(postgresql.conf) that got its include line too.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/postgresql/standby/polardb_standby.conf, /var/lib/postgresql/standby/postgresql.conf]
files:
  description: Each file and what happened to it.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    state:
      description: >-
        C(created), C(updated) (content), C(attributes) (owner, group or mode only) or C(unchanged).
      type: str
  sample: [{path: /var/lib/postgresql/tls/root.crt, state: unchanged}]
'''

import errno
import os
import stat
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem

SECRET_PLACEHOLDER = '(secret: not shown)\n'


def shown(data, secret):
    return SECRET_PLACEHOLDER if secret else to_native(data, errors='surrogate_or_replace')


class Refused(Exception):
    """A path the module will not read or write, with what to do."""


def refuse_link(path):
    raise Refused('%s is a symbolic link; config_files never follows links: remove it, then run again.' % path)


def check_folders(path):
    """Refuse a link on the way to PATH that another user than root could have made or changed.

    Root's links (/var/run -> /run) are the system's; the database user's would send root's writes
    and chowns wherever it chose.
    """
    folder = '/'
    for part in os.path.dirname(path).split('/')[1:]:
        folder = os.path.join(folder, part)
        try:
            st = os.lstat(folder)
        except OSError:
            return  # made later (directories, or an earlier task in check mode)
        if stat.S_ISLNK(st.st_mode) and st.st_uid != 0:
            raise Refused('%s, a folder on the way to %s, is a symbolic link owned by uid %d; config_files '
                          'follows only root\'s links: replace it by the folder, then run again.'
                          % (folder, path, st.st_uid))


def existing(path):
    """lstat of PATH, None when nothing is there; a link is refused."""
    try:
        st = os.lstat(path)
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        raise
    if stat.S_ISLNK(st.st_mode):
        refuse_link(path)
    return st


def read_regular(path):
    """The content of the regular file PATH, None when missing.

    O_NOFOLLOW: a link put there after the lstat is refused, not followed. O_NONBLOCK: a FIFO
    opens at once instead of waiting for a writer, then fstat refuses it with the devices.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0))
    except OSError as e:
        if e.errno == errno.ENOENT:
            return None
        if e.errno == errno.ELOOP:
            refuse_link(path)
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise Refused('%s is not a regular file (a FIFO, socket or device?): move it away, then run again.'
                          % path)
        chunks = []
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return b''.join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


class ConfigFiles(object):
    """Plans every folder, file and include line once; writes them unless checking."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.changed_paths = []
        self.diffs = []
        self.new_dirs = set()

    def attributes(self, path, mode, changed):
        params = self.params
        for setter, value in ((self.module.set_owner_if_different, params['owner']),
                              (self.module.set_group_if_different, params['group'])):
            if value is not None:
                changed = setter(path, value, changed)
        return self.module.set_mode_if_different(path, mode, changed)

    def directory(self, path):
        check_folders(path)
        st = existing(path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            if self.attributes(path, self.params['directory_mode'], False):
                self.changed_paths.append(path)
            return
        if st is not None:
            self.module.fail_json(msg='%s exists and is not a folder: move it away, then run again.' % path)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent) and parent not in self.new_dirs:
            self.module.fail_json(msg='Cannot make %s: its folder %s does not exist.' % (path, parent))
        self.new_dirs.add(path)
        self.changed_paths.append(path)
        self.diffs.append(dict(before_header=path, after_header=path, before='(absent)\n', after='(folder)\n'))
        if not self.module.check_mode:
            os.mkdir(path, 0o700)
            self.attributes(path, self.params['directory_mode'], True)

    def write(self, path, data, like=None):
        """Replace PATH's content through a private temporary file, keeping LIKE's owner and mode."""
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix='.%s.' % os.path.basename(path))
        try:
            with os.fdopen(handle, 'wb') as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            if like is not None:
                os.chmod(temporary, like.st_mode & 0o7777)
                os.chown(temporary, like.st_uid, like.st_gid)
            os.replace(temporary, path)
        except Exception:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise

    def file(self, spec):
        path = spec['path']
        secret = spec['secret'] is not None
        data = to_bytes(spec['secret'] if secret else spec['content'], errors='surrogate_or_strict')
        folder = os.path.dirname(path)
        check_folders(path)
        st = existing(path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            self.module.fail_json(msg='%s is a folder, not a file: move it away, then run again.' % path)
        # In check mode an earlier task of the run (initdb, a base backup) may be the one to make it.
        if not os.path.isdir(folder) and folder not in self.new_dirs and not self.module.check_mode:
            self.module.fail_json(msg='Cannot write %s: its folder %s does not exist; make it first '
                                      '(or name it in directories).' % (path, folder))
        before = None if st is None else read_regular(path)
        if before == data:
            state = 'attributes' if self.attributes(path, spec['mode'], False) else 'unchanged'
        else:
            state = 'created' if before is None else 'updated'
            self.diffs.append(dict(before_header=path, after_header=path,
                                   before='' if before is None else shown(before, secret), after=shown(data, secret)))
            if not self.module.check_mode:
                self.write(path, data)
                self.attributes(path, spec['mode'], True)
        if state != 'unchanged':
            self.changed_paths.append(path)
        return dict(path=path, state=state)

    def include(self, path, conf):
        name = os.path.basename(path) if os.path.dirname(path) == os.path.dirname(conf) else path
        line = "include_if_exists = '%s'" % name.replace("'", "''")
        check_folders(conf)
        st = existing(conf)
        text = None if st is None else read_regular(conf)
        if text is None:
            if self.module.check_mode and not os.path.isdir(os.path.dirname(conf)):
                self.changed_paths.append(conf)
                return
            self.module.fail_json(msg='Cannot include %s from %s: that file does not exist. It is the '
                                      "server's postgresql.conf: is the data directory there?" % (path, conf))
        if line in (existing.strip() for existing in to_native(text, errors='surrogate_or_replace').splitlines()):
            return
        self.changed_paths.append(conf)
        self.diffs.append(dict(before_header=conf, after_header=conf, before='', after=line + '\n'))
        if not self.module.check_mode:
            separator = b'' if not text or text.endswith(b'\n') else b'\n'
            self.write(conf, text + separator + to_bytes(line) + b'\n', like=st)

    def apply(self):
        for path in self.params['directories']:
            self.directory(path)
        results = []
        for spec in self.params['files']:
            results.append(self.file(spec))
            if spec['include_from']:
                self.include(spec['path'], spec['include_from'])
        return results


def main():
    module = AnsibleModule(
        argument_spec=dict(
            files=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                content=dict(type='str'),
                secret=dict(type='str', no_log=True),
                mode=dict(type='raw', default='0600'),
                include_from=dict(type='path'),
            ), mutually_exclusive=[('content', 'secret')], required_one_of=[('content', 'secret')]),
            directories=dict(type='list', elements='path', default=[]),
            directory_mode=dict(type='raw', default='0700'),
            owner=dict(type='str'),
            group=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    # The form only: where a settings file goes (/etc/postgresql/...) is the operator's choice.
    named = [('directories[%d]' % index, path) for index, path in enumerate(module.params['directories'])]
    for index, spec in enumerate(module.params['files']):
        named.append(('files[%d].path' % index, spec['path']))
        if spec['include_from'] is not None:
            named.append(('files[%d].include_from' % index, spec['include_from']))
    for name, path in named:
        problem = path_problem(path, name, anywhere=True)
        if problem:
            module.fail_json(msg=problem)
    manager = ConfigFiles(module)
    try:
        files = manager.apply()
    except Refused as e:
        module.fail_json(msg=to_native(e), changed_paths=manager.changed_paths)
    except (IOError, OSError) as e:
        module.fail_json(msg='Writing the files failed: %s' % to_native(e), changed_paths=manager.changed_paths)
    result = dict(changed=bool(manager.changed_paths), changed_paths=manager.changed_paths, files=files)
    if module._diff:
        result['diff'] = manager.diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
