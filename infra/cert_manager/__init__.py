"""cert-manager, the platform's internal CA, and the gateway's certificate source."""
