"""Making sense of what agents answered: computed here, in the shell, never in the target.

`diff` (what grew between two snapshots), `verdict` (what kind of memory
growth this is, in plain words).
"""
