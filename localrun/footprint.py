"""Where the model server's memory goes: PSS per process of its group, after a short load.

Usage: .venv/bin/python -m localrun.footprint [--requests 500] [ENV=VALUE ...]
Starts the server exactly as the image does (serving/Dockerfile) on the local model, sends
`--requests` predictions, then prints one row per process (smem-style PSS and RSS).
Extra ENV=VALUE arguments override the image's environment, e.g. GRPC_WORKERS=0.
"""

import argparse

import requests

from localrun.benchmark import SELDON_BODY
from localrun.local_model import ensure_model
from localrun.memory import describe
from localrun.server_process import ModelServerProcess


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("env", nargs="*", metavar="ENV=VALUE")
    args = parser.parse_args()
    overrides = dict(pair.split("=", 1) for pair in args.env)
    with ModelServerProcess(ensure_model().local_dir, env=overrides) as server:
        with requests.Session() as session:
            for _ in range(args.requests):
                answer = session.post(f"{server.url}/api/v1.0/predictions", json=SELDON_BODY)
                answer.raise_for_status()
        requests.get(server.metrics_url, timeout=10).raise_for_status()
        print(describe(server.pgid))


if __name__ == "__main__":
    main()
