"""The HTTP worker class: tornado's event loop, so a slow client never holds a worker.

gunicorn's `sync` worker serves one connection at a time and blocks on its socket, so two
clients that send headers byte by byte stop two workers. Tornado reads headers and bodies
without blocking and bounds each with a deadline in seconds; the WSGI app (Flask, Seldon's
wrapper) runs on the loop only once a request is complete. gunicorn's own tornado worker
(gunicorn/workers/gtornado.py) starts tornado's HTTPServer with its defaults (header and idle
timeout 3600 s, no body timeout), so this subclass builds the server with ours.
"""

import tornado.httpserver
from gunicorn.workers.gtornado import TornadoWorker
from tornado.ioloop import IOLoop, PeriodicCallback
from tornado.wsgi import WSGIContainer


class BoundedTornadoWorker(TornadoWorker):
    """gunicorn's tornado worker with header, body and idle deadlines in seconds.

    `header_timeout_s` bounds the wait for a complete request line and headers, and for the next
    request on an idle keep-alive connection; `body_timeout_s` bounds the body. A client that
    misses either is disconnected. The arbiter sets both from the environment before it forks.
    """

    header_timeout_s = 10.0
    body_timeout_s = 30.0

    def run(self) -> None:
        self.ioloop = IOLoop.current()
        self.alive = True
        self.callbacks = [
            PeriodicCallback(self.watchdog, 1000),
            PeriodicCallback(self.heartbeat, 1000),
        ]
        for callback in self.callbacks:
            callback.start()
        worker = self

        class CountingServer(tornado.httpserver.HTTPServer):
            def on_close(self, server_conn: object) -> None:
                worker.handle_request()
                super().on_close(server_conn)

        self.server = CountingServer(
            WSGIContainer(self.wsgi),
            no_keep_alive=self.cfg.keepalive <= 0,
            idle_connection_timeout=self.header_timeout_s,
            body_timeout=self.body_timeout_s,
            max_header_size=self.cfg.limit_request_field_size * self.cfg.limit_request_fields,
        )
        self.server_alive = True
        for listener in self.sockets:
            listener.setblocking(False)
            self.server.add_socket(listener)
        self.ioloop.start()
