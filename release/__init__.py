"""What serves is pinned in Git: each stack's model pins (`pins.<stack>.yaml`) and the
reviewed changes that move them (docs/operations.md, "Model pins and reviewed changes").

Pulumi-free: it may import `model/`, never `infra/` or `stacks/`; those import it.
"""
