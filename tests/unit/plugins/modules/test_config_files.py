import grp
import os
import pwd
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
