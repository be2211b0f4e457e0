#!/usr/bin/env bash
# Build the serving image once per commit, push it, and print its immutable reference
# <repository>@sha256:<digest> on stdout (the only line on stdout), for every stack to deploy.
# A commit whose image is already in the registry is not rebuilt: its digest is reused,
# so dev and prod always run the same bytes.
set -euo pipefail

repository="${1:-}"
tag="${2:-$(git rev-parse HEAD)}"

fail() { echo "make image: $*" >&2; exit 1; }

[ -n "$repository" ] || fail "IMAGE_REPOSITORY is empty; expected <registry>/<repository>, e.g. IMAGE_REPOSITORY=ghcr.io/acme/mlops-serving"
name="${repository##*/}"
if [[ "$repository" != */* || "$repository" == *[A-Z@]* || "$name" == *:* ]]; then
  fail "IMAGE_REPOSITORY='$repository' is not a lower-case <registry>/<repository> without tag or digest"
fi
command -v docker >/dev/null 2>&1 || fail "the docker CLI is not installed; install Docker (CLI and engine) to build the serving image"
docker info >/dev/null 2>&1 || fail "no Docker engine answers (docker info failed); start dockerd or point DOCKER_HOST at one"

ref="$repository:$tag"
if docker pull --quiet "$ref" >/dev/null 2>&1; then
  echo "make image: $ref is already in the registry; reusing its digest" >&2
else
  docker build --label "org.opencontainers.image.revision=$tag" --tag "$ref" serving >&2
  docker push --quiet "$ref" >&2
fi

digest_ref="$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$ref" \
  | grep -m1 "^$repository@sha256:")" || fail "the registry returned no digest for $ref"
echo "$digest_ref"
