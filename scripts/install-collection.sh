#!/usr/bin/env bash
# Builds the collection's tarball from this checkout and installs it into
# DEST (an ansible collections path), as an operator installs a release:
#   ansible-galaxy collection install --offline polardb-cluster-X.Y.Z.tar.gz -p DEST
# Its dependencies must already be installed (the ansible package brings them):
# --offline never asks a Galaxy server.
set -euo pipefail
dest=${1:?usage: $0 COLLECTIONS_PATH}
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(mktemp -d /tmp/polardb-collection-build.XXXXXX)
trap 'rm -rf "$build"' EXIT
ansible-galaxy collection build --force --output-path "$build" "$here" >/dev/null
tarball=$(ls "$build"/polardb-cluster-*.tar.gz)
mkdir -p "$dest"
ansible-galaxy collection install --offline --force -p "$dest" "$tarball" 2>&1 \
  | grep -v -e 'is not in the configured Ansible collections path' -e '^The installed collection will not be picked up' || true
test -f "$dest/ansible_collections/polardb/cluster/MANIFEST.json" || {
  echo "polardb.cluster is not installed in $dest" >&2; exit 1; }
echo "installed $(basename "$tarball") into $dest"
