"""Serve a page in this process (Panel's Bokeh server), one page object per browser tab.

    server = start(lambda: PlanPage().view(), host="127.0.0.1", port=0)
    server.url      # http://127.0.0.1:PORT/
    server.run()    # until Ctrl-C (or server.stop() from another thread)
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

import panel as pn

from innosd.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"  # the house rule: servers bind to the local machine unless asked
DEFAULT_PORT = 5006         # Bokeh's usual port; 0 picks a free one


@dataclass
class Served:
    server: object
    host: str

    @property
    def port(self) -> int:
        return int(self.server.port)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    def run(self) -> None:
        self.server.io_loop.start()

    def stop(self) -> None:
        self.server.io_loop.add_callback(self.server.stop)
        self.server.io_loop.add_callback(self.server.io_loop.stop)


def start(page: Callable[[], object], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          title: str = "innosd") -> Served:
    """Bind and start listening (the loop runs in `Served.run`); a busy port is one line."""
    if not 0 <= int(port) <= 65535:
        raise ConfigError(f"--port: {port} is not a port number (0-65535; 0 picks a free one)")
    port = int(port) or free_port(host)
    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})
    try:
        server = pn.serve({"/": page}, address=host, port=int(port), show=False, start=False, title=title,
                          websocket_origin=origins, threaded=False)
    except OSError as err:
        raise ConfigError(f"--host {host} --port {port}: cannot listen there ({err.strerror or err}); "
                          "choose another --port (0 picks a free one)") from None
    server.start()
    return Served(server, host)


def free_port(host: str) -> int:
    """A port free on `host` now (Bokeh needs the number up front for its origin check)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start_in_thread(page: Callable[[], object], host: str = DEFAULT_HOST, port: int = 0) -> Served:
    """The server on its own thread and event loop (tests and the benchmark drive it from outside)."""
    ready = threading.Event()
    box: dict = {}

    def serve() -> None:
        import asyncio

        asyncio.set_event_loop(asyncio.new_event_loop())
        try:
            box["served"] = start(page, host, port)
        except BaseException as err:  # handed to the caller
            box["error"] = err
            ready.set()
            return
        ready.set()
        box["served"].run()

    thread = threading.Thread(target=serve, name="innosd-app", daemon=True)
    thread.start()
    ready.wait(120)
    if "error" in box:
        raise box["error"]
    served = box["served"]
    served.thread = thread
    return served
