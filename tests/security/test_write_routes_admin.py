"""The admin's row of the write-route check (test_write_routes.py): every write route of the
installed MLflow, called as the admin on the real server set up as the deploy sets it up, passes
the platform's rules."""

from __future__ import annotations

import re

from tests.security.mlflow_routes import write_routes
from tests.security.route_calls import outcomes, platform_denied

HEAVY_FOR_ADMIN = re.compile(r"/demo/|/assistant/|/gateway/|/mcp-servers")
"""Routes an admin's empty request would make the server do real work (generate demo data,
call an LLM or a provider): left out of the admin's row, which only shows the rules pass
admins through."""


def test_admin_passes_the_platform_rules(mlflow_server) -> None:
    routes = [route for route in write_routes() if not HEAVY_FOR_ADMIN.search(route[1])]
    wrong = {
        route: response.status_code
        for route, response in outcomes(mlflow_server, "admin", routes).items()
        if platform_denied(response) or response.status_code == 401
    }
    assert wrong == {}
