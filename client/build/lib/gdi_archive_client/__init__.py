"""Command-line client for a gdi-archive server (no server code inside: HTTP and crypt4gh only)."""

__version__ = "0.1.0"
