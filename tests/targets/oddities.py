"""A target with the odd things users meet: a non-ASCII class name, a long list,
a big heap for a slow census, an attribute set only from outside, text that a
terminal library could take for markup or emoji codes.

argv[1]: number of Big objects (each with a few attributes) to make first.
Prints the socket path on stdout; exits when stdin closes.
"""

import signal
import sys

import leakscope.agent
from leakscope.trackref import object_ref


class Ünïcødé(object_ref):  # noqa: N801 (a class name users do write)
    pass


class Big:
    def __init__(self, n):
        self.n = n
        self.name = f"big-{n}"


class Loud(object_ref):
    """Its repr and an attribute hold Rich markup and an emoji code."""

    label = "[red]x[/red] :fire:"

    def __repr__(self):
        return "<Loud [/b] :fire: [bold]y[/bold]>"


Odd = type("Odd[/b]:fire:", (object_ref,), {})  # a class name can be any string


class Exiting(object_ref):
    """Its repr and unknown attributes raise SystemExit (the host's code, not ours)."""

    def __repr__(self):
        raise SystemExit(5)

    def __getattr__(self, name):
        raise SystemExit(6)


KEEP = [Ünïcødé() for _ in range(3)]
KEEP += [Loud(), Odd(), Exiting()]
LONG = [Big(i) for i in range(40)]  # a long list: its items are "[*]" in a via table
STRANGER = Big(-1)
setattr(STRANGER, "set_from_outside", Big(-2))  # noqa: B010 - a name the class's code never stores


def main():
    KEEP.extend(Big(i) for i in range(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    print(leakscope.agent.start(), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    sys.stdin.read()


if __name__ == "__main__":
    main()
