"""Live tracked objects, with Scrapy's ``trackref`` names and meanings.

Public names only; the registry itself is `leakscope.target.registry` (its
docstring says what it costs and why)::

    from leakscope.trackref import object_ref, track, prefs, get_oldest, iter_all
"""

from leakscope.target import registry as _registry
from leakscope.target.registry import *  # noqa: F403  (the registry's __all__, re-exported)

__all__ = _registry.__all__
