# Builds kube-apiserver, kube-controller-manager and kube-scheduler, and the
# kubelet (cached apart, so adding it did not rebuild the control plane).
#
# k8s.io/kubernetes requires its staging modules (k8s.io/api, client-go, ...)
# at v0.0.0 and replaces them with ./staging/..., which exists only in its own
# checkout. A wrapper module replaces each with the published v0.MINOR.PATCH
# instead; the list comes from the release's own go.mod so it never drifts.

KUBERNETES_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler)
KUBELET_COMMANDS=(kubelet)

# build_kubernetes WORK_DIR BIN_DIR LOG
build_kubernetes() {
  _build_kubernetes_commands "$@" "${KUBERNETES_COMMANDS[@]}"
}

# build_kubelet WORK_DIR BIN_DIR LOG
# Also the pod sandbox's `pause` program, from the same release's
# build/pause/linux/pause.c, compiled as its own Makefile does (static): no
# registry serving registry.k8s.io/pause can be reached, so the local
# environment makes the image from it.
build_kubelet() {
  _build_kubernetes_commands "$@" "${KUBELET_COMMANDS[@]}"
  local bin=$2 log=$3 source_dir
  command -v gcc >/dev/null || { echo "FAILED: the pause program needs a C compiler: apt-get install gcc" >&2; exit 1; }
  source_dir=$(go mod download -json "k8s.io/kubernetes@v$KUBERNETES_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  run_step "gcc -static pause.c (k8s.io/kubernetes@v$KUBERNETES_VERSION build/pause)" "$log" \
    gcc -Os -Wall -Werror -static "-DVERSION=v$KUBERNETES_VERSION" -o "$bin/pause" "$source_dir/build/pause/linux/pause.c"
}

# _build_kubernetes_commands WORK_DIR BIN_DIR LOG COMMAND...
_build_kubernetes_commands() {
  local work=$1 bin=$2 log=$3
  shift 3
  local commands=("$@")
  local version="v$KUBERNETES_VERSION"
  local minor_patch="${KUBERNETES_VERSION#*.}"
  local module_dir="$work/module"
  mkdir -p "$module_dir" "$bin"

  run_step "download k8s.io/kubernetes@$version go.mod" "$log" \
    go mod download -json "k8s.io/kubernetes@$version"
  local cache
  cache="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v"
  run_step "write wrapper module (staging modules -> v0.$minor_patch)" "$log" \
    _write_wrapper_module "$module_dir" "$cache/$version.mod" "$version" "v0.$minor_patch" "${commands[@]}"
  run_step "resolve dependencies (go mod tidy)" "$log" \
    _in_dir "$module_dir" go mod tidy

  # Stamp the version clients read from /version; unstamped builds report
  # v0.0.0-master, and clients (the Pulumi kubernetes provider) misread it.
  local build_date
  build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$cache/$version.info")
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version"
    ldflags+=" -X $pkg.gitMajor=${KUBERNETES_VERSION%%.*}"
    ldflags+=" -X $pkg.gitMinor=${minor_patch%%.*}"
    ldflags+=" -X $pkg.gitTreeState=clean"
    ldflags+=" -X $pkg.buildDate=$build_date"
  done
  local packages=() command
  for command in "${commands[@]}"; do
    packages+=("k8s.io/kubernetes/cmd/$command")
  done
  run_step "go build ${commands[*]}" "$log" \
    _in_dir "$module_dir" env CGO_ENABLED=0 \
    go build -trimpath -ldflags "$ldflags" -o "$bin/" "${packages[@]}"
}

# _write_wrapper_module DIR KUBERNETES_GO_MOD VERSION STAGING_VERSION COMMAND...
_write_wrapper_module() {
  local dir=$1 upstream_mod=$2 version=$3 staging_version=$4
  shift 4
  {
    echo "module gitops.local/kubernetes-build"
    echo
    # Same language version and GODEBUG defaults as the release's own build.
    grep -E '^(go|godebug) ' "$upstream_mod"
    echo
    echo "require k8s.io/kubernetes $version"
    echo
    echo "replace ("
    awk -v v="$staging_version" \
      '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " " v }' "$upstream_mod"
    echo ")"
  } >"$dir/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "// Package tools pins the commands this module builds, for go mod tidy."
    echo "package tools"
    echo
    echo "import ("
    local command
    for command in "$@"; do
      echo "	_ \"k8s.io/kubernetes/cmd/$command\""
    done
    echo ")"
  } >"$dir/tools.go"
  cat "$dir/go.mod"
}

_in_dir() {
  local dir=$1
  shift
  (cd "$dir" && "$@")
}
