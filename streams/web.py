"""HTTP views of a worker: exported files and health."""
from __future__ import annotations

import os
import re

from faust.web import Request, Response, View

from streams.runtime import Runtime

EXPORT_FILE = re.compile(r"[A-Za-z0-9_-]{1,64}\.csv\Z")


def register(app, runtime: Runtime):
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
            assigned = sorted({tp.partition for tp in app.consumer.assignment()}) if app.consumer else []
            return self.json({"status": "ok", "assigned": assigned, "counts": dict(runtime.counts)})
