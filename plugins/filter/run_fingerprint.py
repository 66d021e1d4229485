# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A digest of what a run of the site is asked to build: the inventory's values for the
collection, the collection's own code, the versions of ansible-core and of the collections it
uses, and the controller's certificate files."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: run_fingerprint
version_added: 0.3.0
author: polardb.cluster contributors (@polardb-cluster)
short_description: A digest of what a run of the site is asked to build
description:
  - Digests, for every host of the cluster, the inventory and extra values the roles read
    (the variables prefixed C(polardb_), C(host_), C(storage_), C(primary_), C(standby_),
    C(verify_), how the host is reached, and its groups), resolved where they can be (an
    environment lookup) and as written where they name a role default; the collection's
    playbooks, plugins and roles; the versions of ansible-core and of each collection this one
    depends on (its C(galaxy.yml)); and the content of the controller files given.
  - Two runs with the same digest ask for the same cluster. What a value draws from a role
    default's template, a play's C(vars), C(vars_files) or role parameters, or a file named
    only inside a template, is not seen; after changing such a thing, run once with
    C(-e polardb_skip_when_unchanged=false).
positional: _input, hosts, files
options:
  _input:
    description: The play's C(hostvars).
    type: dict
    required: true
  hosts:
    description: The hosts of the cluster (all of them, whatever the run's C(--limit)).
    type: list
    elements: str
    required: true
  files:
    description: Controller files or folders whose content is part of what is asked (certificates, keys).
    type: list
    elements: path
    default: []
'''

EXAMPLES = r'''
fingerprint: "{{ hostvars | polardb.cluster.run_fingerprint(groups['polardb'], [polardb_tls_local_dir]) }}"
'''

RETURN = r'''
_value:
  description: A SHA-256 digest, in hex.
  type: str
'''

import hashlib
import importlib.util
import json
import os
import re

from ansible.errors import AnsibleFilterError
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

# The variables the roles read: their own prefixes, and how each host is reached.
WATCHED_VARIABLE = re.compile(r'^(polardb|host|storage|primary|standby|verify)_|'
                              r'^ansible_(host|port|user|connection|docker_host|become\w*)$|^group_names$')
COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CODE_FOLDERS = ('playbooks', 'plugins', 'roles')


def _files_under(path):
    if os.path.isdir(path):
        for folder, subfolders, names in os.walk(path):
            subfolders[:] = sorted(name for name in subfolders if name != '__pycache__')
            for name in sorted(names):
                if not name.endswith('.pyc'):
                    yield os.path.join(folder, name)
    else:
        yield path


def _add_file(digest, path, label):
    digest.update(label.encode('utf-8', 'surrogateescape') + b'\0')
    try:
        with open(path, 'rb') as handle:
            digest.update(hashlib.sha256(handle.read()).digest())
    except (IOError, OSError):
        digest.update(b'missing')


_CODE_DIGEST = []


def _code_digest():
    """The collection's own code, read once per process."""
    if not _CODE_DIGEST:
        digest = hashlib.sha256()
        for folder in CODE_FOLDERS:
            for path in _files_under(os.path.join(COLLECTION_ROOT, folder)):
                _add_file(digest, path, os.path.relpath(path, COLLECTION_ROOT))
        _CODE_DIGEST.append(digest.hexdigest())
    return _CODE_DIGEST[0]


def _collection_version(name):
    """The version in an installed collection's MANIFEST.json (galaxy.yml for a checkout), or why none was read."""
    try:
        spec = importlib.util.find_spec('ansible_collections.' + name)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        for metadata in ('MANIFEST.json', 'galaxy.yml'):
            try:
                with open(os.path.join(folder, metadata), 'rb') as handle:
                    text = handle.read()
            except (IOError, OSError):
                continue
            if metadata == 'MANIFEST.json':
                try:
                    return str(json.loads(text)['collection_info']['version'])
                except (ValueError, KeyError, TypeError):
                    return 'unreadable MANIFEST.json'
            match = re.search(br'^version:\s*["\']?([^"\'\s]+)', text, re.M)
            return match.group(1).decode('ascii', 'replace') if match else 'no version in galaxy.yml'
    return 'not installed'


def _dependencies():
    """The collections this one names in its galaxy.yml."""
    try:
        with open(os.path.join(COLLECTION_ROOT, 'galaxy.yml'), 'rb') as handle:
            text = handle.read().decode('utf-8', 'replace')
    except (IOError, OSError):
        return []
    block = re.search(r'^dependencies:\s*\n((?:[ \t]+\S.*\n?)*)', text, re.M)
    return sorted(re.findall(r'^[ \t]+([a-z0-9_]+\.[a-z0-9_]+)\s*:', block.group(1), re.M)) if block else []


_VERSIONS = []


def _versions():
    """ansible-core's version and each dependency's, read once per process."""
    if not _VERSIONS:
        _VERSIONS.append(dict([('ansible-core', ANSIBLE_CORE_VERSION)]
                              + [(name, _collection_version(name)) for name in _dependencies()]))
    return _VERSIONS[0]


def _run_time_names(hostvars, host):
    """Names a run gave the host itself (register, set_fact, gathered facts): not what it is asked."""
    manager = getattr(hostvars, '_variable_manager', None)
    names = set()
    for cache in (getattr(manager, '_nonpersistent_fact_cache', None), getattr(manager, '_fact_cache', None)):
        try:
            names.update((cache or {}).get(host) or {})
        except Exception:  # a fact cache plugin that cannot answer: nothing to leave out
            pass
    return names


def _as_json(value):
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def _host_values(hostvars, host):
    """Each watched value of the inventory and extra vars as the roles will see it (an environment
    lookup resolved), or as written when it cannot be resolved here (it names a role default)."""
    raw = hostvars.raw_get(host) if hasattr(hostvars, 'raw_get') else hostvars[host]
    resolved = hostvars[host]
    left_out = _run_time_names(hostvars, host)
    values = {}
    for key in raw:
        if not WATCHED_VARIABLE.search(key) or key in left_out:
            continue
        try:
            values[key] = _as_json(raw[key])
        except Exception:  # a vaulted value without its secret: its presence stands for it
            values[key] = 'unreadable %s' % type(raw[key]).__name__
            continue
        written = json.dumps(values[key])
        if '{{' in written or '{%' in written:
            try:
                values[key] = _as_json(resolved[key])
            except Exception:  # any templating error: the written value stands for it
                pass
    return values


def run_fingerprint(hostvars, hosts, files=None):
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError('run_fingerprint expects the list of the hosts of the cluster, got %r' % (hosts,))
    digest = hashlib.sha256(_code_digest().encode('ascii'))
    digest.update(json.dumps(_versions(), sort_keys=True).encode('utf-8'))
    values = dict((host, _host_values(hostvars, host)) for host in sorted(set(hosts)))
    digest.update(json.dumps(values, sort_keys=True, default=str).encode('utf-8', 'surrogateescape'))
    for given in sorted(set(path for path in (files or []) if path)):
        for path in _files_under(given):
            _add_file(digest, path, path)
    return digest.hexdigest()


class FilterModule(object):
    def filters(self):
        return {'run_fingerprint': run_fingerprint}
