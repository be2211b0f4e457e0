#!/usr/bin/env bash
# Create or delete the dev kind cluster with a local registry at localhost:$REGISTRY_PORT.
# `create` prints the cluster's kubeconfig on stdout (the only stdout output) for the Pulumi provider.
# Follows kind's documented local-registry recipe (containerd hosts.toml + local-registry-hosting).
set -euo pipefail
: "${CLUSTER_NAME:?}" "${NODE_IMAGE:?}" "${REGISTRY_PORT:?}" "${INGRESS_HOST_PORT:?}" "${INGRESS_HTTPS_HOST_PORT:?}"
REGISTRY_NAME="kind-registry"
# distribution/distribution 3.0.0 (registry:2.8.3 is superseded and no longer rebuilt).
REGISTRY_IMAGE="registry:3.0.0@sha256:6c5666b861f3505b116bb9aa9b25175e71210414bd010d92035ff64018f9457e"

for tool in kind docker kubectl; do
  command -v "$tool" >/dev/null || { echo "kind-cluster.sh: '$tool' not found" >&2; exit 127; }
done

delete() {
  kind delete cluster --name "$CLUSTER_NAME" >&2
  docker rm -f "$REGISTRY_NAME" >/dev/null 2>&1 || true
}

create() {
  if [ "$(docker inspect -f '{{.State.Running}}' "$REGISTRY_NAME" 2>/dev/null || true)" != "true" ]; then
    docker run -d --restart=always -p "127.0.0.1:${REGISTRY_PORT}:5000" --network bridge \
      --name "$REGISTRY_NAME" "$REGISTRY_IMAGE" >&2
  fi
  if ! kind get clusters | grep -qx "$CLUSTER_NAME"; then
    kind create cluster --name "$CLUSTER_NAME" --image "$NODE_IMAGE" --wait 120s --config - >&2 <<KIND
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
containerdConfigPatches:
  - |-
    [plugins."io.containerd.grpc.v1.cri".registry]
      config_path = "/etc/containerd/certs.d"
nodes:
  - role: control-plane
    # The gateway's NodePorts (infra/mesh/): 30080 HTTP (redirects), 30443 HTTPS.
    extraPortMappings:
      - containerPort: 30080
        hostPort: ${INGRESS_HOST_PORT}
        listenAddress: "127.0.0.1"
      - containerPort: 30443
        hostPort: ${INGRESS_HTTPS_HOST_PORT}
        listenAddress: "127.0.0.1"
KIND
  fi
  local hosts_dir="/etc/containerd/certs.d/localhost:${REGISTRY_PORT}"
  for node in $(kind get nodes --name "$CLUSTER_NAME"); do
    docker exec "$node" mkdir -p "$hosts_dir"
    printf '[host."http://%s:5000"]\n' "$REGISTRY_NAME" | docker exec -i "$node" cp /dev/stdin "$hosts_dir/hosts.toml"
  done
  docker network connect kind "$REGISTRY_NAME" 2>/dev/null || true
  kubeconfig=$(mktemp)
  trap 'rm -f "$kubeconfig"' EXIT
  kind get kubeconfig --name "$CLUSTER_NAME" > "$kubeconfig"
  kubectl --kubeconfig "$kubeconfig" apply -f - >&2 <<CM
apiVersion: v1
kind: ConfigMap
metadata:
  name: local-registry-hosting
  namespace: kube-public
data:
  localRegistryHosting.v1: |
    host: "localhost:${REGISTRY_PORT}"
    help: "https://kind.sigs.k8s.io/docs/user/local-registry/"
CM
  cat "$kubeconfig"
}

case "${1:-}" in
  create) create ;;
  delete) delete ;;
  *) echo "usage: $0 create|delete" >&2; exit 2 ;;
esac
