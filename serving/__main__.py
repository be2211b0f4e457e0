"""The serving image's entry point: `python -m serving` (serving/Dockerfile).

prometheus_client chooses its multiprocess storage when it is first imported, from
PROMETHEUS_MULTIPROC_DIR (prometheus_client/values.py, `get_value_class`): a fresh directory is
set here, before anything imports it, so counters never start from another run's files.
"""

import logging
import os
import sys
import tempfile

LOG_FORMAT = "%(asctime)s - %(name)s:%(funcName)s:%(lineno)s - %(levelname)s:  %(message)s"


def main() -> int:
    """Configure logging and the metrics directory, then run the supervisor."""
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO").upper(), format=LOG_FORMAT)
    metrics_dir = tempfile.mkdtemp(prefix="prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    from serving.supervisor import run

    return run(metrics_dir)


if __name__ == "__main__":
    sys.exit(main())
