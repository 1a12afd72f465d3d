"""The start-up hook directory of ``leakscope run`` (put on PYTHONPATH, never imported)."""
