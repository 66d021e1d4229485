# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection options shared by the PostgreSQL modules, and how to use them.

Documented by the doc fragment ``polardb.cluster.postgres``. The password
goes to psycopg as a keyword and to command-line tools as PGPASSWORD: never
into argv or a conninfo string that could be logged.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_native

try:
    import psycopg
    from psycopg.rows import dict_row
    HAS_PSYCOPG = True
    DatabaseError = psycopg.Error
except ImportError:
    psycopg = None
    dict_row = None
    HAS_PSYCOPG = False
    DatabaseError = ()  # catches nothing: connect() fails first

POSTGRES_MUTUALLY_EXCLUSIVE = [['login_host', 'login_unix_socket']]
SSL_MODES = ['allow', 'disable', 'prefer', 'require', 'verify-ca', 'verify-full']


def postgres_common_argument_spec():
    return dict(
        login_host=dict(type='str', aliases=['host']),
        port=dict(type='int', default=5432, aliases=['login_port']),
        login_unix_socket=dict(type='str', aliases=['unix_socket']),
        login_user=dict(type='str', default='postgres', aliases=['user']),
        login_password=dict(type='str', no_log=True, aliases=['password']),
        login_db=dict(type='str', default='postgres', aliases=['db', 'dbname']),
        connect_timeout=dict(type='int', default=10),
        ssl_mode=dict(type='str', default='prefer', choices=SSL_MODES),
        ca_cert=dict(type='path', aliases=['ssl_rootcert']),
        ssl_cert=dict(type='path'),
        ssl_key=dict(type='path', no_log=False),
    )


# libpq keyword and environment variable of each TLS option.
SSL_OPTIONS = (
    ('ssl_mode', 'sslmode', 'PGSSLMODE'),
    ('ca_cert', 'sslrootcert', 'PGSSLROOTCERT'),
    ('ssl_cert', 'sslcert', 'PGSSLCERT'),
    ('ssl_key', 'sslkey', 'PGSSLKEY'),
)


def libpq_params(params, with_password=True, **extra):
    """libpq keywords (host, port, user, dbname, ...) from the module params.

    A socket directory is a libpq host too; unset options are left out so
    libpq applies its own defaults (PGHOST, the compiled-in socket dir).
    """
    values = dict(
        host=params.get('login_host') or params.get('login_unix_socket'),
        port=params.get('port'),
        user=params.get('login_user'),
        dbname=params.get('login_db'),
        connect_timeout=params.get('connect_timeout'),
    )
    for option, keyword, dummy in SSL_OPTIONS:
        values[keyword] = params.get(option)
    if with_password:
        values['password'] = params.get('login_password')
    values.update(extra)
    return dict((key, value) for key, value in values.items() if value not in (None, ''))


def _quote_conninfo_value(value):
    value = to_native(value)
    if value and re.match(r"^[^\s'\\]+$", value):
        return value
    return "'%s'" % value.replace('\\', '\\\\').replace("'", "\\'")


def make_conninfo(params, **extra):
    """A conninfo string for command-line tools; it never holds the password."""
    values = libpq_params(params, with_password=False, **extra)
    return ' '.join('%s=%s' % (key, _quote_conninfo_value(value)) for key, value in values.items())


def cli_connection_args(params):
    """-h/-p/-U for pg_basebackup-like tools."""
    args = []
    host = params.get('login_host') or params.get('login_unix_socket')
    if host:
        args += ['-h', host]
    if params.get('port'):
        args += ['-p', str(params['port'])]
    if params.get('login_user'):
        args += ['-U', params['login_user']]
    return args


def cli_env(params):
    """Environment for command-line tools: the password, the timeout and TLS."""
    env = {'PGCONNECT_TIMEOUT': str(params.get('connect_timeout') or 10)}
    for option, dummy, variable in SSL_OPTIONS:
        if params.get(option):
            env[variable] = params[option]
    if params.get('login_password'):
        env['PGPASSWORD'] = params['login_password']
    return env


def describe_target(params):
    """user@host:port for messages."""
    host = params.get('login_host') or params.get('login_unix_socket') or '(default socket)'
    return '%s@%s:%s' % (params.get('login_user'), host, params.get('port'))


def connect(module, autocommit=True, **extra):
    """An open psycopg 3 connection with dict rows, or fail_json saying why not."""
    if not HAS_PSYCOPG:
        module.fail_json(msg=missing_required_lib('psycopg'))
    try:
        return psycopg.connect(autocommit=autocommit, row_factory=dict_row,
                               **libpq_params(module.params, **extra))
    except Exception as e:
        module.fail_json(msg='Could not connect to PostgreSQL as %s (database %s): %s'
                         % (describe_target(module.params), module.params.get('login_db'),
                            to_native(e).strip()))
