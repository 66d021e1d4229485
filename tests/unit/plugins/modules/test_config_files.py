import grp
import os
import pwd
import signal
import stat

import pytest

from ansible_collections.polardb.cluster.plugins.modules import config_files


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_writes_files_and_a_folder_then_changes_nothing(run_module, tmp_path):
    tls = tmp_path / 'tls'
    args = dict(directories=[str(tls)], files=[
        dict(path=str(tls / 'root.crt'), content='CA\n'),
        dict(path=str(tls / 'node.key'), secret='KEY\n'),
    ])
    result = run_module(config_files, args, diff=True)
    assert result['changed'] is True
    assert result['changed_paths'] == [str(tls), str(tls / 'root.crt'), str(tls / 'node.key')]
    assert (tls / 'root.crt').read_text() == 'CA\n' and (tls / 'node.key').read_text() == 'KEY\n'
    assert mode_of(tls) == 0o700 and mode_of(tls / 'node.key') == 0o600
    shown = [d['after'] for d in result['diff']]
    assert 'CA\n' in shown and 'KEY\n' not in shown and config_files.SECRET_PLACEHOLDER in shown

    again = run_module(config_files, args)
    assert again['changed'] is False and again['changed_paths'] == []
    assert [f['state'] for f in again['files']] == ['unchanged', 'unchanged']


def test_check_mode_reports_and_writes_nothing(run_module, tmp_path):
    target = tmp_path / 'settings.conf'
    target.write_text('old\n')
    args = dict(directories=[str(tmp_path / 'new')], files=[
        dict(path=str(target), content='new\n'),
        dict(path=str(tmp_path / 'new' / 'file'), content='x'),
    ])
    result = run_module(config_files, args, check_mode=True, diff=True)
    assert result['changed'] is True
    assert [f['state'] for f in result['files']] == ['updated', 'created']
    assert target.read_text() == 'old\n' and not (tmp_path / 'new').exists()
    assert {'before_header': str(target), 'after_header': str(target), 'before': 'old\n', 'after': 'new\n'} \
        in result['diff']


def test_a_changed_mode_alone_is_fixed_and_reported(run_module, tmp_path):
    target = tmp_path / 'node.crt'
    target.write_text('CERT\n')
    os.chmod(target, 0o644)
    result = run_module(config_files, dict(files=[dict(path=str(target), content='CERT\n')]))
    assert result['changed'] is True and result['files'] == [dict(path=str(target), state='attributes')]
    assert mode_of(target) == 0o600


def test_the_include_line_is_appended_once_and_the_rest_kept(run_module, tmp_path):
    conf = tmp_path / 'postgresql.conf'
    conf.write_text("port = 5432\n# include_if_exists = 'polardb_standby.conf'")
    os.chmod(conf, 0o640)
    args = dict(files=[dict(path=str(tmp_path / 'polardb_standby.conf'), content='hot_standby = on\n',
                            include_from=str(conf))])
    result = run_module(config_files, args)
    assert result['changed_paths'] == [str(tmp_path / 'polardb_standby.conf'), str(conf)]
    assert conf.read_text() == ("port = 5432\n# include_if_exists = 'polardb_standby.conf'\n"
                                "include_if_exists = 'polardb_standby.conf'\n")
    assert mode_of(conf) == 0o640

    again = run_module(config_files, args)
    assert again['changed'] is False


def test_an_include_from_another_folder_names_the_whole_path(run_module, tmp_path):
    conf = tmp_path / 'data' / 'postgresql.conf'
    conf.parent.mkdir()
    conf.write_text('')
    settings = tmp_path / 'extra.conf'
    run_module(config_files, dict(files=[dict(path=str(settings), content='a = 1\n', include_from=str(conf))]))
    assert conf.read_text() == "include_if_exists = '%s'\n" % settings


def test_a_missing_postgresql_conf_is_named(run_module, tmp_path):
    result = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'a.conf'), content='',
                                                       include_from=str(tmp_path / 'postgresql.conf'))]))
    assert result['failed'] and 'postgresql.conf: that file does not exist' in result['msg']


def test_a_missing_folder_is_named_and_nothing_is_written(run_module, tmp_path):
    args = dict(files=[dict(path=str(tmp_path / 'none' / 'a'), content='x',
                            include_from=str(tmp_path / 'none' / 'postgresql.conf'))])
    result = run_module(config_files, args)
    assert result['failed'] and 'its folder %s does not exist' % (tmp_path / 'none') in result['msg']
    assert not (tmp_path / 'none').exists()


def test_check_mode_expects_a_missing_folder_from_an_earlier_step(run_module, tmp_path):
    args = dict(files=[dict(path=str(tmp_path / 'none' / 'a'), content='x',
                            include_from=str(tmp_path / 'none' / 'postgresql.conf'))])
    result = run_module(config_files, args, check_mode=True)
    assert result['changed'] and result['files'] == [dict(path=str(tmp_path / 'none' / 'a'), state='created')]
    assert result['changed_paths'] == [str(tmp_path / 'none' / 'a'), str(tmp_path / 'none' / 'postgresql.conf')]


def test_content_or_secret_is_required_and_not_both(run_module, tmp_path):
    neither = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'a'))]))
    both = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'a'), content='x', secret='y')]))
    assert neither['failed'] and 'one of the following is required' in neither['msg']
    assert both['failed'] and 'mutually exclusive' in both['msg']


def test_a_folder_where_a_file_goes_is_refused(run_module, tmp_path):
    (tmp_path / 'node.key').mkdir()
    result = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'node.key'), secret='k')]))
    assert result['failed'] and 'is a folder, not a file' in result['msg']


def test_owner_and_group_are_set_on_files_and_folders(run_module, tmp_path):
    if os.geteuid() != 0:
        pytest.skip('giving files to another user needs root')
    nobody = pwd.getpwnam('nobody')
    group = grp.getgrgid(nobody.pw_gid).gr_name
    args = dict(owner='nobody', group=group, directories=[str(tmp_path / 'tls')],
                files=[dict(path=str(tmp_path / 'tls' / 'f'), content='x')])
    result = run_module(config_files, args)
    assert result['changed']
    for path in (tmp_path / 'tls', tmp_path / 'tls' / 'f'):
        assert (os.stat(path).st_uid, os.stat(path).st_gid) == (nobody.pw_uid, nobody.pw_gid)
    assert run_module(config_files, args)['changed'] is False


SHADOW = 'root:$6$not-for-the-output$:19000:0:99999:7:::\n'


@pytest.fixture
def secret_file(tmp_path):
    """A file only root reads, outside the folders the module writes to."""
    path = tmp_path / 'shadow'
    path.write_text(SHADOW)
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize('diff', [False, True])
@pytest.mark.parametrize('check_mode', [False, True])
def test_a_link_where_a_file_goes_is_refused_and_never_read(run_module, tmp_path, secret_file, diff, check_mode):
    data = tmp_path / 'data'
    data.mkdir()
    (data / 'standby.signal').symlink_to(secret_file)
    result = run_module(config_files, dict(files=[dict(path=str(data / 'standby.signal'), content='')]),
                        check_mode=check_mode, diff=diff)
    assert result['failed']
    assert result['msg'] == ('%s is a symbolic link; config_files never follows links: remove it, then run again.'
                             % (data / 'standby.signal'))
    assert 'not-for-the-output' not in repr(result)
    assert secret_file.read_text() == SHADOW and os.path.islink(data / 'standby.signal')


def test_a_link_as_the_included_from_file_is_refused(run_module, tmp_path, secret_file):
    (tmp_path / 'postgresql.conf').symlink_to(secret_file)
    result = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'a.conf'), content='a = 1\n',
                                                       include_from=str(tmp_path / 'postgresql.conf'))]), diff=True)
    assert result['failed'] and 'postgresql.conf is a symbolic link' in result['msg']
    assert 'not-for-the-output' not in repr(result) and secret_file.read_text() == SHADOW


def test_a_link_as_a_folder_is_refused_and_its_target_left_alone(run_module, tmp_path):
    target = tmp_path / 'etc'
    target.mkdir()
    os.chmod(target, 0o755)
    (tmp_path / 'tls').symlink_to(target)
    result = run_module(config_files, dict(directories=[str(tmp_path / 'tls')], files=[]))
    assert result['failed'] and '%s is a symbolic link' % (tmp_path / 'tls') in result['msg']
    assert mode_of(target) == 0o755


def test_a_folder_on_the_way_that_is_another_users_link_is_refused(run_module, tmp_path, secret_file):
    if os.geteuid() != 0:
        pytest.skip('a link owned by another user needs root to make')
    target = tmp_path / 'elsewhere'
    target.mkdir()
    (tmp_path / 'data').symlink_to(target)
    nobody = pwd.getpwnam('nobody')
    os.lchown(tmp_path / 'data', nobody.pw_uid, nobody.pw_gid)
    result = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'data' / 'a.conf'), content='x')]))
    assert result['failed'] and ('%s, a folder on the way to %s, is a symbolic link owned by uid %d'
                                 % (tmp_path / 'data', tmp_path / 'data' / 'a.conf', nobody.pw_uid)) in result['msg']
    assert os.listdir(target) == []

    os.lchown(tmp_path / 'data', 0, 0)  # root's own links are the system's, as /var/run is
    assert run_module(config_files, dict(files=[dict(path=str(tmp_path / 'data' / 'a.conf'), content='x')]))['changed']


def test_a_fifo_where_a_file_goes_is_refused_without_waiting_for_a_writer(run_module, tmp_path):
    os.mkfifo(tmp_path / 'standby.signal')

    def hung(signum, frame):
        raise AssertionError('config_files waited for a writer of the FIFO')

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(10)
    try:
        result = run_module(config_files, dict(files=[dict(path=str(tmp_path / 'standby.signal'), content='')]))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert result['failed'] and 'is not a regular file (a FIFO, socket or device?)' in result['msg']


def test_a_diff_only_with_diff_and_secrets_never(run_module, tmp_path):
    target = tmp_path / 'settings.conf'
    target.write_text('old\n')
    key = tmp_path / 'node.key'
    key.write_text('OLD-KEY\n')
    args = dict(files=[dict(path=str(target), content='new\n'), dict(path=str(key), secret='NEW-KEY\n')])
    quiet = run_module(config_files, args, check_mode=True)
    assert quiet['changed'] and 'diff' not in quiet and 'old' not in repr(quiet)
    shown = run_module(config_files, args, check_mode=True, diff=True)
    assert dict(before_header=str(target), after_header=str(target), before='old\n', after='new\n') in shown['diff']
    assert 'KEY' not in repr(shown)
    written = run_module(config_files, args)
    assert 'diff' not in written and 'KEY' not in repr(written) and key.read_text() == 'NEW-KEY\n'


@pytest.mark.parametrize('args, message', [
    (dict(files=[dict(path='settings.conf', content='')]), 'files[0].path settings.conf is a relative path'),
    (dict(files=[dict(path='/var/lib/../../etc/x', content='')]), 'files[0].path /var/lib/../../etc/x is not a '
                                                                  'normalised path'),
    (dict(files=[dict(path='/data/a', content='', include_from='/data//postgresql.conf')]),
     'files[0].include_from /data//postgresql.conf is not a normalised path'),
    (dict(directories=['/data/tls/'], files=[]), 'directories[0] /data/tls/ is not a normalised path'),
])
def test_paths_must_be_absolute_and_normalised(run_module, args, message):
    result = run_module(config_files, args)
    assert result['failed'] and message in result['msg'] and 'force' not in result['msg']
