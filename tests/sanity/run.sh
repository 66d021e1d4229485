#!/usr/bin/env bash
# ansible-test sanity for the collection's plugins (make sanity).
#
# ansible-test wants the collection at .../ansible_collections/polardb/cluster
# (a real folder, not a symlink), so the checkout's files - tracked and new
# ones not ignored by git - are copied into a temporary tree and tested there.
# Its sanity venvs get pip from a get-pip script on a host that is not
# reachable here; a stand-in in ansible-test's cache bootstraps pip with
# ensurepip and installs the requested pip from the configured index instead.
#
# Extra arguments go to ansible-test (e.g. --test validate-modules, -v).
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
cd "$project"
{ git ls-files -z; git ls-files -z --others --exclude-standard; } \
    | tar --null --files-from=- --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$tree"

cd "$tree"
"$bin/ansible-test" sanity --python "$python" --color no "$@" \
    plugins/modules/ plugins/module_utils/ plugins/doc_fragments/ plugins/filter/ plugins/action/
