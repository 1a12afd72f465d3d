"""Start and stop the in-process agent (public names; the code is `leakscope.target.agent`).

::

    import leakscope.agent
    leakscope.agent.start()      # returns the socket path (idempotent), or None
    leakscope.agent.stop()
"""

from leakscope.target.agent import is_running, socket_path, start, stop

__all__ = ["start", "stop", "is_running", "socket_path"]
