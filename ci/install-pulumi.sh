#!/usr/bin/env bash
# Install the Pulumi CLI at the version the lock requirements.txt pins for the SDK, so CLI and
# SDK never drift apart. The tarball is checked against the release's published SHA-256 list
# before use.
# Usage: ci/install-pulumi.sh <install-dir>   (the CLI lands in <install-dir>/pulumi)
set -euo pipefail

dest="${1:?usage: ci/install-pulumi.sh <install-dir>}"
version="$(sed -n 's/^pulumi==\([0-9.]*\)\( \\\)\{0,1\}$/\1/p' requirements.txt)"
[ -n "$version" ] || { echo "install-pulumi: no 'pulumi==<version>' pin in requirements.txt" >&2; exit 1; }

archive="pulumi-v${version}-linux-x64.tar.gz"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
  --output "$work/$archive" "https://github.com/pulumi/pulumi/releases/download/v${version}/${archive}"
curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 \
  --output "$work/checksums.txt" "https://github.com/pulumi/pulumi/releases/download/v${version}/pulumi-${version}-checksums.txt"
(cd "$work" && grep " ${archive}\$" checksums.txt | sha256sum --check --strict -)
mkdir -p "$dest"
tar -xzf "$work/$archive" -C "$work"
cp "$work"/pulumi/pulumi* "$dest"/
"$dest/pulumi" version
