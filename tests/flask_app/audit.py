"""The leak of the Flask test app: every AuditEvent stays in ``audit.pending``."""

import time


class AuditEvent:
    """A plain class: not tracked by leakscope, no object_ref."""

    def __init__(self, path, user):
        self.path = path
        self.user = user
        self.at = time.time()
        self.headers = {"path": path, "user": user}


class _Audit:
    def __init__(self):
        self.pending = []

    def record(self, event):
        self.pending.append(event)


audit = _Audit()
