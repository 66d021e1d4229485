"""Each fake in tests/unit/fakes replays the real tool: run it in every situation
recorded in tests/unit/recordings and compare its stdout, stderr and exit code
with the transcript, timestamps, pids, inode numbers, WAL positions and the tmp
prefix of paths aside (transcripts.normalise). A fake that drifts from the real
tool fails here.

The transcripts are replayed block by block, in order, so that the fake's state
follows the recorded session; commands that are not fakes (shell set-up, `ls`,
`ps`, `cat` of a file a fake writes, `flock`) are emulated on the fakes' files
or named in SKIPPED with the reason.
"""
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys

import pytest

FAKES = pathlib.Path(__file__).resolve().parent / 'fakes'
RECORDINGS = pathlib.Path(__file__).resolve().parent / 'recordings'
sys.path.insert(0, str(FAKES))
import pfs_state  # noqa: E402
import transcripts  # noqa: E402
from ansible_collections.polardb.cluster.plugins.module_utils.process import holds_flock_on  # noqa: E402
from ansible_collections.polardb.cluster.plugins.modules.node_state import SERVER_QUERY  # noqa: E402

GIB = 1024 ** 3
PFSD_BIN = '/usr/local/polarstore/pfsd/bin/'
POLARDB_BIN = '/home/postgres/tmp_polardb_pg_15_base/bin/'
# Recorded commands with no fake counterpart, and why they are not compared.
SKIPPED = {
    'chmod 0600 /dev/loop2': 'the device node: FAKE_PFS_NONROOT stands for a user who cannot open it',
    'ls -lL /dev/nvme2n1': 'the device node',
    'ls /var/run/pfsd/nvme2n1': "the client's registration while a 'pfs tail' runs: no client process is faked",
    "stat -c '%d %i %n' /var/run/pfsd/pfsd_nvme2n1.pid /proc/573/fd/3": "the /proc link's own inode, not faked",
    'ls -la /var/run/pfsd /var/run/pfsd/nvme2n1 /var/run/pfs': 'modes and sizes of pfsd folders, not faked',
    'ls -la /var/run/pfsd /dev/shm/pfsd': "pfsd's shared memory, not faked",
    'du -s --apparent-size -B1 /home/postgres/standby /home/postgres/standby.staging/shared_data':
        "sizes: the fake's files are small",
    'ls -la /home/postgres/standby.staging/shared_data/pg_wal': "sizes: the fake's WAL segment is small",
    'env PGPASSWORD=rec-pass LC_ALL=C runuser -u postgres -- ' + POLARDB_BIN + 'pg_controldata /home/postgres/standby':
        "PolarDB's pg_controldata reads polar_datadir from postgresql.conf; the fake reads DATA/global/pg_control",
}


def ls_names(path):
    """`ls -A` order in the C locale."""
    return sorted(os.listdir(path))


class Bench(object):
    """The fakes with their state, /proc, run and log folders under tmp, like the recorded host's."""

    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.root = str(tmp_path)
        self.bin = tmp_path / 'bin'
        self.bin.mkdir()
        for name in ('pfs', 'start_pfsd.sh', 'stop_pfsd.sh', 'polar_basebackup', 'psql', 'pg_controldata'):
            os.symlink(str(FAKES / name), str(self.bin / name))
        self.state_file = str(tmp_path / 'state.json')
        self.proc = self.host('/proc')
        self.run_dir = self.host('/var/run/pfsd')
        self.pidfile = os.path.join(self.run_dir, 'pfsd_nvme2n1.pid')
        self.log_file = self.host('/var/log/pfsd-nvme2n1/pfsd.log')
        self.env = dict(os.environ, FAKE_PFS_STATE=self.state_file, FAKE_PFS_RUN_DIR=self.host('/var/run/pfs'),
                        LC_ALL='C', FAKE_PG_HOSTADDR='172.21.0.3')
        for name in ('FAKE_PFS_NONROOT', 'FAKE_BASEBACKUP_FAIL', 'FAKE_BASEBACKUP_DIRECT', 'FAKE_BASEBACKUP_LAYOUT',
                     'FAKE_BASEBACKUP_FIRST_DIR', 'FAKE_BASEBACKUP_FAIL_DIR', 'FAKE_BASEBACKUP_LOG',
                     'FAKE_PSQL_FAIL', 'FAKE_PG_SYSID'):
            self.env.pop(name, None)
        self.compared = 0

    def host(self, path):
        """Where a path of the recorded host lives here."""
        return self.root + path

    def setup(self, disks, pfs_run_dir=True):
        if pfs_run_dir:   # made by start_pfsd.sh (or PFS's installer) on the recorded hosts
            os.makedirs(self.host('/var/run/pfs'))
        pfs_state.make_state(self.state_file, disks=disks, proc_root=self.proc, run_dir=self.run_dir,
                             log_dir=self.host('/var/log'))

    def state(self):
        return pfs_state.read_state(self.state_file)

    def set_next_pid(self, recorded):
        match = re.search(r'starting pfsd\[(\d+)\]', recorded.stderr)
        if match:
            state = self.state()
            state['next_pid'] = int(match.group(1))
            pfs_state.write_state(self.state_file, state)

    def run(self, argv, **env):
        """Run a fake; argv[0] names it, paths of the recorded host are moved under tmp."""
        argv = [str(self.bin / os.path.basename(argv[0]))] + [self.translate(arg) for arg in argv[1:]]
        run = subprocess.run(argv, capture_output=True, text=True, env=dict(self.env, **env))
        return run.returncode, run.stdout, run.stderr

    def translate(self, arg):
        for prefix in ('/tmp/', '/home/', '/var/'):
            if arg.startswith(prefix):
                return self.host(arg)
            if '=' + prefix in arg:
                key, value = arg.split('=', 1)
                return key + '=' + self.host(value)
        return arg

    def normalise(self, text):
        return transcripts.normalise(text, [(self.root, '')])

    def compare(self, recorded, rc, stdout, stderr, streams=('stdout', 'stderr')):
        where = 'line %d: $ %s' % (recorded.line, recorded.command)
        assert rc == recorded.rc, where
        for name, text in zip(('stdout', 'stderr'), (stdout, stderr)):
            if name in streams:
                assert self.normalise(text) == self.normalise(getattr(recorded, name)), '%s (%s)' % (where, name)
        self.compared += 1

    def fake_log(self):
        with open(self.log_file) as handle:
            return handle.read().splitlines()

    def pfsdaemons(self):
        found = []
        for pid in sorted(os.listdir(self.proc), key=int):
            with open(os.path.join(self.proc, pid, 'cmdline'), 'rb') as handle:
                argv = [a.decode() for a in handle.read().split(b'\0') if a]
            if os.path.basename(argv[0]) == 'pfsdaemon':
                found.append((int(pid), argv))
        return found


def subsequence(part, whole):
    """Whether the lines of part appear in whole, in order."""
    rest = iter(whole)
    return all(any(line == other for other in rest) for line in part)


@pytest.fixture
def bench(tmp_path):
    return Bench(tmp_path)


def quiet_start(bench):
    rc, out, err = bench.run([PFSD_BIN + 'start_pfsd.sh', '-p', 'nvme2n1', '-w', '1'])
    assert rc == 0, out + err


def test_the_transcripts_parse_and_every_command_is_covered():
    counts = {}
    for name in ('pfs-files.txt', 'pfsd.txt', 'polar-basebackup.txt', 'polar-initdb.txt'):
        runs = transcripts.load(name)
        counts[name] = len(runs)
        assert all(run.stdout == '' or run.stdout.endswith('\n') or run.command.startswith('cat ')
                   for run in runs), name
    assert counts == {'pfs-files.txt': 54, 'pfsd.txt': 44, 'polar-basebackup.txt': 24, 'polar-initdb.txt': 7}
    recorded = set(run.command for name in counts for run in transcripts.load(name))
    assert set(SKIPPED) <= recorded


def test_fake_pfs_replays_pfs_files(bench):
    bench.setup({'nvme2n1': pfs_state.disk(20 * GIB), 'nvme3n1': pfs_state.disk(5 * GIB)}, pfs_run_dir=False)
    source = bench.tmp / 'tmp' / 'sd'
    (source / 'base' / '1').mkdir(parents=True)
    (source / 'standby.signal').write_text('')
    (source / 'base' / '1' / 'f').write_text('x' * 1000)
    run_dir = bench.host('/var/run/pfs')
    for recorded in transcripts.load('pfs-files.txt'):
        notes, command = ' '.join(recorded.notes), recorded.command
        if 'with pfsd running for nvme2n1 (started as root)' in notes:
            quiet_start(bench)                                   # the start recorded in pfsd.txt
        if 'pfsd stopped again' in notes:
            assert bench.run([PFSD_BIN + 'stop_pfsd.sh', 'nvme2n1'])[0] == 0
        if command == "sh -c 'mkdir -p /var/run/pfs && chmod 777 /var/run/pfs'":
            os.makedirs(run_dir, exist_ok=True)
            continue
        if command == 'rm -r /var/run/pfs':
            os.rmdir(run_dir)
            continue
        if command in SKIPPED:
            continue
        argv = shlex.split(command)
        nonroot = argv[:4] == ['runuser', '-u', 'postgres', '--']
        argv = argv[4:] if nonroot else argv
        assert os.path.basename(argv[0]) in ('pfs', 'start_pfsd.sh', 'stop_pfsd.sh'), \
            'line %d: no fake replays %r' % (recorded.line, command)
        bench.set_next_pid(recorded)
        rc, out, err = bench.run(argv, **({'FAKE_PFS_NONROOT': '1'} if nonroot else {}))
        bench.compare(recorded, rc, out, err)
    assert bench.compared == 48


def test_fake_pfsd_scripts_and_proc_replay_pfsd(bench):
    bench.setup({'nvme2n1': pfs_state.disk(20 * GIB, formatted=True, files={'x': {'kind': 'Dir'}})})
    wc = None
    for recorded in transcripts.load('pfsd.txt'):
        command = recorded.command
        argv = shlex.split(command)
        if command in SKIPPED:
            continue
        if '/nvme2n1/x removed, /nvme2n1/y made' in ' '.join(recorded.notes):
            assert bench.run(['pfs', '-C', 'disk', 'rm', '-r', '/nvme2n1/x'])[0] == 0
            assert bench.run(['pfs', '-C', 'disk', 'mkdir', '/nvme2n1/y'])[0] == 0
        if 'was stopped meanwhile' in ' '.join(recorded.notes):
            assert bench.run([PFSD_BIN + 'stop_pfsd.sh', 'nvme2n1'])[0] == 0
        if argv[0].startswith(PFSD_BIN):
            bench.set_next_pid(recorded)
            bench.compare(recorded, *bench.run(argv))
        elif argv[-1] == '/nvme2n1/' and 'pfs' in argv:
            bench.compare(recorded, *bench.run(argv[argv.index('pfs'):]))
        elif command == 'cat /var/run/pfsd/pfsd_nvme2n1.pid':
            with open(bench.pidfile) as handle:
                bench.compare(recorded, 0, handle.read(), '')
        elif argv[:2] == ['ps', '-C']:
            columns = argv[-1].split(',')
            daemons = bench.pfsdaemons()
            header = ' '.join({'pid': '    PID', 'ppid': '   PPID', 'stat': 'STAT', 'args': 'COMMAND'}[c]
                              for c in columns)
            lines = ['%7d %7d %s' % (pid, 1, ' '.join(args)) for pid, args in daemons]
            bench.compare(recorded, 0 if daemons else 1, '\n'.join([header] + lines) + '\n', '')
        elif argv[:2] == ['ls', '-l'] and argv[2].startswith('/proc/'):
            pid = argv[2].split('/')[2]
            fds = os.path.join(bench.proc, pid, 'fd')
            links = dict((fd, os.readlink(os.path.join(fds, fd))) for fd in os.listdir(fds))
            assert links == {'0': '/dev/null', '3': bench.pidfile}
            assert ' 0 -> /dev/null\n' in recorded.stdout and ' 3 -> /run/pfsd/pfsd_nvme2n1.pid\n' in recorded.stdout
            bench.compared += 1
        elif argv[0] == 'cat' and '/fdinfo/' in argv[1]:
            with open(bench.host(argv[1])) as handle:
                fake = handle.read()

            def inodes(text):
                text = re.sub(r'ino:\t\d+', 'ino:\t<INO>', text)
                return re.sub(r'\b[0-9a-f]{2}:[0-9a-f]{2}:\d+\b', '<DEV>:<INO>', text)
            assert inodes(fake) == inodes(recorded.stdout), recorded.line
            bench.compared += 1
        elif argv[:3] == ['stat', '-L', '-c']:
            paths = [bench.host(path) for path in argv[4:]]
            ids = [(os.stat(path).st_dev, os.stat(path).st_ino) for path in paths]
            recorded_ids = [line.split()[:2] for line in recorded.stdout.splitlines()]
            assert (ids[0] == ids[1]) and recorded_ids[0] == recorded_ids[1]
            bench.compared += 1
        elif argv[:2] == ['python3', '-c']:
            stats = [os.stat(bench.host(path)) for path in re.findall(r'os.stat\("([^"]+)"\)', argv[2])]
            same = (stats[0].st_dev, stats[0].st_ino) == (stats[1].st_dev, stats[1].st_ino)
            bench.compare(recorded, 0, '%s\n' % same, '')
        elif argv[:2] == ['flock', '-n']:
            # flock -n fails while a process holds the lock: as the module sees it in the fake /proc
            held = any(holds_flock_on(pid, bench.pidfile, bench.proc) for pid, _ in bench.pfsdaemons())
            bench.compare(recorded, 1 if held else 0, '', '')
        elif command == 'cat /var/log/pfsd-nvme2n1/pfsd.log':
            fake = bench.normalise('\n'.join(bench.fake_log())).splitlines()
            assert subsequence(fake, bench.normalise(recorded.stdout).splitlines()), fake
            bench.compared += 1
        elif argv[:2] == ['wc', '-l']:
            now = (int(recorded.stdout.split()[0]), len(bench.fake_log()))
            if wc is not None:   # the log gained lines in the recording exactly when it did here
                assert (now[0] > wc[0]) == (now[1] > wc[1]), recorded.line
            wc = now
            bench.compared += 1
        elif argv[:3] == ['tail', '-n', '+17']:
            gained = bench.normalise('\n'.join(bench.fake_log()[wc[1]:])).splitlines()
            assert 'mount successed for nvme2n1' in gained[0]
            assert subsequence(gained, bench.normalise(recorded.stdout).splitlines()), gained
            bench.compared += 1
        elif argv[:3] == ['tail', '-n', '3']:
            assert bench.normalise('\n'.join(bench.fake_log()[-2:])) + '\n' == \
                bench.normalise(''.join(recorded.stdout.splitlines(True)[-2:]))
            bench.compared += 1
        elif command == 'ls -la /var/run/pfsd/nvme2n1':
            assert os.listdir(os.path.join(bench.run_dir, 'nvme2n1')) == []
            assert recorded.stdout.count('\n') == 3                     # total, . and ..
            bench.compared += 1
        elif argv[:2] == ['kill', '-STOP']:
            pfs_state.stop_daemon(bench.state_file, 'nvme2n1')
        elif argv[:2] == ['kill', '-CONT']:
            pfs_state.stop_daemon(bench.state_file, 'nvme2n1', False)
        elif argv[:3] == ['ps', '-o', 'pid,stat,args']:
            assert os.path.isdir(os.path.join(bench.proc, argv[-1])) and ' Tsl ' in recorded.stdout
            bench.compared += 1
        elif command == 'ps -eo pid,args':
            for line in recorded.stdout.splitlines()[1:]:
                pid, text = line.split(None, 1)
                if 'pfsdaemon' in text and 'nvme2n1' in text:
                    pfs_state.add_process(bench.proc, pid, text.split())
        elif argv[0] == 'kill':
            shutil.rmtree(os.path.join(bench.proc, argv[1]))
        else:
            pytest.fail('line %d: nothing replays %r' % (recorded.line, command))
    assert bench.compared == 36


def basebackup_env(command):
    """The recorded situation, for the fakes."""
    env = {'PGPASSWORD': 'wrong' if 'PGPASSWORD=wrong' in command else 'rec-pass'}
    if '-S nosuchslot' in command:
        env['FAKE_BASEBACKUP_FAIL'] = 'slot'
    if 'PGPASSWORD=wrong' in command:
        env.update(FAKE_BASEBACKUP_FAIL='auth', FAKE_PSQL_FAIL='auth')
    return env


def test_fake_polar_basebackup_psql_and_pg_controldata_replay_polar_basebackup(bench):
    bench.setup({'nvme2n1': pfs_state.disk(20 * GIB, formatted=True, files={'y': {'kind': 'Dir'}})})
    home = bench.host('/home/postgres')
    os.makedirs(os.path.join(home, 'tmp_polardb_pg_15_base'))
    for name in ('.bash_logout', '.bashrc', '.profile'):
        open(os.path.join(home, name), 'w').close()
    for recorded in transcripts.load('polar-basebackup.txt'):
        command = recorded.command
        if command in SKIPPED:
            continue
        argv = shlex.split(command)
        while argv[0] == 'env' or '=' in argv[0]:
            argv.pop(0)
        if argv[:4] == ['runuser', '-u', 'postgres', '--']:
            argv = argv[4:]
        tool = os.path.basename(argv[0])
        if tool == 'polar_basebackup':
            # the staged run is compared with the layout PolarDB 15.8 leaves (pg_control in the shared data)
            bench.compare(recorded, *bench.run(argv, FAKE_BASEBACKUP_LAYOUT='recorded', **basebackup_env(command)))
        elif tool == 'psql':
            bench.compare(recorded, *bench.run(argv, FAKE_PG_SYSID='7712109229482397731',
                                                **basebackup_env(command)))
        elif tool == 'pg_controldata':
            # the real one found pg_control on PFS through the settings; here it is where the fake reads it
            data = pathlib.Path(bench.host('/home/postgres/controldata'))
            (data / 'global').mkdir(parents=True)
            (data / 'global' / 'pg_control').write_text('sysid=7712109229482397731\n')
            rc, out, err = bench.run([argv[0], '/home/postgres/controldata'])
            bench.compare(recorded, rc, out, err, streams=('stdout',))
        elif tool == 'pfs' and argv[3] == 'cp':
            rc, out, err = bench.run(argv)
            bench.compare(recorded, rc, out, err, streams=('stderr',))
            # the fake copies a few of the files, in sorted order; each line is one of the recorded ones
            lines = bench.normalise(out).splitlines()
            assert len(lines) >= 5 and set(lines) <= set(recorded.stdout.splitlines()), lines
        elif tool == 'pfs' and argv[3] == 'ls' and argv[4] == '/nvme2n1/shared_data':
            rc, out, err = bench.run(argv)
            bench.compare(recorded, rc, '', err, streams=('stderr',))

            def names(text):
                return sorted(line.split()[0] + ' ' + line.split()[-1] for line in text.splitlines()
                              if line.strip().startswith(('File', 'Dir')))
            assert names(out) == names(recorded.stdout) and out.splitlines()[-1].startswith('total ')
        elif tool == 'pfs':
            bench.compare(recorded, *bench.run(argv))
        elif argv[:2] == ['ls', '-A']:
            paths = [bench.host(path) for path in argv[2:]]
            if len(paths) == 1:
                listing = ''.join(name + '\n' for name in ls_names(paths[0]))
            else:
                listing = '\n'.join('%s:\n%s' % (path, ''.join(name + '\n' for name in ls_names(path)))
                                    for path in sorted(paths))
            bench.compare(recorded, 0, listing, '')
        elif argv[:2] == ['sh', '-c'] and argv[2].startswith('mkdir -m 700 '):
            os.mkdir(bench.host(argv[2].split()[3]), 0o700)
        elif argv[:2] == ['rm', '-r']:
            shutil.rmtree(bench.host(argv[2]))
        else:
            pytest.fail('line %d: nothing replays %r' % (recorded.line, command))
    assert bench.compared == 19


def test_the_direct_attempt_fails_where_the_recording_does_and_cleans_up_like_it(bench):
    # the recorded failure, read back from the fake's own trace: PFS directories made, then removed
    bench.setup({'nvme2n1': pfs_state.disk(20 * GIB, formatted=True)})
    recorded = transcripts.load('polar-basebackup.txt')[1]
    rc, out, err = bench.run(shlex.split(recorded.command)[4:], PGPASSWORD='rec-pass')
    assert rc == 1 and 'error: could not create directory "/nvme2n1/shared_data/global"' in err
    assert sorted(pfs_state.read_state(bench.state_file)['disks']['nvme2n1']['files']) == \
        ['.pfs-journal', '.pfs-paxos']
    assert not os.path.exists(bench.host('/home/postgres/standby'))
    calls = [line.split(']', 2)[-1] for line in err.splitlines() if line.startswith('[PFSD_SDK')]
    assert calls[-4:] == ['pfsd_rmdir 1370: rmdir /nvme2n1/shared_data/pg_wal/archive_status',
                          'pfsd_unlink 952: unlink /nvme2n1/shared_data/pg_wal/000000010000000000000001',
                          'pfsd_rmdir 1370: rmdir /nvme2n1/shared_data/pg_wal',
                          'pfsd_rmdir 1370: rmdir /nvme2n1/shared_data']


def test_polar_initdb_transcript_holds_what_the_roles_rely_on():
    # no fake: the roles run the real script; these are the facts replica_polardb.yml is built on
    primary, _, _, refused, empty, replica, filled = transcripts.load('polar-initdb.txt')
    assert primary.rc == 0 and primary.stdout.endswith('init PolarDB data dir success\n')
    assert primary.command.endswith('/shared/shared_data/ primary localfs')
    assert (refused.rc, refused.stdout) == (1, 'init replica\nuse localfs mode\n'
                                               'postgresql.conf in local exist in local dir\n')
    assert empty.stdout == '' and replica.rc == 0
    assert replica.stdout.endswith('init PolarDB replica mode dir success\n')
    assert 'postgresql.conf' not in filled.stdout and 'PG_VERSION\n' in filled.stdout


def test_recorded_facts_the_modules_rely_on():
    """The lines the modules look for, as the real tools print them."""
    pfsd = transcripts.load('pfsd.txt')
    tail = transcripts.find('pfsd.txt', 'tail -n +17 /var/log/pfsd-nvme2n1/pfsd.log')
    assert [line for line in tail.stdout.splitlines() if line.endswith('mount successed for nvme2n1')]
    lock = transcripts.find('pfsd.txt', 'cat /proc/573/fdinfo/3').stdout
    assert [line for line in lock.splitlines() if line.startswith('lock:') and 'FLOCK' in line]
    start = pfsd[0]
    daemon = int(re.search(r'starting pfsd\[(\d+)\]', start.stderr).group(1))
    assert transcripts.find('pfsd.txt', 'cat /var/run/pfsd/pfsd_nvme2n1.pid').stdout == str(daemon - 1)
    direct = transcripts.load('polar-basebackup.txt')[1]
    assert 'polar_basebackup: error: could not create directory "/nvme2n1/shared_data/global": No such file or ' \
           'directory\n' in direct.stderr
    as_postgres = transcripts.find('pfs-files.txt', 'runuser -u postgres -- pfs -C disk cp -r /tmp/sd /nvme2n1/')
    assert (as_postgres.rc, as_postgres.stdout) == (255, 'cp failed: Input/output error\n')


@pytest.mark.parametrize('recording', sorted((RECORDINGS / 'node_state').glob('*.json')), ids=lambda p: p.stem)
def test_the_node_state_psql_fake_replays_its_recording(recording, tmp_path):
    recorded = json.loads(recording.read_text())
    assert recorded['argv'][-1] == SERVER_QUERY, 'recorded with another query: run record.py again'
    env = dict(os.environ, FAKE_NODE_STATE=str(recording))
    env.pop('FAKE_NODE_STATE_ROOT', None)
    env.pop('FAKE_NODE_STATE_SET', None)
    run = subprocess.run([str(FAKES / 'psql_node_state')] + recorded['argv'][1:], capture_output=True, text=True,
                         env=env)
    assert (run.stdout, run.stderr, run.returncode) == (recorded['stdout'], recorded['stderr'], recorded['exit'])
    # and any other call is refused, as a real server would answer something else
    other = subprocess.run([str(FAKES / 'psql_node_state')] + recorded['argv'][1:-1] + ['-c', 'SELECT 1'],
                           capture_output=True, text=True, env=env)
    assert other.returncode == 3
