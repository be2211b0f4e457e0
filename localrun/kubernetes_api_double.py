"""A recording stand-in for the Kubernetes API server: the one part of the retrain path that
cannot run here (no cluster). It serves the two calls the trigger makes, as the API server
answers them, and records every request:

- `GET /apis/batch/v1/namespaces/<ns>/cronjobs/<name>`: the CronJob it was given (with a uid
  and the status the test sets), else a 404 Status;
- `GET /apis/batch/v1/namespaces/<ns>/jobs?labelSelector=k=v,...`: the stored Jobs of that
  namespace whose labels match every `k=v` (equality-based selectors only), with the status the
  test sets;
- `POST /apis/batch/v1/namespaces/<ns>/jobs`: stores the Job and answers 201, or a 409
  `AlreadyExists` Status when a Job of that name exists (the API server's name uniqueness,
  which the trigger's debounce relies on); a stored Job is handed to `on_create` (if set),
  which stands in for the Job controller (localrun/local_job_runner.py);
- legacy discovery (`/api`, `/apis`, `/api/v1`, `/apis/batch/v1`) for kubectl, listing only
  `batch/v1` jobs and cronjobs.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml

BATCH_RESOURCES = [
    {"name": "jobs", "namespaced": True, "kind": "Job", "verbs": ["create", "get", "list"]},
    {"name": "cronjobs", "namespaced": True, "kind": "CronJob", "verbs": ["get"]},
]
DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": []},
    "/apis": {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": "batch",
                "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
                "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"},
            }
        ],
    },
    "/apis/batch/v1": {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "batch/v1",
        "resources": BATCH_RESOURCES,
    },
}
CRONJOB_PATH = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/cronjobs/(?P<name>[^/?]+)")
JOBS_PATH = re.compile(r"^/apis/batch/v1/namespaces/(?P<ns>[^/]+)/jobs(\?.*)?$")


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str
    body: dict | None


@dataclass
class KubernetesApiDouble:
    """The objects the double serves and the requests it saw."""

    url: str = ""
    cronjobs: dict[tuple[str, str], dict] = field(default_factory=dict)
    jobs: dict[tuple[str, str], dict] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    on_create: Callable[[dict], None] | None = None
    """Called with each Job stored (the stored object: setting its `status` shows in lists)."""

    def add_cronjob(self, cronjob: dict) -> dict:
        stored = copy.deepcopy(cronjob)
        stored["metadata"]["uid"] = str(uuid.uuid4())
        stored.setdefault("status", {})
        self.cronjobs[(stored["metadata"]["namespace"], stored["metadata"]["name"])] = stored
        return stored

    def api_requests(self) -> list[Recorded]:
        """Requests other than discovery."""
        return [r for r in self.requests if r.path.split("?")[0] not in DISCOVERY]

    def created_jobs(self) -> list[dict]:
        return [r.body for r in self.requests if r.method == "POST" and r.body is not None]

    def kubeconfig(self, directory: Path, token: str) -> Path:
        """A kubeconfig pointing the official client at this double with a bearer token."""
        path = directory / "kubeconfig"
        path.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "double", "cluster": {"server": self.url}}],
                    "users": [{"name": "trigger", "user": {"token": token}}],
                    "contexts": [
                        {"name": "double", "context": {"cluster": "double", "user": "trigger"}}
                    ],
                    "current-context": "double",
                }
            )
        )
        return path


def _status(code: int, reason: str, message: str) -> dict:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def _job_list(double: KubernetesApiDouble, namespace: str, path: str) -> dict:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    selector = query.get("labelSelector", [""])[0]
    wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
    items = [
        job
        for (ns, _), job in sorted(double.jobs.items())
        if ns == namespace
        and all((job["metadata"].get("labels") or {}).get(k) == v for k, v in wanted.items())
    ]
    return {"kind": "JobList", "apiVersion": "batch/v1", "metadata": {}, "items": items}


@contextmanager
def running_api_double() -> Iterator[KubernetesApiDouble]:
    double = KubernetesApiDouble()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _record(self, body: dict | None) -> None:
            with lock:
                double.requests.append(
                    Recorded(self.command, self.path, self.headers.get("Authorization", ""), body)
                )

        def do_GET(self) -> None:  # noqa: N802
            self._record(None)
            discovery = DISCOVERY.get(self.path.split("?")[0])
            if discovery is not None:
                self._answer(200, discovery)
                return
            jobs = JOBS_PATH.match(self.path)
            if jobs:
                self._answer(200, _job_list(double, jobs["ns"], self.path))
                return
            match = CRONJOB_PATH.match(self.path)
            cronjob = match and double.cronjobs.get((match["ns"], match["name"]))
            if cronjob:
                self._answer(200, cronjob)
            else:
                self._answer(404, _status(404, "NotFound", f"{self.path} not found"))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length))
            self._record(body)
            match = JOBS_PATH.match(self.path)
            if not match:
                self._answer(404, _status(404, "NotFound", f"{self.path} not found"))
                return
            key = (match["ns"], body["metadata"]["name"])
            with lock:
                exists = key in double.jobs
                if not exists:
                    stored = copy.deepcopy(body)
                    stored["metadata"]["uid"] = str(uuid.uuid4())
                    double.jobs[key] = stored
            if exists:
                message = f'jobs.batch "{key[1]}" already exists'
                self._answer(409, _status(409, "AlreadyExists", message))
                return
            self._answer(201, double.jobs[key])
            if double.on_create is not None:
                double.on_create(double.jobs[key])

        def _answer(self, code: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
