import os
import pwd

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.polardb.cluster.plugins.module_utils.commands import (
    TIMED_OUT, command_as, run_as, switch_user)


@pytest.fixture
def module():
    with patch_module_args({}):
        return AnsibleModule(argument_spec={})


def test_command_as_puts_runuser_outside_timeout(module):
    assert command_as(module, ['psql', '-c', 'x']) == ['psql', '-c', 'x']
    argv = command_as(module, ['psql'], user='postgres', timeout=10, kill_after=2)
    assert [os.path.basename(argv[0])] + argv[1:4] == ['runuser', '-u', 'postgres', '--']
    assert [os.path.basename(argv[4])] + argv[5:] == ['timeout', '-k', '2', '10', 'psql']


def test_run_as_reports_the_time_limit_and_the_c_locale(module, monkeypatch):
    monkeypatch.setenv('LANG', 'de_DE.UTF-8')
    argv, rc, out, err = run_as(module, ['sh', '-c', 'echo $LANG; sleep 5'], timeout=1, kill_after=1)
    assert rc == TIMED_OUT and out == 'C\n' and os.path.basename(argv[0]) == 'timeout'
    argv, rc, out, err = run_as(module, ['sh', '-c', 'echo "$X"'], env=dict(X='given'))
    assert (rc, out) == (0, 'given\n')


def test_switch_user_names_the_option_and_what_to_do(monkeypatch):
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert switch_user(None) is None and switch_user(me) is None
    with pytest.raises(ValueError, match='^owner no-such-user-here is not a user on this host.$'):
        switch_user('no-such-user-here')
    other = 'nobody' if me != 'nobody' else 'root'
    monkeypatch.setattr(os, 'geteuid', lambda: 0)
    assert switch_user(other).pw_name == other
    monkeypatch.setattr(os, 'geteuid', lambda: 12345)
    with pytest.raises(ValueError) as caught:
        switch_user(other, option='os_user', root_also=' and PFS as root')
    assert str(caught.value) == ('os_user=%s needs the module to run as root (become: true, no become_user): it '
                                 'runs the PostgreSQL tools as %s and PFS as root.' % (other, other))
