#!/usr/bin/env bash
# Write the kubeconfig held in the KUBECONFIG_CONTENT secret to a file only the job user can read.
# (GitLab passes a file-type KUBECONFIG variable directly and does not need this.)
# Usage: ci/write-kubeconfig.sh <path>
set -euo pipefail

path="${1:?usage: ci/write-kubeconfig.sh <path>}"
[ -n "${KUBECONFIG_CONTENT:-}" ] || {
  echo "write-kubeconfig: the KUBECONFIG secret of this environment is empty; store the stack's kubeconfig in it" >&2
  exit 1
}
umask 077
printf '%s\n' "$KUBECONFIG_CONTENT" > "$path"
