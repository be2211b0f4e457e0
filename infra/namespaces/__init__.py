"""Platform namespaces: Pod Security labels, default-deny NetworkPolicies and named allows."""
