"""TLS 1.2+ from certificate and key files, picked up again when they change on disk.

cert-manager rotates the Secret behind the mounted files. The listening socket keeps one
SSLContext; a fresh context is built from the files when their stat changes and, only
when the certificate and key load and match, the server-name callback hands it to each
new handshake. Connections already open keep theirs, so no request is dropped, and a
half-written rotation (new certificate, old key) never reaches a client.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable

Stamp = tuple[tuple[int, int, int, int], ...]


def make_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    context.load_cert_chain(certfile, keyfile)
    return context


class ReloadingTLS:
    def __init__(
        self,
        certfile: str,
        keyfile: str,
        on_reload: Callable[[str, str | None], None] | None = None,
    ) -> None:
        self.certfile = certfile
        self.keyfile = keyfile
        self._on_reload = on_reload
        self.current = make_context(certfile, keyfile)
        self.listening = make_context(certfile, keyfile)
        self.listening.sni_callback = self._select
        self._stamp = self._stat()

    def _select(
        self, connection: ssl.SSLObject | ssl.SSLSocket, _name: str | None, _ctx: ssl.SSLContext
    ) -> None:
        current = self.current
        if connection.context is not current:
            connection.context = current
        return None

    def _stat(self) -> Stamp:
        stamps = []
        for path in (self.certfile, self.keyfile):
            try:
                info = os.stat(path)  # follows the ..data symlink a Secret volume swaps
            except OSError:
                return ()
            stamps.append((info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns))
        return tuple(stamps)

    def check(self) -> bool:
        """Load the files again if they changed; True when a new certificate is served."""
        stamp = self._stat()
        if not stamp or stamp == self._stamp:
            return False
        try:
            fresh = make_context(self.certfile, self.keyfile)
        except (OSError, ssl.SSLError) as exc:
            # Mid-rotation (certificate and key from different pairs) or unreadable:
            # keep serving the previous pair and try again on the next check.
            if self._on_reload:
                self._on_reload("error", str(exc))
            return False
        self.current = fresh
        self._stamp = stamp
        if self._on_reload:
            self._on_reload("ok", None)
        return True
