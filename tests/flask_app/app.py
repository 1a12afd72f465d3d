"""A small Flask app that leaks: each request to /items/N keeps an AuditEvent for good.

Run it as ``python app.py`` (port from FLASK_PORT); tests run it under ``leakscope run``.
"""

import os

from audit import AuditEvent, audit
from flask import Flask, request

app = Flask(__name__)


@app.get("/items/<int:n>")
def item(n):
    event = AuditEvent(f"/items/{n}", request.headers.get("X-User", "anonymous"))
    audit.record(event)
    return {"n": n, "pending": len(audit.pending)}


@app.get("/health")
def health():
    return "ok"


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ["FLASK_PORT"]), threaded=True)
