"""A tiny TCP proxy on 127.0.0.1 (ephemeral port) whose faults a test switches on and off.

    proxy = TcpProxy("127.0.0.1", 5432).start()
    proxy.refuse()   # listener closed, open connections cut: "connection refused"
    proxy.hang()     # connections accepted, never answered (a TLS-like hang)
    proxy.forward()  # back to normal, same port
    proxy.stop()

Every thread is a daemon with a bounded loop; ``stop()`` joins them with timeouts.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

POLL = 0.05


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self.mode = "forward"
        self._listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._running = False
        self.accepted = 0

    @property
    def url_host(self) -> str:
        return f"127.0.0.1:{self.port}"

    # --- control -----------------------------------------------------------------------
    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        listener.settimeout(POLL)
        self.port = listener.getsockname()[1]
        self._listener, self._running = listener, True
        self._spawn(self._accept_loop, listener)
        return self

    def forward(self) -> None:
        self.mode = "forward"
        if self._listener is None:
            self.start()

    def hang(self) -> None:
        self.mode = "hang"
        if self._listener is None:
            self.start()

    def refuse(self) -> None:
        """Close the listener (new connections are refused) and cut every open connection."""
        self._running = False
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        self._cut_all()
        self._join()

    def stop(self) -> None:
        self.refuse()

    # --- internals ---------------------------------------------------------------------
    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _join(self) -> None:
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _cut_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._running and self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._track(client)
            if self.mode == "hang":
                continue  # held open, never answered, closed by refuse()/stop()
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            self._track(upstream)
            self._spawn(self._pump, client, upstream)

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        pair = {a: b, b: a}
        try:
            while self._running:
                readable, _, _ = select.select([a, b], [], [], POLL)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    pair[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                with contextlib.suppress(OSError):
                    sock.close()
