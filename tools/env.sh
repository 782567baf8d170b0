# Source this file to put the project's pinned tools on PATH.
# Built tools live outside the work tree, one folder per name and version, so
# a fresh clone (and CI) reuses them and a version bump builds anew.
_tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$_tools_dir/versions.env"

export GITOPS_TOOLS_CACHE="${GITOPS_TOOLS_CACHE:-$HOME/.cache/gitops-tools}"
export PULUMI_HOME="${PULUMI_HOME:-$GITOPS_TOOLS_CACHE/pulumi-home}"
# Nothing the project runs may download: a missing plugin is an error.
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Resource operations in flight at once (the CLI's default is 4 per core, 8 here).
# Each Service waits ~10 s for its endpoints to settle, so 1,000 objects at 8
# took 357 s; at 64, 190-235 s, where the file backend's checkpoints set the
# pace (32: 232 s, 128: 268 s; bench/scale_compare.py, README "Scale").
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-64}"

export PATH="$GITOPS_TOOLS_CACHE/pulumi-$PULUMI_VERSION/bin:$GITOPS_TOOLS_CACHE/actionlint-$ACTIONLINT_VERSION/bin:$GITOPS_TOOLS_CACHE/buildkit-$BUILDKIT_VERSION/bin:$GITOPS_TOOLS_CACHE/kubernetes-$KUBERNETES_VERSION/bin:$GITOPS_TOOLS_CACHE/kubelet-$KUBERNETES_VERSION/bin:$GITOPS_TOOLS_CACHE/kwok-$KWOK_VERSION/bin:$GITOPS_TOOLS_CACHE/kine-$KINE_VERSION/bin:$PATH"
unset _tools_dir
