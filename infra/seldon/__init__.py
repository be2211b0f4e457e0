"""The Seldon Core v1 operator and how its SeldonDeployments are routed and hardened."""
