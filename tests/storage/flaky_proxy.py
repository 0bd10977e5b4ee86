"""A TCP proxy on 127.0.0.1 that can drop connections mid-response: a real broken network."""

import socket
import threading
from urllib.parse import urlparse


class FlakyProxy:
    """Forwards to `upstream`; connections numbered in `cut` are closed after `cut_after`
    response bytes (headers included)."""

    def __init__(self, upstream: str, *, cut: set[int], cut_after: int):
        target = urlparse(upstream)
        self.target = (target.hostname, target.port)
        self.cut, self.cut_after = cut, cut_after
        self.connections = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closing:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            limit = self.cut_after if self.connections in self.cut else None
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, limit), daemon=True).start()

    @staticmethod
    def _pump(src, dst, limit):
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: limit - sent])
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def close(self):
        self._closing = True
        self.server.close()
