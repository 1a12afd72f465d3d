"""Everything that runs in the USER'S SHELL: finding agents, asking them, making sense of it.

Nothing here runs inside the observed process, and nothing here imports
`leakscope.target` (checked by import-linter in CI): the two sides meet only
on the socket, through `leakscope.wire`.

* Finding and reaching agents: `discovery` (socket paths, /proc facts,
  zombies, stale sockets), `local` and `remote` (the two transports), `api`
  (`Client`: typed calls over either), `connector` (which transport),
  `processes` (``ps``), `fanout` (several processes at once).
* What comes back: `reports` (typed answers and their JSON form), `files`
  (snapshot files, safe output), `analysis` (diffs, the memory verdict,
  dominators and leak suspects).
* Getting an agent in: `attach` (debuggers, ``sys.remote_exec``), `run`
  (a program started with one).
* `demo`: the walk-throughs of ``leakscope demo``.
* `errors`: every failure a user can meet, with its exit code.
"""
