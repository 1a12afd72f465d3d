"""Renderers: typed answers (`leakscope.client.reports`) in, text out. No domain logic here.

`tables` (ps, prefs, oldest, all), `heap`, `memory`, `diff`, `multi` (several
processes), `paths` (retention paths: trees, Graphviz), `plot` (history in the
terminal), `json` (``--json``, JSON Lines), `text` (small shared formatting).
"""
