"""`make pins-bootstrap`: the committed pins (`pins.<stack>.yaml`) from a real registry here.

Starts a real `mlflow server` (SQLite, local artifacts), trains the models the stacks serve with
`python -m model train` (iris three times, wine once), points the aliases the stack files use at
distinct versions (iris: champion 1, challenger 2, candidate 3; wine: champion 1) and runs
`python -m release pin` for every stack. The pins are a bootstrap: each stack's own registry
regenerates them with `python -m release pin --stack <stack> --tracking-uri <its MLflow>` once
its models are trained there, through a reviewed change (docs/operations.md).
"""

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from mlflow import MlflowClient

from localrun.mlflow_registry import LocalMlflowServer
from model.ledger_signing import LEDGER_KEY_ENV
from release.__main__ import main as release_main

REPO_ROOT = Path(__file__).resolve().parent.parent
ALIASES = {"iris": ("champion", "challenger", "candidate"), "wine": ("champion",)}
"""Per model, the aliases the stack files use, given to versions 1, 2, 3 in order."""


LEDGER_KEY = secrets.token_urlsafe(32)
"""Signs this throwaway registry's ledger entries (a server registry always needs a key)."""


def train(tracking_uri: str, model: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "model", "train", "--spec", model, "--model-name", model,
         "--tracking-uri", tracking_uri, "--json"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={**os.environ, LEDGER_KEY_ENV: LEDGER_KEY},
    )  # fmt: skip
    if done.returncode not in (0, 3):  # 3: registered, the gate kept it out of `challenger`
        raise RuntimeError(f"training {model} failed:\n{done.stderr}")
    return str(json.loads(done.stdout)["version"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrun.pin_bootstrap", description=__doc__)
    parser.add_argument("--port", type=int, default=5000, help="registry port (%(default)s)")
    parser.add_argument("--stack", action="append", help="default: every Pulumi.<stack>.yaml")
    args = parser.parse_args(argv)
    stacks = args.stack or sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml"))
    with tempfile.TemporaryDirectory(prefix="pin-bootstrap-") as scratch:
        with LocalMlflowServer(Path(scratch) / "mlflow", args.port) as server:
            client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
            for model, aliases in ALIASES.items():
                versions = [train(server.url, model) for _ in aliases]
                pairs = list(zip(aliases, versions, strict=True))
                for alias, version in pairs:
                    client.set_registered_model_alias(model, alias, version)
                print(f"{model}: " + ", ".join(f"{a} -> {v}" for a, v in pairs))
            for stack in stacks:
                if release_main(["pin", "--stack", stack, "--tracking-uri", server.url]) != 0:
                    return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
