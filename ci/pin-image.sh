#!/usr/bin/env bash
# Point STACK at the serving image built once by `make image`, so `pulumi preview`/`pulumi up`
# deploy that exact digest instead of building their own.
# Usage: ci/pin-image.sh <stack> <registry>/<repository>@sha256:<64 hex digits>
set -euo pipefail

stack="${1:-}"
ref="${2:-}"
[[ "$stack" =~ ^[a-z0-9-]+$ ]] || { echo "pin-image: stack '$stack' is not a stack name such as dev or prod" >&2; exit 1; }
[[ "$ref" =~ ^[a-z0-9.:/_-]+@sha256:[0-9a-f]{64}$ ]] || {
  echo "pin-image: image reference '$ref' is not <registry>/<repository>@sha256:<64 hex digits> (the output of make image)" >&2
  exit 1
}
: "${PULUMI_CONFIG_PASSPHRASE:?pin-image: PULUMI_CONFIG_PASSPHRASE is not set; define it as a masked CI variable for this environment}"
: "${PULUMI_BACKEND_URL:?pin-image: PULUMI_BACKEND_URL is not set; point it at the state bucket, e.g. s3://mlops-pulumi-state}"

pulumi login "$PULUMI_BACKEND_URL"
pulumi stack select --create --secrets-provider passphrase "$stack"
pulumi config set --stack "$stack" mlops-platform:imagePrebuiltRef "$ref"
echo "pin-image: stack $stack deploys $ref"
