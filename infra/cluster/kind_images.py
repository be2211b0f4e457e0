"""kind node images and the kind release each was built for.

Standard library only: `stacks/preflight.py` reads it before the virtualenv exists. Each entry
is the default node image of that kind release (`pkg/apis/config/defaults/image.go` at the tag
in kubernetes-sigs/kind); kind's release notes say a node image needs the kind release it was
built with or a newer one.
"""

_NODE = "kindest/node:"
KIND_VERSION_FOR_NODE_IMAGE = {
    f"{_NODE}v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5": "0.32.0",  # noqa: E501
    f"{_NODE}v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f": "0.31.0",  # noqa: E501
    f"{_NODE}v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a": "0.30.0",  # noqa: E501
    f"{_NODE}v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f": "0.29.0",  # noqa: E501
}

DEFAULT_NODE_IMAGE = next(iter(KIND_VERSION_FOR_NODE_IMAGE))
"""kind v0.32.0's default node image (Kubernetes 1.36.1)."""
