"""Stack keys that say which cluster to provision onto (pydantic only)."""

from pydantic import Field

from infra.cluster.kind_images import DEFAULT_NODE_IMAGE
from infra.config_types import CamelModel, DnsLabel, ImageReference


class ClusterConfig(CamelModel):
    """Stack keys that say which cluster to provision onto."""

    kubeconfig_context: str = ""
    create_kind_cluster: bool = False
    kind_cluster_name: DnsLabel = "mlops-dev"
    kind_node_image: ImageReference = DEFAULT_NODE_IMAGE
    kind_registry_port: int = Field(default=5001, ge=1024, le=65535)
    ingress_host_port: int = Field(default=8080, ge=1024, le=65535)
    """Host port (127.0.0.1) of the gateway's HTTP NodePort 30080 on a kind cluster."""
    ingress_https_host_port: int = Field(default=8443, ge=1024, le=65535)
    """Host port (127.0.0.1) of the gateway's HTTPS NodePort 30443 on a kind cluster."""
    persistent_storage: bool = False
    storage_class: str = ""
    protected: bool = False
    """A protected stack (prod): `make up|destroy` refuse a local `file://` state backend and ask
    for confirmation outside CI (stacks/protection.py)."""
