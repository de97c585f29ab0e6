"""``POST /check``: the library's :mod:`tangpoet.checking` — what ``tangpoet check --json`` prints for one poem: the
form (detected from its shape unless given), per line the 平/仄 of each character and the rhyme group at its end (when
the prosody plugin gives marks), and every rule it breaks. The same constraints as the command line: the form and
free-verse rules always, then the request's ``constraints`` — by default ``regulated`` when a plugin provides it.
"""

from __future__ import annotations

from functools import lru_cache

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tangpoet.limits import MAX_CHECK_CHARS
from tangpoet.serve.errors import RESPONSES, ApiError, require_json
from tangpoet.serve.schemas import CheckRequest, CheckResult

_SAMPLE = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"


def check(text: str, form: str | None = None, specs=()) -> dict:
    """The report of ``tangpoet check --json`` for the one poem in ``text`` (a one-line error for anything else)."""
    from tangpoet.checking import check_poems, parse_poem

    if len(text) > MAX_CHECK_CHARS:
        raise ApiError(400, f"text has {len(text):,} characters; /check takes one poem of at most {MAX_CHECK_CHARS:,}")
    poem = parse_poem(text)
    if poem is None:
        raise ApiError(400, "no poem to check: the text holds no character")
    return check_poems([poem], specs, form)[0].to_dict()


@lru_cache(maxsize=1)
def marks_available() -> bool:
    """Whether ``/check`` gives 平/仄 and rhyme marks (the prosody plugin is installed and works)."""
    try:
        return any(line.get("tones") for line in check(_SAMPLE)["lines"])
    except Exception:  # noqa: BLE001 - a broken plugin: no marks, the rest of /check still works
        return False


def check_router() -> APIRouter:
    router = APIRouter(dependencies=[Depends(require_json)], responses=RESPONSES)

    @router.post(
        "/check",
        response_model=CheckResult,
        summary="平/仄 and rhyme marks of a poem, and what breaks the rules (`tangpoet check --json`)",
    )
    async def check_poem(body: CheckRequest):
        report = await run_in_threadpool(check, body.text, body.form, body.specs())
        return JSONResponse(report)

    return router
