from __future__ import annotations

import socket

import click

from tangpoet.backend import ensure_backend
from tangpoet.cli.group import main
from tangpoet.cli.common import _model_path, backend_option
from tangpoet.errors import ServeError
from tangpoet.limits import CLIENT_TIMEOUT


@main.command()
@click.option("--model", "-m", default=None, help="Model file (default: the bundled model).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port (0: any free one).")
@click.option(
    "--batching",
    type=click.Choice(["fused", "exact"]),
    default="fused",
    show_default=True,
    help="For requests that do not say \"exact\": fused: all requests' rows in one model call (throughput); exact: "
    "each request's calls alone, so every poem is bit for bit `tangpoet write`'s with the same seed.",
)
@click.option("--max-batch", type=click.IntRange(1, 1024), default=64, show_default=True, help="Most rows per model call.")
@click.option("--max-active", type=click.IntRange(1, 1024), default=64, show_default=True, help="Requests decoding at once.")
@click.option("--max-queue", type=click.IntRange(0, 100_000), default=64, show_default=True, help="Requests waiting beyond those (then 503).")
@click.option("--time-limit", type=click.FloatRange(0.1, 3600), default=60.0, show_default=True, help="Seconds per request, queue included.")
@click.option("--body-limit", type=click.IntRange(256, 2**24), default=64 * 1024, show_default=True, help="Largest request body in bytes.")
@click.option(
    "--client-timeout",
    type=click.FloatRange(0.1, 600),
    default=CLIENT_TIMEOUT,
    show_default=True,
    help="Seconds a client has to send a request's headers, then its body (slower ones get 408 and are dropped).",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="A Host name to serve besides localhost and the address listened on (repeatable; *.example.org: its "
    "subdomains; *: any). Other names are refused (DNS rebinding protection).",
)
@backend_option
def serve(model, host, port, batching, max_batch, max_active, max_queue, time_limit, body_limit, client_timeout, allow_hosts, backend):
    """Serve the HTTP API and the web page (needs the extra: pip install 'tangpoet[serve]')."""
    try:
        import fastapi  # noqa: F401
        import sse_starlette  # noqa: F401
        import uvicorn
    except ImportError as exc:
        raise ServeError(f"tangpoet serve needs the serve extra ({exc.name} is missing): pip install 'tangpoet[serve]'") from None
    path = _model_path(model)
    from tangpoet.model.info import read_config

    read_config(path)  # a missing or damaged model file: one line before Keras is even imported
    backend_name = ensure_backend(backend)
    try:  # fail in one line now rather than in uvicorn's log after loading the model
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as exc:
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    from tangpoet.serve import memory

    memory.limit_arenas(4)  # before any thread allocates: request threads share 4 malloc arenas (tangpoet.serve.memory)
    from tangpoet.model.poem_model import load_model
    from tangpoet.serve.app import create_app
    from tangpoet.serve.generate import DRAIN_SECONDS
    from tangpoet.serve.hosts import allowed_hosts

    app = create_app(
        load_model(path),
        model_path=str(path),
        backend=backend_name,
        mode=batching,
        max_batch=max_batch,
        max_active=max_active,
        max_queue=max_queue,
        time_limit=time_limit,
        body_limit=body_limit,
        client_timeout=client_timeout,
        hosts=allowed_hosts(host, allow_hosts),
    )
    from tangpoet.serve.protocol import guarded_protocol

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_protocol(client_timeout),  # uvicorn's own protocol, with a time limit on a request's headers
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=DRAIN_SECONDS + 2,  # the drain below, then the last events' way out
    )
    scheduler = app.state.scheduler

    class Server(uvicorn.Server):
        def handle_exit(self, sig, frame):
            """SIGTERM / Ctrl-C: no new request; those running get DRAIN_SECONDS to finish, then end with an
            `error` event (or 503). A second signal exits at once (uvicorn's force exit)."""
            scheduler.close(DRAIN_SECONDS)
            super().handle_exit(sig, frame)

    server = Server(config)
    original = server.startup

    async def startup(sockets=None):
        await original(sockets=sockets)
        for s in server.servers:
            for sock in s.sockets:
                bound_host, bound_port = sock.getsockname()[:2]
                shown = f"[{bound_host}]" if ":" in bound_host else bound_host
                click.echo(f"tangpoet serve: http://{shown}:{bound_port}/ (model {path}, backend {backend_name}, batching {batching})", err=True)

    server.startup = startup
    server.run()
