"""YAML reading that refuses a mapping with a repeated key.

PyYAML's `safe_load` keeps the last of two equal keys without a word, so a stack file that sets
`mlops-platform:deployments` twice would deploy whichever came last.
"""

from typing import Any

import yaml


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[Any, yaml.Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                first = seen[key].start_mark
                raise DuplicateKeyError(
                    f"key {key!r} appears twice: line {first.line + 1} and line "
                    f"{key_node.start_mark.line + 1}; keep one"
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def load_unique(text: str) -> Any:
    """Parse YAML like `yaml.safe_load`, but raise DuplicateKeyError on a repeated key."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
