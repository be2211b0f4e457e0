"""`make bench`: wrk against the model server and MLServer 1.7.1, side by side, with verdicts.

Both serve the same pipeline trained by `model/` and answer class probabilities for one row per
request. The model server runs as the image does (its defaults, with validation, drift, custom
metrics, exact accounting and feedback routing on); MLServer runs in its leanest setting
(`parallel_workers` 0: inference in its one process) unless --mlserver-parallel-workers says
otherwise. Per run and server: CPU time (user + system of the whole process group, from /proc)
per answered request, requests/s, p50/p99; after the load, PSS summed over each process group.
Each target says PASS or FAIL, and any FAIL makes the exit status 1.
Usage: .venv/bin/python -m localrun.benchmark [--duration 10] [--connections 8] [--runs 1]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from localrun.cpu_time import group_cpu_seconds
from localrun.local_model import REPO_ROOT, ensure_model
from localrun.memory import ProcessMemory, group_memory
from localrun.mlserver_process import MLServerProcess
from localrun.server_process import ModelServerProcess

ROW = [5.1, 3.5, 1.4, 0.2]
FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SELDON_BODY = {"data": {"names": FEATURES, "ndarray": [ROW]}}
MLSERVER_BODY = {
    "inputs": [{"name": "input-0", "shape": [1, 4], "datatype": "FP64", "data": ROW}],
    "outputs": [{"name": "predict_proba"}],
}
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}
MLSERVER_LEANEST_PARALLEL_WORKERS = 0
CPU_TARGET = 0.5
THROUGHPUT_TARGET = 2.0
MEMORY_TARGET = 1.2


@dataclass(frozen=True)
class LoadResult:
    """One wrk run: throughput, latency percentiles in ms, failures, CPU per request."""

    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    failures: int
    cpu_us_per_request: float = 0.0


def run_wrk(url: str, body: dict, duration: int, connections: int, threads: int) -> LoadResult:
    """POST `body` to `url` for `duration` seconds over keep-alive connections."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = [==[{json.dumps(body)}]==]\n"
        )
    try:
        output = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
             "-s", script.name, url],
            capture_output=True, text=True, check=True, timeout=duration + 60,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    return parse_wrk(output)


def parse_wrk(output: str) -> LoadResult:
    """Read requests/s, p50, p99 and non-2xx plus socket errors from wrk's report."""

    def latency(percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)$", output, re.M).groups()
        return float(value) * UNITS[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failures = int(non_2xx.group(1)) if non_2xx else 0
    failures += sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    return LoadResult(requests, rps, latency("50"), latency("99"), failures)


def measure(targets: dict[str, tuple[str, dict, int]], args: argparse.Namespace) -> dict:
    """Warm every server up, then alternate measured runs between them, so that load from
    elsewhere on the machine falls on both servers alike. `targets`: name -> (url, body, pgid)."""
    for url, body, _ in targets.values():
        run_wrk(url, body, args.warmup, args.connections, args.threads)
    results: dict[str, list[LoadResult]] = {name: [] for name in targets}
    for _ in range(args.runs):
        for name, (url, body, pgid) in targets.items():
            before = group_cpu_seconds(pgid)
            result = run_wrk(url, body, args.duration, args.connections, args.threads)
            used = group_cpu_seconds(pgid) - before
            answered = max(1, result.requests - result.failures)
            results[name].append(replace(result, cpu_us_per_request=used / answered * 1e6))
    return results


def report(
    results: dict[str, list[LoadResult]],
    memory: dict[str, list[ProcessMemory]],
    args: argparse.Namespace,
) -> bool:
    """Print the table and one verdict per target; True when every target passes."""
    print(
        f"\nwrk -t{args.threads} -c{args.connections} -d{args.duration}s, one row per request, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"{'server':<24}{'run':>4}{'CPU us/req':>11}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'failed':>8}"
    )
    for server, runs in results.items():
        for i, result in enumerate(runs, 1):
            print(
                f"{server:<24}{i:>4}{result.cpu_us_per_request:>11.0f}"
                f"{result.requests_per_second:>9.0f}{result.p50_ms:>8.2f}{result.p99_ms:>8.2f}"
                f"{result.failures:>8}"
            )
    print("\nmemory after the load: PSS summed over each server's process group")
    print(f"{'server':<24}{'processes':>10}{'PSS MiB':>9}{'largest':>9}")
    totals = {}
    for server, members in memory.items():
        totals[server] = sum(m.pss_mib for m in members)
        largest = max(m.pss_mib for m in members)
        print(f"{server:<24}{len(members):>10}{totals[server]:>9.0f}{largest:>9.0f}")
    ours, theirs = (results[name] for name in results)
    memory_ratio = totals[next(iter(totals))] / totals[list(totals)[1]]
    verdicts = []
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True), 1):
        cpu = a.cpu_us_per_request / b.cpu_us_per_request
        rps = a.requests_per_second / b.requests_per_second
        verdicts += [
            (f"run {i}: CPU per request x{cpu:.2f} of MLServer's", f"<= {CPU_TARGET}",
             cpu <= CPU_TARGET),
            (f"run {i}: throughput x{rps:.2f} of MLServer's", f">= {THROUGHPUT_TARGET}",
             rps >= THROUGHPUT_TARGET),
            (f"run {i}: p99 {a.p99_ms:.2f} ms vs {b.p99_ms:.2f} ms", "not worse",
             a.p99_ms <= b.p99_ms),
            (f"run {i}: failed requests {a.failures}", "0", a.failures == 0),
        ]  # fmt: skip
    verdicts.append(
        (f"memory x{memory_ratio:.2f} of MLServer's", f"<= {MEMORY_TARGET}",
         memory_ratio <= MEMORY_TARGET)
    )  # fmt: skip
    print()
    for what, target, passed in verdicts:
        print(f"{'PASS' if passed else 'FAIL'}  {what} (target {target})")
    return all(passed for _, _, passed in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of unmeasured warm-up")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--runs", type=int, default=1, help="measured runs per server")
    parser.add_argument(
        "--mlserver-parallel-workers", type=int,
        default=MLSERVER_LEANEST_PARALLEL_WORKERS,
        help="MLServer parallel_workers (default 0, its leanest; -1: MLServer's own default)",
    )  # fmt: skip
    parser.add_argument("--mlserver-venv", type=Path, default=REPO_ROOT / ".venv-mlserver")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: install it with `apt-get install wrk`")
    if not (args.mlserver_venv / "bin" / "mlserver").is_file():
        raise SystemExit(f"no MLServer in {args.mlserver_venv}: run `make bench` to create it")

    import mlflow.sklearn

    model = ensure_model()
    estimator = mlflow.sklearn.load_model(model.local_dir)
    venv = args.mlserver_venv.resolve()
    parallel_workers = (
        None if args.mlserver_parallel_workers < 0 else args.mlserver_parallel_workers
    )
    with (
        ModelServerProcess(model.local_dir) as seldon,
        MLServerProcess(venv, estimator, parallel_workers) as ml,
    ):
        print(
            f"model server: {seldon.env['SERVER_WORKERS']} workers; MLServer: "
            f"parallel_workers {'default' if parallel_workers is None else parallel_workers}"
        )
        results = measure(
            {
                "model server": (f"{seldon.url}/api/v1.0/predictions", SELDON_BODY, seldon.pgid),
                "mlserver 1.7.1 sklearn": (ml.infer_url, MLSERVER_BODY, ml.pgid),
            },
            args,
        )
        memory = {
            "model server": group_memory(seldon.pgid),
            "mlserver 1.7.1": group_memory(ml.pgid),
        }
    sys.exit(0 if report(results, memory, args) else 1)


if __name__ == "__main__":
    main()
