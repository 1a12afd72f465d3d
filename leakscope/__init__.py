"""leakscope: find memory leaks in running Python processes.

The package has two sides, one on each end of the agent's Unix socket:

* `leakscope.target` runs **inside the observed process** (the registry of
  tracked objects, the heap census, the agent and its hooks): pure Python,
  bounded in what it allocates, and never raising into its host;
* `leakscope.client`, `leakscope.render` and `leakscope.cli` run **in the
  user's shell**: finding agents, typed answers, analysis, tables.

`leakscope.wire` is the one module both import. The public names live where
users import them, as thin re-exports: `leakscope.trackref`,
`leakscope.agent` (``start``/``stop``), `leakscope.scrapy`
(``LeakscopeExtension``) and ``leakscope.owner``.

Importing this package starts nothing, unless ``LEAKSCOPE_AGENT=1`` is set in
the environment, in which case the in-process agent starts.
"""

from __future__ import annotations

import os
from typing import Any

from leakscope.wire import VERSION as __version__

__all__ = ["__version__", "owner"]


def __getattr__(name: str) -> Any:
    if name == "owner":
        from leakscope.target.registry import owner

        return owner
    raise AttributeError(f"module 'leakscope' has no attribute {name!r}")


if os.environ.get("LEAKSCOPE_AGENT") == "1":
    from leakscope.target import agent as _agent

    _agent.start()
