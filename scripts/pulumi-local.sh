#!/usr/bin/env bash
# Runs the pinned `pulumi` against the local stack's file backend:
#   scripts/pulumi-local.sh up --yes       scripts/pulumi-local.sh stack output
# State and the secrets passphrase live under the state directory, outside Git;
# the passphrase is generated on first use and kept.
set -euo pipefail
project_dir="$(cd "$(dirname "$0")/.." && pwd)"
source "$project_dir/tools/env.sh"

state_dir="${GITOPS_STATE_DIR:-$project_dir/.state}"
mkdir -p "$state_dir/pulumi-backend"
passphrase_file="$state_dir/pulumi-passphrase"
if [[ ! -s "$passphrase_file" ]]; then
  (umask 077 && head -c 32 /dev/urandom | base64 > "$passphrase_file")
fi

export PULUMI_BACKEND_URL="file://$state_dir/pulumi-backend"
export PULUMI_CONFIG_PASSPHRASE_FILE="$passphrase_file"
unset PULUMI_CONFIG_PASSPHRASE

if ! command -v pulumi >/dev/null; then
  echo "pulumi is not built yet: run \`make tools\`" >&2
  exit 1
fi
cd "$project_dir"
# The engine writes the passphrase's salt into Pulumi.local.yaml, a tracked
# file, although the state keeps it too (a run without it works and puts it
# back). Take out only that line, so every machine's own salt stays out of Git.
strip_salt() { sed -i '/^encryptionsalt: /d' Pulumi.local.yaml; }
if ! grep -q '^encryptionsalt: ' Pulumi.local.yaml; then
  trap strip_salt EXIT
fi
pulumi stack select --create local >/dev/null
pulumi --stack local "$@"
