#!/usr/bin/env bash
# What Galaxy and the Ansible docs tooling check before a collection is
# published (make test-publish), on the tarball `ansible-galaxy collection build`
# makes:
#   1. galaxy-importer (ansible-lint on): any ERROR, or any WARNING that is not
#      in tests/publish/importer-allow.txt, fails;
#   2. antsibull-docs lint-collection-docs --plugin-docs, on the tarball's tree;
#   3. antsibull-changelog lint, and CHANGELOG.md as changelogs/ generate it.
# PUBLISH_BIN is the venv holding tests/publish/requirements.txt.
set -euo pipefail

project=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin=${PUBLISH_BIN:-$project/.venv-publish/bin}
export PATH="$bin:$PATH"
work=$(mktemp -d /tmp/polardb-publish.XXXXXX)
trap 'rm -rf "$work"' EXIT

ansible-galaxy collection build --force --output-path "$work" "$project" >/dev/null
tarball=$(ls "$work"/polardb-cluster-*.tar.gz)

echo "== galaxy-importer $(basename "$tarball")"
# It writes importer_result.json where it runs: in $work, not in the checkout.
(cd "$work" && GALAXY_IMPORTER_CONFIG=$project/tests/publish/importer.cfg \
  "$bin/python" -m galaxy_importer.main "$tarball" >"$work/importer.log" 2>&1) || {
    cat "$work/importer.log"; echo "galaxy-importer failed" >&2; exit 1; }
allowed=$(grep -v -e '^#' -e '^$' "$project/tests/publish/importer-allow.txt" || true)
findings=$(grep -E '^(WARNING|ERROR)' "$work/importer.log" | { if [ -n "$allowed" ]; then grep -v -E -f <(echo "$allowed"); else cat; fi; } || true)
if [ -n "$findings" ]; then
    echo "$findings"; echo "galaxy-importer: the findings above are not allowed" >&2; exit 1
fi
grep -q 'Importer processing completed successfully' "$work/importer.log"
echo "no error or warning"

echo "== antsibull-docs lint-collection-docs"
tree=$work/ansible_collections/polardb/cluster
mkdir -p "$tree"
tar -xzf "$tarball" -C "$tree"
(cd "$tree" && antsibull-docs lint-collection-docs --plugin-docs .)

echo "== antsibull-changelog"
cd "$project"
antsibull-changelog lint
antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
antsibull-changelog generate --output "$work/CHANGELOG.md" --output-format md
diff -u CHANGELOG.md "$work/CHANGELOG.md" || {
    echo "CHANGELOG.md is not what changelogs/ make: run antsibull-changelog generate" >&2; exit 1; }
echo "fragments, changelog.yaml and CHANGELOG.md agree"
