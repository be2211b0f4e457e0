"""Concurrent REST and gRPC clients across processes and threads, each keeping an exact tally.

Every client sends predictions (some with inputs outside the training range, some malformed),
then feedback for each answered prediction, over REST or gRPC in turn, and counts what the
server acknowledged: predictions per class, rows, feedbacks and their reward sum, rejected
requests and out-of-range values per feature. The tallies of all clients add up to what the
server's counters must say once they settle.
"""

import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field

import grpc
import numpy as np
import requests
from seldon_core.proto import prediction_pb2, prediction_pb2_grpc
from seldon_core.utils import json_to_seldon_message, seldon_message_to_json

REQUEST_TIMEOUT_S = 30
MALFORMED = {"data": {"ndarray": [[1.0, 2.0]]}}
"""Two values where the model takes four: answered 400 (gRPC INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class Target:
    """Where one model server listens, and the training range of each of its inputs."""

    http_url: str
    grpc_address: str
    bounds: dict[str, tuple[float, float]]
    """Feature name -> (min, max) seen in training, in the model's input order."""


@dataclass
class Tally:
    """What a client sent and the server acknowledged."""

    predictions: Counter = field(default_factory=Counter)
    """Answered prediction rows per predicted class."""
    rows: int = 0
    feedback: int = 0
    reward: float = 0.0
    rejected: int = 0
    """Malformed requests answered 400 / INVALID_ARGUMENT."""
    out_of_range: Counter = field(default_factory=Counter)
    """Values outside the training range, per feature, in answered predictions."""

    def add(self, other: "Tally") -> "Tally":
        self.predictions.update(other.predictions)
        self.rows += other.rows
        self.feedback += other.feedback
        self.reward += other.reward
        self.rejected += other.rejected
        self.out_of_range.update(other.out_of_range)
        return self


def client_rows(target: Target, seed: int, count: int) -> np.ndarray:
    """`count` rows inside the training range; every fifth has its first feature above it."""
    low, high = (np.array(side) for side in zip(*target.bounds.values(), strict=True))
    rows = np.round(np.random.default_rng(seed).uniform(low, high, (count, len(low))), 2)
    rows[::5, 0] = high[0] + 1.0
    return rows


def run_client(target: Target, seed: int, requests_per_client: int, malformed_every: int) -> Tally:
    """One client: predictions then feedbacks, REST on even requests and gRPC on odd ones."""
    tally = Tally()
    low, high = (np.array(side) for side in zip(*target.bounds.values(), strict=True))
    with requests.Session() as http, grpc.insecure_channel(target.grpc_address) as channel:
        stub = prediction_pb2_grpc.ModelStub(channel)
        for index, row in enumerate(client_rows(target, seed, requests_per_client)):
            use_grpc = bool(index % 2)
            if malformed_every and index % malformed_every == malformed_every - 1:
                tally.rejected += _send_malformed(http, stub, target, use_grpc)
            body = {"data": {"ndarray": [row.tolist()]}}
            answer = _predict(http, stub, target, body, use_grpc)
            names, values = answer["data"]["names"], answer["data"]["ndarray"][0]
            tally.predictions[names[int(np.argmax(values))]] += 1
            tally.rows += 1
            outside = (row < low) | (row > high)
            for feature, out in zip(target.bounds, outside, strict=True):
                tally.out_of_range[feature] += int(out)
            reward = float(index % 3 != 0)
            _feedback(http, stub, target, {"request": body, "response": answer, "reward": reward},
                      use_grpc)  # fmt: skip
            tally.feedback += 1
            tally.reward += reward
    return tally


def run_threads(
    target: Target, seed: int, threads: int, requests_per_client: int, malformed_every: int
) -> Tally:
    """`threads` clients in this process, their tallies added."""
    with ThreadPoolExecutor(threads) as pool:
        tallies = pool.map(
            lambda n: run_client(target, seed * 1000 + n, requests_per_client, malformed_every),
            range(threads),
        )
        return sum_tallies(tallies)


def run_processes(
    target: Target,
    processes: int,
    threads: int,
    requests_per_client: int,
    malformed_every: int = 0,
) -> Tally:
    """`processes` x `threads` concurrent clients (spawned processes); their tallies added."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        futures = [
            pool.submit(run_threads, target, seed, threads, requests_per_client, malformed_every)
            for seed in range(1, processes + 1)
        ]
        return sum_tallies(future.result() for future in futures)


def sum_tallies(tallies) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def _predict(http, stub, target: Target, body: dict, use_grpc: bool) -> dict:
    if use_grpc:
        answer = stub.Predict(json_to_seldon_message(body), timeout=REQUEST_TIMEOUT_S)
        return seldon_message_to_json(answer)
    response = http.post(
        f"{target.http_url}/api/v1.0/predictions", json=body, timeout=REQUEST_TIMEOUT_S
    )
    response.raise_for_status()
    return response.json()


def _feedback(http, stub, target: Target, feedback: dict, use_grpc: bool) -> None:
    if use_grpc:
        message = prediction_pb2.Feedback(
            request=json_to_seldon_message(feedback["request"]),
            response=json_to_seldon_message(feedback["response"]),
            reward=feedback["reward"],
        )
        stub.SendFeedback(message, timeout=REQUEST_TIMEOUT_S)
        return
    response = http.post(
        f"{target.http_url}/api/v1.0/feedback", json=feedback, timeout=REQUEST_TIMEOUT_S
    )
    response.raise_for_status()


def _send_malformed(http, stub, target: Target, use_grpc: bool) -> int:
    """1 when the malformed request was rejected as bad input, as it must be."""
    if use_grpc:
        try:
            stub.Predict(json_to_seldon_message(MALFORMED), timeout=REQUEST_TIMEOUT_S)
        except grpc.RpcError as error:
            return int(error.code() == grpc.StatusCode.INVALID_ARGUMENT)
        return 0
    response = http.post(
        f"{target.http_url}/api/v1.0/predictions", json=MALFORMED, timeout=REQUEST_TIMEOUT_S
    )
    return int(response.status_code == 400)
