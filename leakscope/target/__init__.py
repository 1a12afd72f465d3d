"""Everything that runs INSIDE the observed process.

Rules for code here (it runs in someone's production process):

* pure Python, with the runtime dependencies only (click and rich are never
  imported here; psutil and rpyc are, lazily);
* never raise into the host: public entry points catch, log on the
  ``leakscope`` logger and carry on; nothing is printed;
* bounded in time and memory: walks go in chunks and let the host's threads
  run between them; nothing grows per object without a bound;
* imports nothing from `leakscope.client`, `leakscope.render` or
  `leakscope.cli` (checked by import-linter in CI); `leakscope.wire` is the
  one module shared with the client side.

Parts: `registry` (tracked objects, Scrapy's names), `census` (heap walks,
paths, the object graph), `memory` (process and allocator figures),
`history` (bounded samples), `grouping` and `describe` (what a report may say
about objects), `agent` (server, protocol, the exposed service), `hooks`
(the Scrapy extension, the metrics exporter, start-up hooks of ``run`` and
``attach``).
"""

from __future__ import annotations

import logging


def quiet_logging() -> None:
    """Give the ``leakscope`` logger a NullHandler (once).

    Without a handler of its own, Python's last-resort handler would print our
    warnings on the host's stderr; the host decides where our log lines go.
    """
    root = logging.getLogger("leakscope")
    if not any(isinstance(h, logging.NullHandler) for h in root.handlers):
        root.addHandler(logging.NullHandler())


class Refused(Exception):
    """A request the target cannot serve as asked. ``code`` is the failure's wire
    code: ``bad-argument``, ``unknown-class``, ``unavailable`` or ``busy``;
    ``extra`` travels with it (e.g. ``suggestions``)."""

    def __init__(self, code: str, message: str, **extra: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra
