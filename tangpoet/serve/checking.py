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


def check(text: str, form: str | None = None, specs=(), suggest: int | None = None, suggester=None) -> dict:
    """The report of ``tangpoet check --json`` for the one poem in ``text`` (a one-line error for anything else);
    with ``suggest`` (``check --suggest K``) the suggestions, ranked by ``suggester`` (:class:`Suggester`)."""
    from tangpoet.checking import check_poems, parse_poem

    if len(text) > MAX_CHECK_CHARS:
        raise ApiError(400, f"text has {len(text):,} characters; /check takes one poem of at most {MAX_CHECK_CHARS:,}")
    if suggest is not None:
        from tangpoet.revision.suggest import check_count

        check_count(suggest)
        if suggester is None:
            raise ApiError(400, "this server has no model to rank suggestions with")
    poem = parse_poem(text)
    if poem is None:
        raise ApiError(400, "no poem to check: the text holds no character")
    report = check_poems([poem], specs, form)[0]
    if suggest is not None:
        report.suggestions = suggester(report, specs, suggest)
    return report.to_dict()


class Suggester:
    """``/check``'s suggestions (:func:`tangpoet.revision.suggest_report`) with the served model: a step decoder of
    its own (the engine's belongs to the engine thread), one poem at a time (each is bounded: one poem's broken
    characters, a second or so)."""

    def __init__(self, model):
        import threading

        self.model = model
        self._lock = threading.Lock()
        self._stepper = None

    def __call__(self, report, specs, k: int) -> list:
        from tangpoet.checking import default_constraints
        from tangpoet.decoding.stepper import StepDecoder
        from tangpoet.revision import suggest_report

        if not report.violations:
            return []
        with self._lock:
            if self._stepper is None:
                self._stepper = StepDecoder(self.model)
            return suggest_report(self.model, report, default_constraints(specs), k, stepper=self._stepper)


@lru_cache(maxsize=1)
def marks_available() -> bool:
    """Whether ``/check`` gives 平/仄 and rhyme marks (the prosody plugin is installed and works)."""
    try:
        return any(line.get("tones") for line in check(_SAMPLE)["lines"])
    except Exception:  # noqa: BLE001 - a broken plugin: no marks, the rest of /check still works
        return False


def check_router(model=None) -> APIRouter:
    """``POST /check``; ``model``: the served model, which ranks the suggestions of a request with ``suggest``."""
    router = APIRouter(dependencies=[Depends(require_json)], responses=RESPONSES)
    suggester = Suggester(model) if model is not None else None

    @router.post(
        "/check",
        response_model=CheckResult,
        summary="平/仄 and rhyme marks of a poem, and what breaks the rules (`tangpoet check --json`)",
    )
    async def check_poem(body: CheckRequest):
        report = await run_in_threadpool(check, body.text, body.form, body.specs(), body.suggest, suggester)
        return JSONResponse(report)

    return router
