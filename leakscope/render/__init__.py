"""Renderers: typed snapshots in, Rich tables or JSON out. No domain logic here."""
