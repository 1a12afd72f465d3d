"""A small WSGI app for the pre-fork test: /leak keeps a Session per call, /ok does not."""

from leakscope.trackref import object_ref

KEPT = []


class Session(object_ref):
    def __init__(self, path):
        self.path = path


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    session = Session(path)
    if path == "/leak":
        KEPT.append(session)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
