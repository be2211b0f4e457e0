"""The HTTP worker class: gunicorn's threaded worker, handing a connection to a thread only once
its request head has fully arrived.

gunicorn's `sync` worker serves one connection at a time and blocks on its socket, so two
clients that send headers byte by byte stop two workers. Its `gthread` worker keeps idle and
keep-alive connections in a poller, but once a request's first byte arrives a thread parses the
headers with a blocking read, so a byte-by-byte sender still holds a thread
(gunicorn/workers/gthread.py, `ThreadWorker.handle`). This subclass peeks at the socket first:
while the head is incomplete the connection goes back to the poller (gthread's own "deferred"
state, which closes it after `keepalive` seconds without a byte), and a head that is not complete
within `header_timeout_s` closes the connection. Once a thread reads the body, a read that waits
longer than `body_timeout_s` fails and the connection is closed.

gthread was measured against gunicorn's tornado worker and the sync worker here: it spends the
least CPU per request (docs/serving.md).
"""

import socket
import struct
import time
from typing import Any

# _DEFER is gthread's marker for "back to the poller until readable" (gunicorn 26.2).
from gunicorn.workers.gthread import _DEFER, ThreadWorker

HEAD_END = (b"\r\n\r\n", b"\n\n")
PEEK_BYTES = 8192
"""Heads are far smaller; a longer one goes to gunicorn's parser (limits, 4xx) as it is."""


class HeadFirstThreadWorker(ThreadWorker):
    """gthread with a deadline for the request head and one for every body read, in seconds.

    The arbiter sets both from the environment before it forks its workers.
    """

    header_timeout_s = 10.0
    body_timeout_s = 30.0

    def handle(self, conn: Any) -> Any:
        if not self._head_arrived(conn):
            deadline = getattr(conn, "head_deadline", None)
            if deadline is None:
                conn.head_deadline = time.monotonic() + self.header_timeout_s
            elif time.monotonic() > deadline:
                return False  # gthread closes the connection
            return _DEFER
        conn.head_deadline = None
        # SO_RCVTIMEO survives gthread's setblocking(True): a stalled body read fails, not hangs.
        seconds = int(self.body_timeout_s)
        microseconds = int((self.body_timeout_s - seconds) * 1e6)
        conn.sock.setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", seconds, microseconds)
        )
        return super().handle(conn)

    def _head_arrived(self, conn: Any) -> bool:
        """True when the buffered bytes hold a complete request head (or the socket has news,
        such as EOF or an error, that gthread's own handling should see)."""
        parser = conn.parser
        if parser is not None and parser.unreader.buf.tell():
            return True  # a pipelined request gunicorn has already read off the socket
        try:
            peeked = conn.sock.recv(PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError:
            return True
        return not peeked or len(peeked) >= PEEK_BYTES or any(end in peeked for end in HEAD_END)
