"""A throw-away local PostgreSQL server for the optional server-based tests.

``start(base_dir)`` returns a Server (socket dir, port, stop()) or raises
Unavailable with the reason the tests print when they skip. It needs
initdb/pg_ctl (PATH or /usr/lib/postgresql/*/bin); as root it runs them as
the ``postgres`` user. Set POLARDB_TESTS_NO_SERVER=1 to skip on purpose.
"""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile


class Unavailable(Exception):
    pass


class Server:
    def __init__(self, base, port, bin_dir, run_as):
        self.base, self.port, self.bin_dir, self.run_as = base, port, bin_dir, run_as
        self.socket_dir = base

    def stop(self):
        _run(self.run_as, [os.path.join(self.bin_dir, 'pg_ctl'), '-D', self.base + '/data', '-m', 'immediate',
                           'stop'], check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def _bin_dir():
    found = shutil.which('initdb')
    if found:
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
    if not candidates:
        raise Unavailable('no initdb on PATH or in /usr/lib/postgresql/*/bin')
    return os.path.dirname(candidates[-1])


def _run(run_as, argv, check=True):
    if run_as:
        argv = ['runuser', '-u', run_as, '--'] + argv
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise Unavailable('%s failed: %s' % (' '.join(argv), result.stderr.strip()[-500:]))
    return result


def _free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def start():
    if os.environ.get('POLARDB_TESTS_NO_SERVER'):
        raise Unavailable('POLARDB_TESTS_NO_SERVER is set')
    bin_dir = _bin_dir()
    run_as = None
    if os.geteuid() == 0:
        try:
            owner = pwd.getpwnam('postgres')
        except KeyError:
            raise Unavailable('running as root and there is no postgres user to run the server as')
        if not shutil.which('runuser'):
            raise Unavailable('running as root without runuser')
        run_as = 'postgres'
    base = tempfile.mkdtemp(prefix='polardb-pg-')
    if run_as:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    port = _free_port()
    try:
        _run(run_as, [os.path.join(bin_dir, 'initdb'), '-D', base + '/data', '-U', 'postgres',
                      '-A', 'trust', '--no-sync'])
        _run(run_as, [os.path.join(bin_dir, 'pg_ctl'), '-D', base + '/data', '-w', '-l', base + '/log',
                      '-o', "-k %s -p %d -c listen_addresses='' -c fsync=off" % (base, port), 'start'])
    except Unavailable:
        shutil.rmtree(base, ignore_errors=True)
        raise
    return Server(base, port, bin_dir, run_as)
