#!/usr/bin/env bash
# Builds the local control plane from Go modules into the tools cache:
# kube-apiserver, kube-controller-manager, kube-scheduler, the kubelet, kwok
# and kine.
# Each tool is built once per version; a warm run only checks the binaries.
set -euo pipefail

tools_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$tools_dir/env.sh"
. "$tools_dir/kubernetes/steps.sh"
. "$tools_dir/kubernetes/kubernetes.sh"
. "$tools_dir/kubernetes/kwok.sh"
. "$tools_dir/kubernetes/kine.sh"

command -v go >/dev/null || { echo "go not found: install Go 1.26 or newer" >&2; exit 1; }
mkdir -p "$GITOPS_TOOLS_CACHE"

install_tool kine "$KINE_VERSION" build_kine bin/kine
install_tool kwok "$KWOK_VERSION" build_kwok bin/kwok share/stages.yaml
install_tool kubernetes "$KUBERNETES_VERSION" build_kubernetes "${KUBERNETES_COMMANDS[@]/#/bin/}"
install_tool kubelet "$KUBERNETES_VERSION" build_kubelet "${KUBELET_COMMANDS[@]/#/bin/}" bin/pause
