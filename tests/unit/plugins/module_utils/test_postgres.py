import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.polardb.cluster.plugins.module_utils import postgres


def params(**overrides):
    values = dict(login_host=None, port=5432, login_unix_socket=None, login_user='postgres',
                  login_password=None, login_db='postgres', connect_timeout=10)
    values.update(overrides)
    return values


class Failed(Exception):
    pass


@pytest.fixture
def failing(monkeypatch):
    def fail_json(self, msg, **kwargs):
        raise Failed(msg)
    monkeypatch.setattr(AnsibleModule, 'fail_json', fail_json)


def make_module(args):
    with patch_module_args(args):
        return AnsibleModule(argument_spec=postgres.postgres_common_argument_spec(),
                             mutually_exclusive=postgres.POSTGRES_MUTUALLY_EXCLUSIVE)


def test_argument_spec_defaults_and_aliases():
    module = make_module(dict(host='10.0.0.1', login_port=6543, user='repl', password='s3cret', dbname='app'))
    expected = params(login_host='10.0.0.1', port=6543, login_user='repl', login_password='s3cret', login_db='app')
    assert dict((key, module.params[key]) for key in expected) == expected
    assert 's3cret' in module.no_log_values


def test_host_and_socket_are_mutually_exclusive(failing):
    with pytest.raises(Failed, match='mutually exclusive'):
        make_module(dict(login_host='h', login_unix_socket='/run/postgresql'))


def test_libpq_params_leaves_out_unset_values_and_uses_the_socket_as_host():
    assert postgres.libpq_params(params(login_unix_socket='/var/run/postgresql')) == dict(
        host='/var/run/postgresql', port=5432, user='postgres', dbname='postgres', connect_timeout=10)
    assert postgres.libpq_params(params(login_password='pw'))['password'] == 'pw'
    assert 'password' not in postgres.libpq_params(params(login_password='pw'), with_password=False)


def test_make_conninfo_quotes_values_and_never_holds_the_password():
    text = postgres.make_conninfo(params(login_host='10.0.0.1', login_user="o'brien x", login_password='pw'),
                                  replication='true', dbname='replication')
    assert text == ("host=10.0.0.1 port=5432 user='o\\'brien x' dbname=replication "
                    "connect_timeout=10 replication=true")
    assert 'pw' not in text


def test_cli_helpers_put_the_password_in_the_environment_only():
    values = params(login_host='10.0.0.1', login_user='replicator', login_password='pw', connect_timeout=3)
    assert postgres.cli_connection_args(values) == ['-h', '10.0.0.1', '-p', '5432', '-U', 'replicator']
    assert postgres.cli_env(values) == {'PGPASSWORD': 'pw', 'PGCONNECT_TIMEOUT': '3'}
    assert 'PGPASSWORD' not in postgres.cli_env(params())


def test_connect_without_psycopg_names_the_missing_library(failing, monkeypatch):
    monkeypatch.setattr(postgres, 'HAS_PSYCOPG', False)
    module = make_module(dict())
    with pytest.raises(Failed, match="Failed to import the required Python library [(]psycopg[)]"):
        postgres.connect(module)


def test_connect_failure_names_the_target_but_not_the_password(failing, monkeypatch):

    def refuse(**kwargs):
        assert kwargs['password'] == 'pw' and kwargs['autocommit'] is True
        raise RuntimeError('connection refused')
    monkeypatch.setattr(postgres.psycopg, 'connect', refuse)
    module = make_module(dict(login_host='10.0.0.9', login_password='pw'))
    with pytest.raises(Failed) as caught:
        postgres.connect(module)
    msg = str(caught.value)
    assert 'postgres@10.0.0.9:5432' in msg and 'connection refused' in msg and 'pw' not in msg


def test_tls_options_default_to_prefer_and_reach_libpq_and_the_tools_environment():
    module = make_module(dict(login_host='pb1'))
    assert module.params['ssl_mode'] == 'prefer' and module.params['ca_cert'] is None
    tls = params(login_host='pb1', ssl_mode='verify-full', ca_cert='/tls/root.crt', ssl_cert='/tls/node.crt',
                 ssl_key='/tls/node.key')
    assert postgres.libpq_params(tls) == dict(
        host='pb1', port=5432, user='postgres', dbname='postgres', connect_timeout=10, sslmode='verify-full',
        sslrootcert='/tls/root.crt', sslcert='/tls/node.crt', sslkey='/tls/node.key')
    assert postgres.cli_env(tls) == dict(PGCONNECT_TIMEOUT='10', PGSSLMODE='verify-full',
                                         PGSSLROOTCERT='/tls/root.crt', PGSSLCERT='/tls/node.crt',
                                         PGSSLKEY='/tls/node.key')
    assert 'sslmode=verify-full sslrootcert=/tls/root.crt' in postgres.make_conninfo(tls)


def test_an_unknown_ssl_mode_is_refused(failing):
    with pytest.raises(Failed, match='ssl_mode must be one of'):
        make_module(dict(login_host='pb1', ssl_mode='verify'))
