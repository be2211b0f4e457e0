"""Reads serving/Dockerfile so local runs use the image's own command and environment."""

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

SERVING_DIR = Path(__file__).resolve().parent.parent / "serving"
DOCKERFILE = SERVING_DIR / "Dockerfile"


@dataclass(frozen=True)
class ImageSpec:
    """The final stage's command line and the ENV values that do not depend on the image."""

    command: list[str]
    env: dict[str, str]


def read_image_spec(dockerfile: Path = DOCKERFILE) -> ImageSpec:
    """Parse ENTRYPOINT, CMD and ENV of the last stage (exec-form JSON arrays only)."""
    instructions = _final_stage(_instructions(dockerfile.read_text()))
    entrypoint: list[str] = []
    cmd: list[str] = []
    env: dict[str, str] = {}
    for keyword, argument in instructions:
        if keyword == "ENTRYPOINT":
            entrypoint = json.loads(argument)
        elif keyword == "CMD":
            cmd = json.loads(argument)
        elif keyword == "ENV":
            for pair in shlex.split(argument):
                key, _, value = pair.partition("=")
                if "$" not in value:
                    env[key] = value
    if not entrypoint:
        raise ValueError(f"{dockerfile}: expected an exec-form ENTRYPOINT in the final stage")
    return ImageSpec(command=entrypoint + cmd, env=env)


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = text.replace("\\\n", " ")
    result = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, argument = stripped.partition(" ")
            result.append((keyword.upper(), argument.strip()))
    return result


def _final_stage(instructions: list[tuple[str, str]]) -> list[tuple[str, str]]:
    starts = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    return instructions[starts[-1] :] if starts else instructions
