"""pgpass_entry, checked against libpq itself: psycopg logs in to a socket that asks for the password in clear."""
import os
import socket
import struct
import threading

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.polardb.cluster.plugins.filter.pgpass_entry import pgpass_entry

psycopg = pytest.importorskip('psycopg')

PASSWORDS = ['lab-replication-secret', 'a:b', 'a\\b', 'ends\\', 'ends:', ':\\:\\\\::', 'x\\:y', '*', 'p w#"\'$']


def read_message(conn, typed=True):
    head = conn.recv(5 if typed else 4, socket.MSG_WAITALL)
    length = struct.unpack('!I', head[-4:])[0]
    body = b''
    while len(body) < length - 4:
        body += conn.recv(length - 4 - len(body))
    return body


def password_libpq_sends(passfile, port, listener):
    """The password libpq found in passfile for replicator@127.0.0.1:port, as the server receives it."""
    received = {}

    def serve():
        conn, _ = listener.accept()
        with conn:
            read_message(conn, typed=False)                       # the startup packet
            conn.sendall(b'R' + struct.pack('!II', 8, 3))         # AuthenticationCleartextPassword
            received['password'] = read_message(conn).rstrip(b'\0').decode()
            error = b'SFATAL\0C28P01\0Mdone\0\0'
            conn.sendall(b'E' + struct.pack('!I', len(error) + 4) + error)

    server = threading.Thread(target=serve)
    server.start()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host='127.0.0.1', port=port, user='replicator', dbname='postgres', passfile=str(passfile),
                        sslmode='disable', gssencmode='disable', connect_timeout=5)
    server.join(10)
    return received.get('password')


@pytest.mark.parametrize('password', PASSWORDS)
def test_libpq_reads_back_the_password_whole(tmp_path, password):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    passfile = tmp_path / 'pgpass'
    # A line for another user first: the fields before the password are matched, not just split.
    passfile.write_text(pgpass_entry('not-this-one', 'other', port) + '\n'
                        + pgpass_entry(password, 'replicator', port) + '\n')
    os.chmod(passfile, 0o600)
    try:
        assert password_libpq_sends(passfile, port, listener) == password
    finally:
        listener.close()


@pytest.mark.parametrize('password, line', [
    ('lab-replication-secret', '*:5432:*:replicator:lab-replication-secret'),
    ('se:cr\\et', '*:5432:*:replicator:se\\:cr\\\\et'),
    ('\\:', '*:5432:*:replicator:\\\\\\:'),
    ('*', '*:5432:*:replicator:*'),
])
def test_backslash_and_colon_are_escaped_once(password, line):
    assert pgpass_entry(password, 'replicator', 5432) == line


def test_every_field_is_escaped_and_only_the_default_star_is_a_wildcard():
    assert pgpass_entry('pw', 'us:er', '5432', 'fe80::1', 'data\\base') == 'fe80\\:\\:1:5432:data\\\\base:us\\:er:pw'
    assert pgpass_entry('pw', 'replicator') == '*:*:*:replicator:pw'


@pytest.mark.parametrize('password, message', [
    ('two\nlines', 'the password holds a line break'),
    ('cr\r', 'the password holds a line break'),
    ('', 'the password is empty'),
    (None, 'the password is empty'),
])
def test_what_a_password_file_cannot_hold_is_refused_without_showing_it(password, message):
    with pytest.raises(AnsibleFilterError) as caught:
        pgpass_entry(password, 'replicator', 5432)
    assert message in str(caught.value)
    if password:
        assert password.strip() not in str(caught.value)
