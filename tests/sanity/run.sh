#!/usr/bin/env bash
# ansible-test sanity on the collection as Galaxy and Automation Hub see it:
# the tarball `ansible-galaxy collection build` makes (galaxy.yml's build_ignore
# leaves out tests, molecule, bench and the other development files), extracted
# at .../ansible_collections/polardb/cluster, with tests/sanity/ignore-X.Y.txt
# (one reason per line) laid beside it.
# Its sanity venvs get pip from a get-pip script on a host that is not
# reachable here; a stand-in in ansible-test's cache bootstraps pip with
# ensurepip and installs the requested pip from the configured index instead.
#
# SANITY_BIN is the venv whose ansible-core runs it (.venv by default),
# SANITY_PYTHON_VERSION the Python it tests with. Extra arguments go to
# ansible-test (e.g. --test validate-modules, -v, or paths to test only those).
set -euo pipefail

project=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
python=${SANITY_PYTHON_VERSION:-3.11}
bin=${SANITY_BIN:-$project/.venv/bin}

# The pip version ansible-test bootstraps, asked from ansible-test itself.
pip_version=$("$bin/python" - "$python" <<'EOF'
import sys, types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version=sys.argv[1]))['pip'])
EOF
)
stand_in=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -s "$stand_in" ]; then
    mkdir -p "$(dirname "$stand_in")"
    cat > "$stand_in.tmp" <<'EOF'
"""Stand-in for get-pip.py (written by polardb.cluster's tests/sanity/run.sh).

ansible-test runs it inside a new venv with pip's install arguments such as
`--disable-pip-version-check pip==24.2 --no-setuptools --no-wheel`."""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ('--no-setuptools', '--no-wheel')]
subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'], stdout=subprocess.DEVNULL)
sys.exit(subprocess.call([sys.executable, '-m', 'pip', 'install', '--quiet'] + args))
EOF
    mv "$stand_in.tmp" "$stand_in"
fi

work=$(mktemp -d /tmp/polardb-sanity.XXXXXX)
trap 'rm -rf "$work"' EXIT
tree=$work/ansible_collections/polardb/cluster
mkdir -p "$tree"
"$bin/ansible-galaxy" collection build --force --output-path "$work" "$project" >/dev/null
tar -xzf "$work"/polardb-cluster-*.tar.gz -C "$tree"
mkdir -p "$tree/tests/sanity"
cp "$project"/tests/sanity/ignore-*.txt "$tree/tests/sanity/" 2>/dev/null || true

cd "$tree"
"$bin/ansible-test" sanity --python "$python" --color no "$@"
