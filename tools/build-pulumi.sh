#!/usr/bin/env bash
# Build and install, from Go modules, the Pulumi pieces the project runs:
#   1. the Pulumi CLI `pulumi`                      (github.com/pulumi/pulumi/pkg/v3)
#   2. a Python language host `pulumi-language-python` (our own, in
#      tools/pulumi/language-python, on github.com/pulumi/pulumi/sdk/v3: the proxy
#      serves Pulumi's own host module at no version) and the runner script
#      `pulumi-language-python-exec` (shipped in the sdk/v3 module)
#   3. the kubernetes resource plugin             (github.com/pulumi/pulumi-kubernetes/provider/v4)
#   4. the docker-build resource plugin           (github.com/pulumi/pulumi-docker-build)
#   5. buildkitd, the build daemon docker-build talks to (github.com/moby/buildkit)
# all pinned by tools/versions.env, and installs the plugins into $PULUMI_HOME.
#
# Each build goes to $GITOPS_TOOLS_CACHE/<name>-<version>/, is made in a temp
# folder and moved into place only when complete; a warm run checks and builds
# nothing. Go's module and build caches stay in their default places. Nothing is
# downloaded but Go modules from the Go module proxy.
#
# Usage: bash tools/build-pulumi.sh
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/env.sh
. "$tools_dir/env.sh"

# sdk/v4 of pulumi-kubernetes to build the provider against: its go.mod replaces
# sdk/v4 with ../sdk (not in the module) and asks for v4.24.0, which the proxy
# does not serve; v4.22.2 keeps pulumi/sdk/v3 at the provider's own version.
PULUMI_KUBERNETES_SDK_VERSION="${PULUMI_KUBERNETES_SDK_VERSION:-v4.22.2}"

log() { echo "build-pulumi: $*"; }
die() { echo "build-pulumi: ERROR: $*" >&2; exit 1; }

GO="$(command -v go || true)"
[ -n "$GO" ] || GO=/usr/local/go/bin/go
[ -x "$GO" ] || die "no go command (need Go >= 1.26 on PATH or at /usr/local/go/bin/go)"
command -v python3 >/dev/null || die "python3 is needed to read go.mod files"

# Use only the module proxy (no VCS fallback) and this machine's Go toolchain,
# unless the caller chose otherwise.
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

mkdir -p "$GITOPS_TOOLS_CACHE" "$PULUMI_HOME"

# One run at a time (a second one waits, then finds everything done).
exec 9>"$GITOPS_TOOLS_CACHE/.build-pulumi.lock"
if ! flock -n 9; then
    log "another build-pulumi.sh is running; waiting for it..."
    flock 9
fi

# Temp folders of an earlier run of this script that was killed (we hold the
# lock, so no other run owns them).
rm -rf "$GITOPS_TOOLS_CACHE"/.tmp-build-pulumi-* "$GITOPS_TOOLS_CACHE/build-pulumi-failed.log"
tmp_dirs=()
cleanup() {
    local d
    for d in "${tmp_dirs[@]+"${tmp_dirs[@]}"}"; do rm -rf "$d"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# new_tmp NAME: make a fresh temp folder in the cache (same file system as the
# target, so the final mv is atomic) and set TMPD to it.
new_tmp() {
    TMPD="$(mktemp -d "$GITOPS_TOOLS_CACHE/.tmp-build-pulumi-$1.XXXXXX")"
    tmp_dirs+=("$TMPD")
}

# step NAME LOG CMD...: run CMD with its output in LOG; on failure name the step
# and show the tail of the output.
step() {
    local name="$1" logf="$2"
    shift 2
    if ! "$@" >>"$logf" 2>&1; then
        cp "$logf" "$GITOPS_TOOLS_CACHE/build-pulumi-failed.log" 2>/dev/null || true
        echo "build-pulumi: ERROR: step '$name' failed: $*" >&2
        echo "---- last lines of the output (all of it: $GITOPS_TOOLS_CACHE/build-pulumi-failed.log) ----" >&2
        tail -n 40 "$logf" >&2
        echo "----" >&2
        exit 1
    fi
}

# mod_field MODULE@VERSION FIELD LOG: download a module, print a field (Dir, GoMod).
mod_field() {
    local json
    if ! json="$("$GO" mod download -json "$1" 2>>"$3")"; then
        echo "build-pulumi: ERROR: go mod download $1 failed:" >&2
        printf '%s\n' "$json" | grep '"Error"' >&2 || tail -n 20 "$3" >&2
        exit 1
    fi
    printf '%s\n' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# nonlocal_replaces GOMOD: print go mod edit -replace args for its replaces
# whose target is a module (not a local folder).
nonlocal_replaces() {
    "$GO" mod edit -json "$1" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    old, new = r["Old"], r["New"]
    if "Version" not in new:          # a local folder: ../sdk and the like
        continue
    o = old["Path"] + ("@" + old["Version"] if old.get("Version") else "")
    print("-replace=%s=%s@%s" % (o, new["Path"], new["Version"]))
'
}

# go_directive GOMOD: the go version a go.mod asks for.
go_directive() { "$GO" mod edit -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Go"])'; }

elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# ---------------------------------------------------------------------------
# 1+2. Pulumi CLI, Python language host and runner script
# ---------------------------------------------------------------------------
pulumi_dir="$GITOPS_TOOLS_CACHE/pulumi-$PULUMI_VERSION"
PULUMI=""

pulumi_ok() { # DIR: a complete CLI folder of the pinned version?
    [ -x "$1/pulumi" ] && [ -x "$1/pulumi-language-python" ] && [ -f "$1/pulumi-language-python-exec" ] &&
        [ "$("$1/pulumi" version 2>/dev/null)" = "v$PULUMI_VERSION" ]
}

find_external_pulumi() { # a suitable pulumi on PATH outside our cache
    local d IFS=:
    for d in $PATH; do
        [ -n "$d" ] || continue
        case "$d" in "$GITOPS_TOOLS_CACHE"/*) continue ;; esac
        if pulumi_ok "$d"; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

build_pulumi() {
    local t logf src gomod sdkdir start
    start=$(date +%s)
    new_tmp "pulumi-$PULUMI_VERSION"
    t="$TMPD"
    logf="$t/build.log"
    mkdir -p "$t/out/bin" "$t/cli" "$t/langhost"
    log "building pulumi $PULUMI_VERSION CLI (cold: ~5 min on 2 cores; log $logf)..."

    # The CLI: a wrapper module that requires pkg/v3 and sdk/v3 at the same
    # version and repeats pkg/go.mod's non-local replaces (go install refuses
    # pkg/v3 itself because of its replace directives).
    gomod="$(mod_field "github.com/pulumi/pulumi/pkg/v3@v$PULUMI_VERSION" GoMod "$logf")"
    cat >"$t/cli/go.mod" <<EOF
module gitops.local/build/pulumi-cli

go $(go_directive "$gomod")

require (
	github.com/pulumi/pulumi/pkg/v3 v$PULUMI_VERSION
	github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
)
EOF
    cat >"$t/cli/tools.go" <<'EOF'
//go:build tools

package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
EOF
    local reps
    mapfile -t reps < <(nonlocal_replaces "$gomod")
    if [ "${#reps[@]}" -gt 0 ]; then step "pulumi: go mod edit" "$logf" "$GO" -C "$t/cli" mod edit "${reps[@]}"; fi
    step "pulumi: go mod tidy" "$logf" "$GO" -C "$t/cli" mod tidy
    step "pulumi: go build" "$logf" env CGO_ENABLED=0 "$GO" -C "$t/cli" build -trimpath -tags osusergo,grpcnotrace \
        -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
        -o "$t/out/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    log "  pulumi CLI built ($(elapsed "$start"))"

    # The Python language host (our own, on sdk/v3 of the same version) and the
    # runner script from the sdk/v3 module.
    start=$(date +%s)
    log "building pulumi-language-python $PULUMI_VERSION (cold: ~1 min)..."
    gomod="$(mod_field "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" GoMod "$logf")"
    sdkdir="$(mod_field "github.com/pulumi/pulumi/sdk/v3@v$PULUMI_VERSION" Dir "$logf")"
    cp "$tools_dir/pulumi/language-python/"*.go "$t/langhost/"
    cat >"$t/langhost/go.mod" <<EOF
module gitops.local/build/pulumi-language-python

go $(go_directive "$gomod")

require github.com/pulumi/pulumi/sdk/v3 v$PULUMI_VERSION
EOF
    mapfile -t reps < <(nonlocal_replaces "$gomod")
    if [ "${#reps[@]}" -gt 0 ]; then step "language host: go mod edit" "$logf" "$GO" -C "$t/langhost" mod edit "${reps[@]}"; fi
    step "language host: go mod tidy" "$logf" "$GO" -C "$t/langhost" mod tidy
    step "language host: go build" "$logf" env CGO_ENABLED=0 "$GO" -C "$t/langhost" build -trimpath \
        -tags osusergo,grpcnotrace -ldflags "-X main.version=$PULUMI_VERSION" \
        -o "$t/out/bin/pulumi-language-python" .
    [ -f "$sdkdir/python/cmd/pulumi-language-python-exec" ] ||
        die "step 'language host': $sdkdir/python/cmd/pulumi-language-python-exec not found in the sdk/v3 module"
    install -m 0755 "$sdkdir/python/cmd/pulumi-language-python-exec" "$t/out/bin/pulumi-language-python-exec"
    log "  pulumi-language-python built ($(elapsed "$start"))"

    local got
    got="$("$t/out/bin/pulumi" version 2>&1)" || die "step 'pulumi: check': the built pulumi does not run: $got"
    [ "$got" = "v$PULUMI_VERSION" ] || die "step 'pulumi: check': built pulumi reports '$got', expected v$PULUMI_VERSION"

    cp "$logf" "$t/out/build.log"
    rm -rf "$pulumi_dir"
    mv -T "$t/out" "$pulumi_dir"
    rm -rf "$t"
}

if pulumi_ok "$pulumi_dir/bin"; then
    PULUMI="$pulumi_dir/bin/pulumi"
    log "pulumi $PULUMI_VERSION: present ($pulumi_dir/bin)"
elif ext="$(find_external_pulumi)"; then
    PULUMI="$ext/pulumi"
    log "pulumi $PULUMI_VERSION: using $PULUMI from PATH (not building it)"
else
    build_pulumi
    PULUMI="$pulumi_dir/bin/pulumi"
    log "pulumi $PULUMI_VERSION: built ($pulumi_dir/bin)"
fi

# ---------------------------------------------------------------------------
# 3+4. Resource plugins, built once per version, installed into $PULUMI_HOME
# ---------------------------------------------------------------------------
# plugin_installed NAME VERSION BINARY: is exactly this binary installed?
plugin_installed() {
    local d="$PULUMI_HOME/plugins/resource-$1-v$2"
    [ -d "$d" ] && [ ! -e "$d.partial" ] && cmp -s "$3" "$d/pulumi-resource-$1"
}

install_plugin() { # NAME VERSION BINARY
    if plugin_installed "$@"; then
        log "plugin $1 $2: installed"
        return 0
    fi
    local logf
    new_tmp "install-$1"
    logf="$TMPD/install.log"
    step "plugin $1: pulumi plugin install" "$logf" \
        "$PULUMI" plugin install resource "$1" "$2" --file "$3" --reinstall
    plugin_installed "$@" || die "step 'plugin $1: install': $PULUMI_HOME/plugins/resource-$1-v$2 does not hold the built binary"
    log "plugin $1 $2: installed into $PULUMI_HOME"
}

build_kubernetes() { # DEST
    local dest="$1" t logf src start
    start=$(date +%s)
    new_tmp "kubernetes-$PULUMI_KUBERNETES_VERSION"
    t="$TMPD"
    logf="$t/build.log"
    log "building pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION (cold: ~9 min; log $logf)..."
    src="$(mod_field "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_MODULE_VERSION" Dir "$logf")"
    # A writable copy: the build generates schema-embed.json inside the module.
    cp -r "$src" "$t/src"
    chmod -R u+w "$t/src"
    local drops=() r
    while read -r r; do drops+=("-dropreplace=$r"); done < <("$GO" mod edit -json "$t/src/go.mod" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if "Version" not in r["New"]:
        print(r["Old"]["Path"])
')
    step "kubernetes: go mod edit" "$logf" "$GO" -C "$t/src" mod edit "${drops[@]}" \
        "-require=github.com/pulumi/pulumi-kubernetes/sdk/v4@$PULUMI_KUBERNETES_SDK_VERSION"
    step "kubernetes: go mod tidy" "$logf" "$GO" -C "$t/src" mod tidy
    step "kubernetes: go run generate.go" "$logf" env VERSION="$PULUMI_KUBERNETES_VERSION" \
        "$GO" -C "$t/src/cmd/pulumi-resource-kubernetes" run generate.go
    mkdir -p "$t/out"
    step "kubernetes: go build" "$logf" env CGO_ENABLED=0 "$GO" -C "$t/src" build -trimpath \
        -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
        -o "$t/out/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
    cp "$logf" "$t/out/build.log"
    rm -rf "$dest"
    mv -T "$t/out" "$dest"
    rm -rf "$t"
    log "  pulumi-resource-kubernetes built ($(elapsed "$start"))"
}

build_docker_build() { # DEST
    local dest="$1" t logf src start
    start=$(date +%s)
    new_tmp "docker-build-$PULUMI_DOCKER_BUILD_VERSION"
    t="$TMPD"
    logf="$t/build.log"
    log "building pulumi-resource-docker-build $PULUMI_DOCKER_BUILD_VERSION (cold: ~2-5 min; log $logf)..."
    # Not `go install ...@v`: the proxy refuses the module's version list, which
    # go install reads. Build a copy of the module instead, with stand-ins for
    # two modules the proxy does not serve, whose one type each only fills in
    # the Java/.NET codegen settings of the provider's schema.
    src="$(mod_field "github.com/pulumi/pulumi-docker-build@v$PULUMI_DOCKER_BUILD_VERSION" Dir "$logf")"
    cp -r "$src" "$t/src"
    chmod -R u+w "$t/src"
    cp -r "$tools_dir/pulumi/stubs" "$t/stubs"
    step "docker-build: go mod edit" "$logf" "$GO" -C "$t/src" mod edit \
        "-replace=github.com/pulumi/pulumi-java=$t/stubs/pulumi-java" \
        "-replace=github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=$t/stubs/pulumi-language-dotnet"
    mkdir -p "$t/out"
    step "docker-build: go build" "$logf" env CGO_ENABLED=0 "$GO" -C "$t/src" build -mod=mod -trimpath \
        -ldflags "-X github.com/pulumi/pulumi-docker-build/provider.Version=$PULUMI_DOCKER_BUILD_VERSION" \
        -o "$t/out/pulumi-resource-docker-build" ./provider/cmd/pulumi-resource-docker-build
    cp "$t/src/go.mod" "$t/out/go.mod" # records the buildkit version it was built with
    cp "$logf" "$t/out/build.log"
    rm -rf "$dest"
    mv -T "$t/out" "$dest"
    rm -rf "$t"
    log "  pulumi-resource-docker-build built ($(elapsed "$start"))"
}

k8s_dir="$GITOPS_TOOLS_CACHE/pulumi-resource-kubernetes-$PULUMI_KUBERNETES_VERSION"
if [ -x "$k8s_dir/pulumi-resource-kubernetes" ]; then
    log "pulumi-resource-kubernetes $PULUMI_KUBERNETES_VERSION: present"
else
    build_kubernetes "$k8s_dir"
fi
install_plugin kubernetes "$PULUMI_KUBERNETES_VERSION" "$k8s_dir/pulumi-resource-kubernetes"

db_dir="$GITOPS_TOOLS_CACHE/pulumi-resource-docker-build-$PULUMI_DOCKER_BUILD_VERSION"
if [ -x "$db_dir/pulumi-resource-docker-build" ]; then
    log "pulumi-resource-docker-build $PULUMI_DOCKER_BUILD_VERSION: present"
else
    build_docker_build "$db_dir"
fi
install_plugin docker-build "$PULUMI_DOCKER_BUILD_VERSION" "$db_dir/pulumi-resource-docker-build"

# ---------------------------------------------------------------------------
# 5. buildkitd, the build daemon for docker-build
# ---------------------------------------------------------------------------
# The docker-build provider does not drive dockerd's built-in BuildKit (it links
# no buildx "docker" driver) and its fallback, a docker-container builder, pulls
# moby/buildkit from Docker Hub. So the project runs its own buildkitd and
# points a buildx "remote" builder at it. Default version: the one the provider
# was built with (BUILDKIT_VERSION=0.31.0 overrides).
if [ -z "${BUILDKIT_VERSION:-}" ]; then
    db_gomod="$db_dir/go.mod"
    [ -f "$db_gomod" ] ||
        db_gomod="$(mod_field "github.com/pulumi/pulumi-docker-build@v$PULUMI_DOCKER_BUILD_VERSION" GoMod /dev/null)"
    BUILDKIT_VERSION="$(awk '$1 == "github.com/moby/buildkit" { sub(/^v/, "", $2); print $2 }' "$db_gomod")"
    [ -n "$BUILDKIT_VERSION" ] || die "cannot tell the buildkit version from $db_gomod; set BUILDKIT_VERSION"
fi

build_buildkitd() { # DEST
    local dest="$1" t logf src start
    start=$(date +%s)
    new_tmp "buildkit-$BUILDKIT_VERSION"
    t="$TMPD"
    logf="$t/build.log"
    log "building buildkitd $BUILDKIT_VERSION (cold: ~2 min; log $logf)..."
    # Not `go install ...@v`: buildkit's go.mod has exclude directives.
    src="$(mod_field "github.com/moby/buildkit@v$BUILDKIT_VERSION" Dir "$logf")"
    cp -r "$src" "$t/src"
    chmod -R u+w "$t/src"
    mkdir -p "$t/out/bin"
    step "buildkitd: go build" "$logf" env CGO_ENABLED=0 "$GO" -C "$t/src" build -mod=mod -trimpath \
        -ldflags "-X github.com/moby/buildkit/version.Version=v$BUILDKIT_VERSION" \
        -o "$t/out/bin/buildkitd" ./cmd/buildkitd
    cp "$logf" "$t/out/build.log"
    rm -rf "$dest"
    mv -T "$t/out" "$dest"
    rm -rf "$t"
    log "  buildkitd built ($(elapsed "$start"))"
}

bk_dir="$GITOPS_TOOLS_CACHE/buildkit-$BUILDKIT_VERSION"
if [ -x "$bk_dir/bin/buildkitd" ]; then
    log "buildkitd $BUILDKIT_VERSION: present ($bk_dir/bin)"
else
    build_buildkitd "$bk_dir"
fi

log "done: $PULUMI ($("$PULUMI" version)), plugins in $PULUMI_HOME/plugins"
