"""``python -m leakscope`` is the ``leakscope`` command."""

from leakscope.cli import main

if __name__ == "__main__":
    main(prog_name="leakscope")
