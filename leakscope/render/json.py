"""The ``--json`` renderer: one JSON document on stdout, or one line per document (JSON Lines)."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit(data: Any) -> None:
    """Write *data* as indented JSON on stdout, with a final newline."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()


def emit_line(data: Any) -> None:
    """Write *data* as one line of JSON (JSON Lines: one document per line, as a stream)."""
    sys.stdout.write(json.dumps(data, separators=(",", ":"), default=str))
    sys.stdout.write("\n")
    sys.stdout.flush()
