#!/usr/bin/env bash
# Install kubectl at a pinned version, checked against the release's published SHA-256 before
# use. `pulumi up` needs it: the Seldon webhook wait (infra/scripts/seldon-webhook-wait.sh)
# runs `kubectl create --dry-run=server` on the machine that runs Pulumi.
# Usage: ci/install-kubectl.sh <install-dir>   (kubectl lands in <install-dir>/kubectl)
set -euo pipefail

dest="${1:?usage: ci/install-kubectl.sh <install-dir>}"
version="v1.36.1"  # the Kubernetes of the pinned kind node image (infra/cluster/kind_images.py)

base="https://dl.k8s.io/release/${version}/bin/linux/amd64"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for file in kubectl kubectl.sha256; do
  curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
    --output "$work/$file" "$base/$file"
done
(cd "$work" && echo "$(cat kubectl.sha256)  kubectl" | sha256sum --check --strict -)
mkdir -p "$dest"
install -m 0755 "$work/kubectl" "$dest/kubectl"
"$dest/kubectl" version --client
