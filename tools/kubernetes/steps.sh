# Shared by the build scripts in this folder: progress lines, a named step
# whose failure shows its log tail, and the "build in a temp dir, then move
# into place" rule that keeps a half-finished build out of the cache.

# run_step NAME LOG COMMAND...
run_step() {
  local step=$1 log=$2
  shift 2
  echo "  - $step"
  if ! "$@" >>"$log" 2>&1; then
    echo "FAILED step: $step (full log: $log)" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}

# install_tool NAME VERSION BUILD_FUNCTION FILE...
# Skips the build when every FILE (a path like bin/kine) already exists in
# $GITOPS_TOOLS_CACHE/NAME-VERSION; otherwise calls
# BUILD_FUNCTION WORK_DIR BIN_DIR LOG and moves WORK_DIR into place.
install_tool() {
  local name=$1 version=$2 build_function=$3
  shift 3
  local dest="$GITOPS_TOOLS_CACHE/$name-$version" missing=0 file
  for file in "$@"; do
    [[ -f "$dest/$file" ]] || missing=1
  done
  if ((missing == 0)); then
    echo "$name $version: cached in $dest"
    return
  fi

  mkdir -p "$GITOPS_TOOLS_CACHE/logs"
  local log="$GITOPS_TOOLS_CACHE/logs/$name-$version.log"
  : >"$log"
  # Same filesystem as $dest, so the final mv is a rename.
  local work
  work=$(mktemp -d "$GITOPS_TOOLS_CACHE/.building-$name-$version.XXXXXX")
  chmod 755 "$work" # mktemp makes it private; the tools are for every user
  _cleanup_dirs+=("$work")
  echo "$name $version: building (log: $log)"
  local started=$SECONDS
  "$build_function" "$work" "$work/bin" "$log"
  for file in "$@"; do
    [[ -f "$work/$file" ]] || { echo "FAILED: $name build produced no $file" >&2; exit 1; }
  done
  rm -rf "$dest"
  mv "$work" "$dest"
  echo "$name $version: built in $((SECONDS - started))s into $dest"
}

_cleanup_dirs=()
_remove_temp_dirs() {
  local dir
  for dir in "${_cleanup_dirs[@]}"; do
    [[ -d "$dir" ]] && rm -rf "$dir"
  done
  return 0
}
trap _remove_temp_dirs EXIT
