# Builds kwok, the fake kubelet that makes Nodes and Pods Ready without
# running containers. Its module has no replaces, so go install works as is.
#
# The kwok binary starts with no Stages (they are what moves a Node or Pod
# to Ready); kwokctl feeds it the defaults from the module's kustomize/stage.
# The same files, from the same version, are saved as share/stages.yaml.

KWOK_STAGE_FILES=(
  node/fast/node-initialize.yaml
  node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
  pod/fast/pod-ready.yaml
  pod/fast/pod-complete.yaml
  pod/fast/pod-delete.yaml
)

# build_kwok WORK_DIR BIN_DIR LOG
build_kwok() {
  local work=$1 bin=$2 log=$3
  run_step "go install sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION" "$log" \
    env CGO_ENABLED=0 GOBIN="$bin" \
    go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@v$KWOK_VERSION"
  run_step "write default stages to share/stages.yaml" "$log" \
    _write_kwok_stages "$work/share/stages.yaml"
}

_write_kwok_stages() {
  local out=$1 source_dir file
  source_dir=$(go mod download -json "sigs.k8s.io/kwok@v$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)",/\1/p')
  mkdir -p "$(dirname "$out")"
  : >"$out"
  for file in "${KWOK_STAGE_FILES[@]}"; do
    echo "---" >>"$out"
    cat "$source_dir/kustomize/stage/$file" >>"$out"
  done
}
