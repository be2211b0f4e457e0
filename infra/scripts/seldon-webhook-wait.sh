#!/usr/bin/env bash
# Wait until the Seldon operator's admission webhooks answer, by creating a minimal
# SeldonDeployment with `kubectl create --dry-run=server` until the API server accepts it.
#
# Why: the seldon-core-operator chart's manager Deployment has no readiness probe and its
# webhooks are `failurePolicy: Fail` (helm-charts/seldon-core-operator/templates/
# deployment_seldon-controller-manager.yaml and webhook.yaml @ v1.17.1), so Helm's wait passes
# before the webhook listens, a create is refused meanwhile, and pulumi-kubernetes retries a
# create only on NotFound/NoMatch.
#
# Usage: seldon-webhook-wait.sh NAMESPACE TIMEOUT_SECONDS  (NAMESPACE: where the dry-run object
# would live). Env: optional INTERVAL_SECONDS (default 5), and how to reach the cluster:
# KUBECONFIG_DATA (a kubeconfig's content) or KUBE_CONTEXT (a context; empty: the current one).
# Exit 0 once accepted; 1 when the webhook refuses the probe or on timeout (with the last error).
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 NAMESPACE TIMEOUT_SECONDS" >&2; exit 2; }
NAMESPACE="$1"
TIMEOUT_SECONDS="$2"
INTERVAL_SECONDS="${INTERVAL_SECONDS:-5}"
command -v kubectl >/dev/null || { echo "seldon-webhook-wait.sh: 'kubectl' not found" >&2; exit 127; }

kubectl_args=()
if [ -n "${KUBECONFIG_DATA:-}" ]; then
  kubeconfig=$(mktemp)
  trap 'rm -f "$kubeconfig"' EXIT
  printf '%s\n' "$KUBECONFIG_DATA" > "$kubeconfig"
  kubectl_args+=(--kubeconfig "$kubeconfig")
fi
if [ -n "${KUBE_CONTEXT:-}" ]; then
  kubectl_args+=(--context "$KUBE_CONTEXT")
fi

probe() {
  cat <<YAML
apiVersion: machinelearning.seldon.io/v1
kind: SeldonDeployment
metadata:
  name: webhook-probe
  namespace: ${NAMESPACE}
spec:
  predictors:
    - name: probe
      graph: {name: probe, type: MODEL}
      componentSpecs:
        - spec:
            containers:
              - {name: probe, image: "webhook-probe:dry-run"}
YAML
}

deadline=$((SECONDS + TIMEOUT_SECONDS))
while :; do
  # `${a[@]+"${a[@]}"}`: bash before 4.4 (macOS ships 3.2) treats an empty array as unbound
  # under `set -u`; this expands to nothing there and to the quoted words otherwise.
  if output=$(probe | kubectl ${kubectl_args[@]+"${kubectl_args[@]}"} create --dry-run=server -o name -f - 2>&1); then
    echo "seldon admission webhooks answered: ${output}"
    exit 0
  fi
  case "$output" in
    *"denied the request"*)
      echo "seldon-webhook-wait.sh: the webhook answered but refused the probe: ${output}" >&2
      exit 1
      ;;
  esac
  if ((SECONDS >= deadline)); then
    echo "seldon-webhook-wait.sh: the Seldon admission webhooks did not accept a dry-run" \
      "SeldonDeployment within ${TIMEOUT_SECONDS}s; last error: ${output}" >&2
    exit 1
  fi
  sleep "$INTERVAL_SECONDS"
done
