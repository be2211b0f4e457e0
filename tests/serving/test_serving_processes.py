"""The server as the image starts it is one supervisor and its workers, nothing else.

seldon-core 1.19's default layout was eight processes (a gunicorn arbiter and workers, a gRPC
parent and child, a metrics gunicorn pair and a Manager); docs/sizing.md measures the
difference. Memory figures themselves belong to `make bench`, not to assertions here.
"""

from localrun.memory import group_memory
from localrun.server_process import ModelServerProcess


def test_process_group_is_the_supervisor_and_one_process_per_worker(
    registry_server: ModelServerProcess,
) -> None:
    members = group_memory(registry_server.pgid)

    assert len(members) == int(registry_server.env["SERVER_WORKERS"]) + 1
    assert all("-m serving" in member.command for member in members)
    assert all(member.pss_mib > 0 for member in members)
