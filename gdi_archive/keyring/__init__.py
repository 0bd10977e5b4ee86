"""Key material the archive holds, below every app that uses it (ingest, catalogue, downloads).

`archive` is the archive's own Crypt4GH key ring. A plain package, not a Django app: it has no
models and reads only settings.
"""
