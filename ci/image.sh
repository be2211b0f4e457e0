#!/usr/bin/env bash
# Build the serving image once per commit, push it, sign it, and print its immutable reference
# <repository>@sha256:<digest> on stdout (the only line on stdout), for every stack to deploy.
#
# Every signature carries the commit it was built from as the annotation `revision=<commit>`.
# An image already under the commit's tag is reused only if `cosign verify` proves a protected
# ref of this project signed that digest (keyless: the CI's OIDC identity, matched by
# IMAGE_SIGNER_IDENTITY_REGEXP and IMAGE_SIGNER_ISSUER) for this very commit (`-a
# revision=<commit>`): an older signed image moved under a newer commit's tag is not reused.
# Anything else found under the tag (a branch's push, say) is not trusted: the image is rebuilt,
# pushed over the tag and signed.
#
# IMAGE_PUSH=false (merge requests): build only, no registry login, nothing pushed or signed;
# prints the local reference.
set -euo pipefail

repository="${1:-}"
tag="${2:-$(git rev-parse HEAD)}"
push="${IMAGE_PUSH:-true}"

fail() { echo "make image: $*" >&2; exit 1; }

[ -n "$repository" ] || fail "IMAGE_REPOSITORY is empty; expected <registry>/<repository>, e.g. IMAGE_REPOSITORY=ghcr.io/acme/mlops-serving"
name="${repository##*/}"
if [[ "$repository" != */* || "$repository" == *[A-Z@]* || "$name" == *:* ]]; then
  fail "IMAGE_REPOSITORY='$repository' is not a lower-case <registry>/<repository> without tag or digest"
fi
[[ "$push" == true || "$push" == false ]] || fail "IMAGE_PUSH='$push' must be true or false"
command -v docker >/dev/null 2>&1 || fail "the docker CLI is not installed; install Docker (CLI and engine) to build the serving image"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (docker info failed); start dockerd or point DOCKER_HOST at one"

ref="$repository:$tag"
build() { docker build --label "org.opencontainers.image.revision=$tag" --tag "$ref" serving >&2; }

if [ "$push" = false ]; then
  build
  echo "$ref"
  exit 0
fi

command -v cosign >/dev/null 2>&1 || fail "cosign is not installed; it signs the pushed image and verifies a reused one"
: "${IMAGE_SIGNER_IDENTITY_REGEXP:?make image: IMAGE_SIGNER_IDENTITY_REGEXP is not set; the CI identity (protected refs) whose signature makes an existing image reusable}"
: "${IMAGE_SIGNER_ISSUER:?make image: IMAGE_SIGNER_ISSUER is not set; the OIDC issuer of that identity}"

digest_of() {
  docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" \
    | grep -m1 "^$repository@sha256:"
}

if docker pull --quiet "$ref" >/dev/null 2>&1 && found="$(digest_of)" \
  && cosign verify --certificate-identity-regexp "$IMAGE_SIGNER_IDENTITY_REGEXP" \
       --certificate-oidc-issuer "$IMAGE_SIGNER_ISSUER" -a "revision=$tag" "$found" >/dev/null 2>&1; then
  echo "make image: $found is signed by a protected ref for commit $tag; reusing it" >&2
  echo "$found"
  exit 0
fi
if [ -n "${found:-}" ]; then
  echo "make image: $found under $ref carries no signature of a protected ref for commit $tag; rebuilding" >&2
fi
build
docker push --quiet "$ref" >&2
digest_ref="$(digest_of)" || fail "the registry returned no digest for $ref"
cosign sign --yes -a "revision=$tag" "$digest_ref" >&2
echo "$digest_ref"
