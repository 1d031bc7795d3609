"""HTTP views of a worker: exported files and health, and the rules every request passes.

The API is read-only (GET and HEAD; a POST only where a path is listed in
``WRITABLE``), and when ``CONVOFLOW_API_TOKEN`` is set every request needs
``Authorization: Bearer <token>``.
"""
from __future__ import annotations

import hmac
import os
import re

from faust.exceptions import ConsumerNotStarted
from faust.web import Request, Response, View

from convoflow.streams.runtime import Runtime

EXPORT_FILE = re.compile(r"[A-Za-z0-9_-]{1,64}\.csv\Z")
WRITABLE = {"/exports/request"}  # the export page publishes requests


def guard(settings):
    """aiohttp middleware: read-only methods, and the bearer token when one is configured."""
    from aiohttp import web

    expected = f"Bearer {settings.api_token}" if settings.api_token else None

    @web.middleware
    async def middleware(request, handler):
        if expected is not None and not hmac.compare_digest(request.headers.get("Authorization", ""), expected):
            return web.json_response({"error": "missing or wrong bearer token"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        if request.method not in ("GET", "HEAD") and not (request.method == "POST" and request.path in WRITABLE):
            return web.json_response({"error": f"{request.method} is not allowed: the API is read-only"}, status=405)
        return await handler(request)

    return middleware


def register(app, runtime: Runtime):
    app.web.web_app.middlewares.append(guard(runtime.settings))
    @app.page("/exports/{name}")
    class ExportFile(View):
        async def get(self, request: Request, name: str) -> Response:
            if not EXPORT_FILE.match(name):
                return self.json({"error": "not an export file name"}, status=400)
            path = os.path.join(runtime.settings.export_dir, name)
            if not os.path.isfile(path):
                return self.json({"error": f"no export {name}"}, status=404)
            with open(path, "rb") as f:
                body = f.read()
            return self.bytes(body, content_type="text/csv")

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            try:
                app.consumer.assignment()
                assigned = sorted({tp.partition for tp in app.assignor.assigned_actives()})
                standby = sorted({tp.partition for tp in app.assignor.assigned_standbys()} - set(assigned))
            except ConsumerNotStarted:
                assigned, standby = [], []
            return self.json({"status": "ok", "assigned": assigned, "standby": standby, "counts": dict(runtime.counts)})
