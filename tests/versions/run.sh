#!/usr/bin/env bash
# The fast checks on one ansible-core (make test-version-X.Y), with the venv
# VENV_BIN whose ansible package is that version's:
#   the unit tests and ansible-test sanity (unless SKIP_UNIT / SKIP_SANITY:
#   make test runs them on the pinned version already);
#   the tarball installed beside the ansible package's collections, as an
#   operator installs it (its dependency ranges must accept them);
#   --syntax-check of every playbook, from the installed collection.
set -euo pipefail

bin=${1:?usage: $0 VENV_BIN}
project=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export PATH="$bin:$PATH" ANSIBLE_CONFIG="$project/ansible.cfg"
python=$("$bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
core=$("$bin/python" -c 'from ansible.release import __version__; print(__version__)')
echo "== ansible-core $core, Python $python"
cd "$project"

step() { local start=$SECONDS; "$@"; echo "-- $(($SECONDS - start)) s"; }

if [ -z "${SKIP_UNIT:-}" ]; then
    echo "== unit tests"; step "$bin/pytest" -q tests/unit
fi
if [ -z "${SKIP_SANITY:-}" ]; then
    echo "== ansible-test sanity"
    SANITY_BIN=$bin SANITY_PYTHON_VERSION=$python step tests/sanity/run.sh
fi

work=$(mktemp -d /tmp/polardb-version.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "== install the tarball beside ansible $("$bin/pip" show ansible 2>/dev/null | sed -n 's/^Version: //p')"
start=$SECONDS
"$bin/ansible-galaxy" collection build --force --output-path "$work" >/dev/null
# Only the new path and the ansible package's copies: not the checkout's
# .collections link. --offline: the package's copies must satisfy the dependencies.
export ANSIBLE_COLLECTIONS_PATH=$work/collections
"$bin/ansible-galaxy" collection install --offline -p "$work/collections" "$work"/polardb-cluster-*.tar.gz
test -f "$work/collections/ansible_collections/polardb/cluster/MANIFEST.json"
echo "-- $(($SECONDS - start)) s"

echo "== --syntax-check of every playbook"
start=$SECONDS
# One call for them all: each call costs ansible-core's start-up.
playbooks=(site.yml)
for playbook in playbooks/*.yml; do playbooks+=("polardb.cluster.$(basename "$playbook" .yml)"); done
"$bin/ansible-playbook" --syntax-check "${playbooks[@]}" >/dev/null
echo "${playbooks[*]}"
echo "-- $(($SECONDS - start)) s"
