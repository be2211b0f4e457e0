"""The end-to-end run on a real kind cluster (`make e2e`): deploy the local stack, train and
promote, deploy again, then check predictions, metrics, rules and dashboards through the real
gateway, and tear everything down. Each step also runs on its own: `python -m e2e STEP`."""
