"""``tangpoet serve``: an HTTP API and a web page that write poems, streaming each character as it is chosen, with
the model's steps batched across concurrent requests.

- :mod:`tangpoet.serve.app` — the HTTP layer (FastAPI + uvicorn, server-sent events by sse-starlette);
- :mod:`tangpoet.serve.jobs` — admission (a bounded queue), deadlines, cancellation; each request runs the
  library's own ``write()``;
- :mod:`tangpoet.serve.engine` — the one thread that owns the model's step decoder and steps every request's rows;
- :mod:`tangpoet.serve.schemas` — request/response bodies (the OpenAPI schema);
- :mod:`tangpoet.serve.info`, :mod:`tangpoet.serve.checking` — ``/info`` and ``/check``;
- ``static/index.html`` — the page at ``/`` (one file, no build step, nothing fetched from elsewhere).

Needs the ``serve`` extra: ``pip install 'tangpoet[serve]'``.
"""
