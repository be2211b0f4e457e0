"""The server as the image starts it is one gunicorn arbiter and its HTTP workers, nothing else.

Seldon's default layout adds a gRPC parent and child, a metrics gunicorn pair and a Manager
process (eight in all); docs/sizing.md measures what each cost. Memory figures themselves
belong to `make bench`, not to assertions here.
"""

from localrun.memory import group_memory
from localrun.server_process import ModelServerProcess


def test_process_group_is_the_arbiter_and_one_process_per_http_worker(
    registry_server: ModelServerProcess,
) -> None:
    members = group_memory(registry_server.pgid)

    assert len(members) == int(registry_server.env["GUNICORN_WORKERS"]) + 1
    assert all("seldon-core-microservice" in member.command for member in members)
    assert all(member.pss_mib > 0 for member in members)
