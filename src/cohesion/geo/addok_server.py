"""Serve a local addok over HTTP: ``python -m cohesion.geo.addok_server --port 7878``.

addok's own ``addok serve`` is a single-threaded debugging server that logs every
request; this one answers requests in threads, only logs errors and stops on SIGTERM as
on Ctrl-C (:func:`cohesion.shutdown.interrupted_by_signals`). The addok settings
come from ``ADDOK_CONFIG_MODULE``, as for every addok command
(:meth:`cohesion.geo.geocoding.LocalAddok.serve` sets it).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import socketserver
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cohesion.shutdown import interrupted_by_signals


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if str(code).startswith("5"):
            super().log_request(code, size)


def main(argv: list[str] | None = None) -> None:
    """Load addok's HTTP application and serve it until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description="Serveur HTTP d'un addok local.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7878)
    options = parser.parse_args(argv)
    # addok prints the plugins it loads on import: keep the output for errors only
    with contextlib.redirect_stdout(io.StringIO()):
        from addok.http.wsgi import application
    server = make_server(options.host, options.port, application,
                         server_class=_ThreadingServer, handler_class=_QuietHandler)
    with server, interrupted_by_signals(service=True):
        server.serve_forever()


if __name__ == "__main__":
    main()
