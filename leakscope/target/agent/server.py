"""The agent's server: a daemon thread, a private Unix socket, a peer check.

Life cycle:

* `Agent.start` checks (or creates) the private socket directory, binds
  ``<dir>/<pid>.sock`` with mode 0600 and starts one daemon thread blocked in
  ``accept()`` — no CPU while idle.
* Every accepted connection is checked with ``SO_PEERCRED`` before a single
  RPyC byte is read: only the agent's own uid and root get through.
* At most `MAX_CLIENTS` connections are served at once, each in its own
  daemon thread; further clients wait in the listen backlog, and beyond that
  the kernel refuses them. Idle connections are closed after `IDLE_TIMEOUT_S`,
  and a frame must arrive whole within ``protocol.FRAME_TIMEOUT_S``, so no
  client can pin a slot for long.
* `Agent.stop` (also run at exit) wakes the accept thread, closes the socket
  and removes the file.
* After ``fork()`` the child closes its copy of the parent's sockets without
  touching the parent's file; `leakscope.agent` then gives it an agent of its
  own under its own PID (unless ``LEAKSCOPE_FORK_AGENT=0``).

Nothing here raises into the host: failures are logged on the ``leakscope``
logger and the host carries on.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

from leakscope import wire

log = logging.getLogger("leakscope.agent")

MAX_CLIENTS = 16
LISTEN_BACKLOG = 128
IDLE_TIMEOUT_S = 60.0
#: Seconds `Agent.stop` waits for the accept thread to end.
STOP_JOIN_S = 2.0
_UCRED = struct.Struct("3i")


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    _pid, uid, _gid = _UCRED.unpack(raw)
    return int(uid)


class Agent:
    """One agent per process: the listening socket and its threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._path: Path | None = None
        self._pid = 0
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()
        self._stopping = threading.Event()
        self.started_at = 0.0
        #: The growth history (`leakscope.target.history.History`) the service reads, or None.
        self.history: Any = None
        #: When the agent's own modules (RPyC, the service) were loaded, at the first
        #: client, and what that loading added to each memory figure: history samples
        #: from before it are shifted by that much before they serve as a baseline.
        self.loaded_at: float | None = None
        self.load_shift: dict[str, int] = {}
        #: RSS the agent's own heavy walks added to the process (see the service).
        self.own_bytes = 0

    # -- control -----------------------------------------------------------

    @property
    def path(self) -> Path | None:
        """The socket path while running, else None."""
        return self._path if self.running else None

    @property
    def listening_in_parent(self) -> bool:
        """In a forked child, before `after_fork_in_child`: whether the parent was serving."""
        return self._listener is not None

    @property
    def parent_directory(self) -> Path | None:
        """In a forked child, before `after_fork_in_child`: the parent's socket directory."""
        return self._path.parent if self._path is not None else None

    @property
    def running(self) -> bool:
        """True while the accept thread is alive in this process."""
        return self._thread is not None and self._thread.is_alive() and self._pid == os.getpid()

    def start(self, directory: Path | None = None) -> Path | None:
        """Start serving (idempotent). Returns the socket path, or None if refused."""
        with self._lock:
            if self.running:
                return self._path
            directory = directory or wire.socket_dir()
            try:
                ensure_directory(directory)
            except (wire.UnsafeDirectory, OSError) as exc:
                log.error("leakscope agent not started: unsafe socket directory: %s", exc)
                return None
            pid = os.getpid()
            path = directory / f"{pid}{wire.SOCKET_SUFFIX}"
            try:
                listener = self._bind(path)
            except OSError as exc:
                log.error("leakscope agent not started: cannot listen on %s: %s", path, exc)
                return None
            stopping = threading.Event()
            thread = threading.Thread(
                target=self._accept_loop,
                args=(listener, stopping),
                name="leakscope-agent",
                daemon=True,
            )
            try:
                thread.start()
            except RuntimeError as exc:  # no more threads in this process
                log.error("leakscope agent not started: %s", exc)
                _unlink(path)
                listener.close()
                return None
            self._listener, self._path, self._pid = listener, path, pid
            self._thread, self._stopping = thread, stopping
            self.started_at = time.time()
            log.info("leakscope agent listening on %s", path)
            return path

    @staticmethod
    def _bind(path: Path) -> socket.socket:
        # Anything at our path in our private directory is a leftover of an earlier
        # process with our PID (unlink does not follow a link): ours to replace.
        _unlink(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(path))
            os.chmod(path, 0o600)
            listener.listen(LISTEN_BACKLOG)
        except OSError:
            listener.close()
            _unlink(path)
            raise
        return listener

    def stop(self) -> None:
        """Stop serving, close every connection and remove the socket file."""
        with self._lock:
            listener, path, thread = self._listener, self._path, self._thread
            if listener is None:
                return
            self._stopping.set()
            self._listener = None
            if self._pid == os.getpid():
                if path is not None:
                    _unlink(path)
                with contextlib.suppress(OSError):
                    listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
            listener.close()
            with self._clients_lock:
                clients = list(self._clients)
            for conn in clients:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)  # wakes its serving thread
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=STOP_JOIN_S)
            self._thread = None
            self._path = None

    def after_fork_in_child(self) -> None:
        """Drop the parent's sockets in a forked child without touching its files."""
        # Locks may have been held by threads that do not exist in the child.
        self._lock = threading.RLock()
        self._clients_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CLIENTS)
        self._stopping = threading.Event()
        self.history = None  # its thread did not survive the fork
        listener = self._listener
        self._listener = None
        self._thread = None
        self._path = None
        if listener is not None:
            listener.close()  # close only: shutdown would also stop the parent's socket
        for conn in list(self._clients):
            with contextlib.suppress(OSError):
                conn.close()
        self._clients = set()

    # -- serving -----------------------------------------------------------

    def _accept_loop(self, listener: socket.socket, stopping: threading.Event) -> None:
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                if stopping.is_set():
                    return
                time.sleep(0.05)  # e.g. out of file descriptors: try again shortly
                continue
            try:
                self._admit(conn, stopping)
            except Exception:  # never let one client end the agent
                log.exception("leakscope agent: error admitting a client")
                conn.close()

    def _admit(self, conn: socket.socket, stopping: threading.Event) -> None:
        try:
            uid = peer_uid(conn)
        except OSError:
            conn.close()
            return
        if uid != os.getuid() and uid != 0:
            log.warning("leakscope agent: refused a client of uid %d", uid)
            conn.close()
            return
        # Wait for a free slot; clients beyond it queue in the backlog.
        slots = self._slots
        while not slots.acquire(timeout=1.0):
            if stopping.is_set():
                conn.close()
                return
        with self._clients_lock:
            self._clients.add(conn)
        thread = threading.Thread(
            target=self._serve,
            args=(conn, slots, stopping),
            name="leakscope-agent-client",
            daemon=True,
        )
        try:
            thread.start()
        except BaseException:
            self._release(conn, slots)
            conn.close()
            raise

    def _memory_summary(self) -> dict[str, Any] | None:
        """The flat memory figures now, when a history keeps samples to compare with."""
        if self.history is None:
            return None
        from leakscope.target import memory

        return memory.memory_summary(memory.memory_figures())

    def _loaded(self, before: dict[str, Any] | None) -> None:
        """The first client made us load RPyC and the service: book what that added
        to each memory figure, so that it never reads as the program's growth."""
        after = self._memory_summary()
        if before is not None and after is not None:
            self.load_shift = {
                key: after[key] - value
                for key, value in before.items()
                if type(value) is int and type(after.get(key)) is int
            }
        self.loaded_at = time.time()

    def _release(self, sock: socket.socket, slots: threading.BoundedSemaphore) -> None:
        with self._clients_lock:
            self._clients.discard(sock)
        with contextlib.suppress(ValueError):  # the semaphore was replaced after a fork
            slots.release()

    def _serve(
        self, sock: socket.socket, slots: threading.BoundedSemaphore, stopping: threading.Event
    ) -> None:
        conn: Any = None
        try:
            before = self._memory_summary() if self.loaded_at is None else None
            from leakscope.target.agent.protocol import (
                BoundedChannel,
                BoundedStream,
                StrictConnection,
            )
            from leakscope.target.agent.service import LeakscopeService

            if self.loaded_at is None:
                self._loaded(before)
            config = dict(wire.AGENT_RPYC_CONFIG, logger=log)
            service = LeakscopeService(self)
            conn = StrictConnection(service, BoundedChannel(BoundedStream(sock)), config)
            while not conn.closed and not stopping.is_set():
                if not conn.serve(IDLE_TIMEOUT_S):
                    break  # idle for too long (or an empty frame): free the slot
        except (EOFError, OSError):
            pass
        except BaseException:  # nothing may reach threading.excepthook in the host
            log.debug("leakscope agent: client connection ended with an error", exc_info=True)
        finally:
            try:
                if conn is not None:
                    conn.close()
                else:
                    sock.close()
            except BaseException:
                pass
            self._release(sock, slots)


def ensure_directory(path: Path) -> None:
    """Create *path* as a 0700 directory if missing, then check it is safe to use."""
    try:
        path.mkdir(mode=0o700, parents=False)
    except FileExistsError:
        pass
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=0o700)
    wire.check_directory(path, os.getuid())


def _unlink(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.debug("leakscope agent: could not remove %s: %s", path, exc)
