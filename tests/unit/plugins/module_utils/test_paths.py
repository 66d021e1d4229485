import pytest

from ansible_collections.polardb.cluster.plugins.module_utils.paths import path_problem

FORBIDDEN = [
    # the cases of the issue: none may end in "Set force=true" or "grow: true"
    ('', 'standby_data_dir is empty: it must be an absolute path'),
    (None, 'standby_data_dir is empty'),
    ('standby', 'standby_data_dir standby is a relative path: it must be absolute'),
    ('./standby', 'is a relative path'),
    ('/var/lib/../../etc', 'standby_data_dir /var/lib/../../etc is not a normalised path'),
    ('/data/../etc/passwd', 'is not a normalised path'),
    ('/', 'standby_data_dir is /, the root folder'),
    # not normalised
    ('/data//standby', 'is not a normalised path'),
    ('/data/standby/', 'is not a normalised path'),
    ('/data/./standby', 'is not a normalised path'),
    ('//data/standby', 'is not a normalised path'),
    # system folders and what is under them
    ('/etc', 'is in /etc, which belongs to the operating system'),
    ('/etc/postgresql/standby', 'is in /etc,'),
    ('/usr/local/pgdata', 'is in /usr,'),
    ('/dev/shm/standby', 'is in /dev,'),
    ('/proc/1', 'is in /proc,'),
    ('/sys/kernel', 'is in /sys,'),
    ('/run/standby', 'is in /run,'),
    ('/var/run/standby', 'is in /var/run,'),
    ('/boot/x', 'is in /boot,'),
    ('/lib64/x', 'is in /lib64,'),
    ('/bin', 'is in /bin,'),
    # shared folders themselves
    ('/var', 'is a folder shared with other software: it must be a folder of its own under it, such as /var/polardb'),
    ('/var/lib', 'is a folder shared with other software'),
    ('/home', 'is a folder shared with other software'),
    ('/root', 'is a folder shared with other software'),
    ('/tmp', 'is a folder shared with other software'),
    ('/data', 'is a folder shared with other software'),
    ('/mnt', 'is a folder shared with other software'),
    ('/opt', 'is a folder shared with other software'),
    ('/srv', 'is a folder shared with other software'),
    ('/data/stand\nby', 'holds a control character'),
    (5, 'is 5, not a path'),
]


@pytest.mark.parametrize('path, message', FORBIDDEN)
def test_a_path_that_is_not_ours_names_the_variable_and_never_suggests_force_or_grow(path, message):
    problem = path_problem(path, 'standby_data_dir')
    assert problem and message in problem, problem
    assert problem.startswith('standby_data_dir ')
    assert 'force' not in problem and 'grow' not in problem


@pytest.mark.parametrize('path', [
    '/var/lib/postgresql/standby', '/home/postgres/standby', '/data/VirtualDisk_standby.img',
    '/shared/VirtualDisk.img', '/var/lib/polardb/nvme2n1', '/var/lib/polardb-cluster/node-state.json',
    '/tmp/pytest-of-root/standby', '/etcetera/standby', '/usrdata', '/srv/pg/x y',
])
def test_a_path_of_its_own_is_accepted(path):
    assert path_problem(path, 'standby_data_dir') is None


def test_anywhere_checks_the_form_only():
    assert path_problem('/etc/postgresql/15/main/conf.d/x.conf', 'files[0].path', anywhere=True) is None
    assert 'is a relative path' in path_problem('x.conf', 'files[0].path', anywhere=True)
    assert 'is not a normalised path' in path_problem('/etc/../x.conf', 'files[0].path', anywhere=True)
    assert 'is empty' in path_problem('', 'files[0].path', anywhere=True)
