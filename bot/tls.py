"""One TLS context for every outgoing HTTP client of the process.

Loading the certificate authorities costs about 16 ms of CPU, and an httpx client made
without a context loads them again; a context is safe to share between clients and threads.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying context httpx would make (certifi's authorities), made once."""
    return httpx.create_ssl_context()
