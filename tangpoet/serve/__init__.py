"""``tangpoet serve``: an HTTP API and a web page that write poems, streaming each character as it is chosen, with
the model's steps batched across concurrent requests.

- :mod:`tangpoet.serve.app` — the app: the engine, the scheduler and one router per concern;
- :mod:`tangpoet.serve.generate` — ``/generate`` and ``/generate_stream`` (FastAPI; server-sent events by
  sse-starlette);
- :mod:`tangpoet.serve.checking` — ``/check``: the library's :mod:`tangpoet.checking`, as ``tangpoet check``;
- :mod:`tangpoet.serve.status` — ``/health``, ``/info`` and the page;
- :mod:`tangpoet.serve.jobs` — admission (a bounded queue), deadlines, cancellation; each request runs the
  library's own ``write()``, handed the request's own step decoder;
- :mod:`tangpoet.serve.engine` — the one thread that owns the model's step decoder and steps every request's rows;
- :mod:`tangpoet.serve.schemas` — request/response bodies (the OpenAPI schema, built at start-up from the registry);
- :mod:`tangpoet.serve.errors`, :mod:`tangpoet.serve.middleware`, :mod:`tangpoet.serve.protocol` — one-line JSON
  errors; the body's size and time limits; the headers' time limit (slow clients);
- ``static/index.html`` — the page at ``/`` (one file, no build step, nothing fetched from elsewhere).

Needs the ``serve`` extra: ``pip install 'tangpoet[serve]'``.
"""
