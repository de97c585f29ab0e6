"""Errors as the HTTP API gives them: one line of JSON, ``{"error": "..."}``, with a 4xx status for what the client
caused — in the API's words (its field names: ``top_p``, not the command line's ``top-p``) — and a 500 only for a
bug (logged, one line to the client, never a traceback)."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tangpoet.errors import OptionError, TangpoetError
from tangpoet.serve.schemas import SURROGATE, ApiError, ErrorBody  # noqa: F401 (ApiError: re-exported)

log = logging.getLogger("tangpoet.serve")

#: The error responses every endpoint may give, for the OpenAPI schema.
RESPONSES = {
    400: {"model": ErrorBody, "description": "a bad value: an unknown name, an option out of range, an unknown "
          "character, a request that cannot be met, malformed JSON"},
    408: {"model": ErrorBody, "description": "the request's body did not arrive within the server's client timeout"},
    413: {"model": ErrorBody, "description": "the body is larger than the server's limit"},
    415: {"model": ErrorBody, "description": "the body is not JSON (content-type: application/json)"},
    422: {"model": ErrorBody, "description": "a wrong type, an unknown field, or a body that is not a JSON object"},
    503: {"model": ErrorBody, "description": "the queue is full (see Retry-After), or the server is shutting down"},
    504: {"model": ErrorBody, "description": "the poem was not written within the server's time limit"},
}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def api_message(exc: TangpoetError) -> str:
    """A library error in the API's words: the decoder options it names spelled as the API's fields."""
    if isinstance(exc, OptionError):
        return exc.spelled(lambda name: name)
    return str(exc)


def validation_message(exc: RequestValidationError) -> tuple[int, str]:
    """Status and one line for what pydantic refused: 400 for malformed JSON or text that is not text, 422 for a
    wrong type or an unknown field."""
    errors = exc.errors()
    first = errors[0] if errors else {"type": "", "loc": (), "msg": "invalid request"}
    kind = first.get("type", "")
    if kind == "json_invalid":
        reason = (first.get("ctx") or {}).get("error", "not valid JSON")
        return 400, f"malformed JSON: {reason}"
    if kind == SURROGATE:
        return 400, str(first.get("msg"))
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    if kind == "missing" and not loc:
        return 400, "the request body must be a JSON object"
    if kind == "model_attributes_type" or (not loc and kind.endswith("_type")):
        return 422, "the request body must be a JSON object"
    field = ".".join(loc) or "body"
    if kind == "extra_forbidden":
        return 422, f"unknown field {field!r}"
    return 422, f"{field}: {first.get('msg', 'invalid value')}"


def install(app: FastAPI) -> None:
    """Every error the app can meet answered as one line of JSON."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError):
        return error(*validation_message(exc))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException):
        messages = {404: f"not found: {request.url.path}", 405: f"method {request.method} not allowed here"}
        return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), getattr(exc, "headers", None))

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return error(exc.status, exc.message, exc.headers)

    @app.exception_handler(TangpoetError)
    async def _user(request: Request, exc: TangpoetError):
        return error(400, api_message(exc))

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception):
        log.exception("internal error")
        return error(500, f"internal error: {type(exc).__name__}")


def require_json(request: Request) -> None:
    """A dependency of the endpoints that take a JSON body: any other content type, or none, is a 415."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        return
    given = f"not {media}" if media else "and the request has no content-type"
    raise ApiError(415, f"the request body must be JSON (content-type: application/json), {given}")
