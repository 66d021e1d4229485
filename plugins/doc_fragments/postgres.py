# -*- coding: utf-8 -*-
# Copyright (c) 2026 polardb.cluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host name or IP address of the server to connect to.
      - Leave unset to use a Unix socket (I(login_unix_socket) or libpq's default).
      - Mutually exclusive with I(login_unix_socket).
    type: str
    aliases: [host]
  port:
    description:
      - Port of the server (also the port of the Unix socket file).
    type: int
    default: 5432
    aliases: [login_port]
  login_unix_socket:
    description:
      - Directory holding the server's Unix socket, for example C(/var/run/postgresql).
    type: str
    aliases: [unix_socket]
  login_user:
    description:
      - Role to connect as.
    type: str
    default: postgres
    aliases: [user]
  login_password:
    description:
      - Password of I(login_user). Passed to libpq directly or, for command-line
        tools, in the C(PGPASSWORD) environment variable; never on a command line.
      - Leave unset to rely on C(~/.pgpass), peer or trust authentication.
    type: str
    aliases: [password]
  login_db:
    description:
      - Database to connect to.
    type: str
    default: postgres
    aliases: [db, dbname]
  connect_timeout:
    description:
      - Seconds to wait for the connection to be established.
    type: int
    default: 10
  ssl_mode:
    description:
      - Whether and how TLS is used (libpq C(sslmode)). C(verify-full) also
        checks that the server's certificate names I(login_host).
      - libpq ignores it over a Unix socket.
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - CA certificate (PEM file on the managed host) to check the server's
        certificate against (libpq C(sslrootcert)).
    type: path
    aliases: [ssl_rootcert]
  ssl_cert:
    description:
      - Client certificate (PEM file on the managed host), for servers that
        authenticate with the C(cert) method (libpq C(sslcert)).
    type: path
  ssl_key:
    description:
      - Key of I(ssl_cert) (libpq C(sslkey)); libpq wants it readable by its owner only.
    type: path
'''
