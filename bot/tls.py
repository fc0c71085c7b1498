"""One TLS context for every outgoing HTTP client of the process.

Loading the certificate authorities costs about 16 ms of CPU, and an httpx client made
without a context loads them again. Sharing it holds while every client speaks HTTP/1.1:
httpcore sets the context's ALPN protocols at each TLS connect, to the same value for all of
them (a client with HTTP/2 would want a context of its own). It honours SSL_CERT_FILE and
SSL_CERT_DIR as httpx's default does, read at the first call.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The verifying context httpx would make (certifi's authorities), made once."""
    return httpx.create_ssl_context()
