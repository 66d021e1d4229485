"""Each role's README.md is what scripts/role_readmes.py makes of its
argument_specs, tags and readme-intro.md: the two cannot drift apart."""
import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location('role_readmes', ROOT / 'scripts/role_readmes.py')
role_readmes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(role_readmes)


@pytest.mark.parametrize('role_dir', role_readmes.roles(ROOT), ids=lambda p: p.name)
def test_readme_is_generated(role_dir):
    readme = role_dir / 'README.md'
    assert readme.is_file(), 'no README.md: run scripts/role_readmes.py'
    assert readme.read_text() == role_readmes.render(role_dir), \
        '%s is out of date: run scripts/role_readmes.py' % readme.relative_to(ROOT)


def test_markup_becomes_markdown():
    assert role_readmes.markdown('Set I(a) to C(b c),\n  see M(x.y.z).') == 'Set `a` to `b c`, see `x.y.z`.'
