"""``write()``: the library call behind ``tangpoet write``.

Everything that can be checked is checked before any decoding starts, cheapest first: the decoder name and its
options, the form name, the text of ``begin`` / ``acrostic`` (valid UTF-8), then — with the model's vocabulary —
unknown characters, an acrostic that does not match the form, a begin text the form forbids, a max length too short.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Sequence
from typing import Any

import numpy as np

from tangpoet.data import script as scripts
from tangpoet.data.corpus import normalise_text
from tangpoet.decoding import get_decoder
from tangpoet.decoding.base import Candidate, rows_can_differ, sort_candidates
from tangpoet.decoding.forms import LINE_END, get_form
from tangpoet.decoding.rows import RowChains
from tangpoet.errors import DecoderOptionError
from tangpoet.limits import (
    MAX_ACROSTIC_LENGTH,
    MAX_BEGIN_LENGTH,
    MAX_CONSTRAINTS,
    MAX_KEYWORD_CHARS,
    POEM_BATCH,
    THEME_PLANS,
    check_request,
    check_seed,
    check_work,
)

__all__ = ["Candidate", "poem_record", "resolve_seed", "split_lines", "split_stanzas", "write"]


def resolve_seed(seed: int | None) -> int:
    """``seed`` itself, or a fresh random one (so it can be reported and the poem written again)."""
    return secrets.randbelow(2**31) if seed is None else check_seed(seed)


def check_sizes(*, begin: str = "", acrostic: str = "", keywords: Sequence[str] = (), constraints: Sequence = ()) -> None:
    """Refuse text fields longer than a poem can use, in one line, before any work (:mod:`tangpoet.limits`)."""
    for label, text, bound in (("begin", begin, MAX_BEGIN_LENGTH), ("acrostic", acrostic, MAX_ACROSTIC_LENGTH)):
        if len(text) > bound:
            raise DecoderOptionError(f"{label} has {len(text):,} characters; a poem can use at most {bound:,}")
    total = sum(len(k) for k in keywords)
    if total > MAX_KEYWORD_CHARS:
        raise DecoderOptionError(f"the keywords have {total:,} characters together; a poem can use at most {MAX_KEYWORD_CHARS}")
    if len(constraints) > MAX_CONSTRAINTS:
        raise DecoderOptionError(f"{len(constraints):,} constraints asked for; a request may have at most {MAX_CONSTRAINTS}")


def _recorded_script(model) -> str | None:
    """The script the model's training corpus was converted to or detected in, as its metadata records it."""
    corpus = (getattr(model, "metadata", None) or {}).get("corpus")
    return corpus.get("script") if isinstance(corpus, dict) else None


def split_lines(text: str) -> list[str]:
    """One entry per verse: ``text`` split after each of ``，。？！；`` (the mark stays with its line)."""
    lines, current = [], []
    for char in text:
        current.append(char)
        if char in LINE_END:
            lines.append("".join(current))
            current = []
    if current:
        lines.append("".join(current))
    return lines


def split_stanzas(poem: Candidate) -> list[list[str]]:
    """The poem's verses (:func:`split_lines`) in its stanzas: two lists for a ci with a stanza (阕) break, else one."""
    lines = split_lines(poem.text)
    at = poem.stanza_break
    return [lines[:at], lines[at:]] if at and 0 < at < len(lines) else [lines]


def _more_plans(first, redraw, wanted: int) -> list:
    """Up to ``wanted`` more plans of the request's theme (``redraw(draw)``: the constraints built with draw ``draw`` of
    it), none placing the same keywords as another; a draw that cannot be planned (the first one could) is left out."""
    from tangpoet.decoding.planning.request import placed_plan
    from tangpoet.errors import ConstraintError

    plans, seen = [], {placed_plan(first)}
    for draw in range(1, 2 * wanted + 1):  # a few spare draws for repeats
        if len(plans) == wanted:
            break
        try:
            built = redraw(draw)
        except ConstraintError:
            continue
        placed = placed_plan(built)
        if placed in seen or built.max_len != first.max_len or not np.array_equal(built.prompt, first.prompt):
            continue
        seen.add(placed)
        plans.append(built)
    return plans


def poem_record(poem: Candidate, *, decoder: str, seed: int, backend: str, model: str) -> dict[str, Any]:
    """One written poem as ``tangpoet write --json`` prints it and ``POST /generate`` returns it (``plan``: the
    keyword of each line, only for a poem written with a theme; ``stanza_break``: for a ci of two stanzas, the index in
    ``lines`` of the second stanza's first verse)."""
    record = {
        "poem": poem.text,
        "lines": split_lines(poem.text),
        "score": poem.score,
        "finished": poem.finished,
        "decoder": decoder,
        "seed": seed,
        "backend": backend,
        "model": model,
    }
    if poem.plan:
        record["plan"] = list(poem.plan)
    if poem.title:
        record["title"] = poem.title
    if poem.stanza_break:
        record["stanza_break"] = poem.stanza_break
    return record


def write(
    model,
    *,
    begin: str = "",
    acrostic: str = "",
    form: str | None = None,
    decoder: str = "greedy",
    num: int = 1,
    max_len: int | None = None,
    seed: int | None = 0,
    no_repeat: bool = True,
    no_repeat_ngram: int = 0,
    constraints: Sequence[Any] = (),
    keywords: Sequence[str] | str = (),
    script: str | None = None,
    candidates: int | None = None,
    scorer: Any = None,
    theme: str | None = None,
    theme_table: Any = None,
    stepper=None,
    variant: int | None = None,
    title: str | None = None,
    title_guidance: float = 1.0,
    template: str | None = None,
    acrostic_at: Any = None,
    polish: int = 0,
    **decoder_options: Any,
) -> list[Candidate]:
    """Write up to ``num`` poems with ``model`` (a PoemModel or a path to a model file), best first.

    ``decoder`` names a registered decoder (``greedy``, ``sample``, ``top-k``, ``top-p``, ``beam``, or a plugin's);
    ``decoder_options`` are its options (``temperature``, ``top_k``, ``top_p``, ``beam_width``,
    ``length_penalty``); ``None`` values are ignored. The same ``seed`` on the same backend writes the same poems.
    Without ``form`` (and ``acrostic``) the poem is free verse (the ``verse`` constraint: no empty verse, verses of
    the model's recorded lengths or 3–11 characters, the end on ``。？！``), always finished within ``max_len``.
    ``constraints``: names (``"regulated"``, ``"tones:strict"``), ``(name, options)`` pairs or Constraint instances,
    composed with any decoder; ``keywords``: words of 1–4 characters each poem contains inside one verse.
    Requests beyond :mod:`tangpoet.limits` are refused before any work; more than ``POEM_BATCH`` poems are written
    in batches. ``begin`` / ``acrostic`` are read like corpus text (spaces dropped, ASCII ``,.?!;:`` full-width) and
    may be typed in either script (:func:`tangpoet.data.script.to_vocabulary`); ``script`` (``"simplified"`` /
    ``"traditional"``) converts the written poems. ``candidates``: write that many poems as one batch under every
    constraint and return the ``num`` best by ``scorer`` (a name in :data:`~tangpoet.decoding.scoring.SCORERS` or an
    object with ``score``; default ``coherence``), ``score`` then being the scorer's. ``theme``: one keyword per line
    planned from corpus statistics (``theme_table``: a :class:`~tangpoet.decoding.planning.ThemeTable` or its file;
    default the bundled one), each placed as a word; a poem's ``plan`` is what was placed; without ``form`` or
    ``acrostic`` a themed poem is a 五言绝句; with ``candidates`` and a sampling decoder the candidate rows are dealt
    among up to :data:`~tangpoet.limits.THEME_PLANS` plans of the theme (one batch still), so the scorer chooses the
    plan too. ``form`` may name a ci tune (词牌, e.g. ``浣溪沙``), ``variant`` its shape (1 = the commonest, the
    default; ``tangpoet forms`` lists them). ``stepper``: the step decoder the model's steps go through
    (default: the model's own, :meth:`StepDecoder.of <tangpoet.decoding.stepper.StepDecoder.of>`); a server passes
    one that batches its requests' steps (:class:`tangpoet.serve.engine.ProxyStepper`). ``title`` (a title-aware
    model only, ``fit --titles``): the poem is written to this title (read like a corpus title, in either script;
    every decoder, form, constraint, theme and scorer then works given it), or with ``"auto"`` to a title the model
    writes first (with the same decoder, one title for every poem of the call); each poem carries its ``title``.
    ``title_guidance`` (γ, 1–8; with a title): above 1 each character is drawn from the model's distribution given the
    title pushed away from the one without it by γ (classifier-free guidance, :mod:`tangpoet.decoding.guidance`), so
    the title weighs more; the poems' ``score`` is then the guided log-probability; scorers still score given the title.
    ``template``: fixed characters at any positions, the rest written (``□□明月□，□□□□□。…``; placeholders ``□ _ ＿ *
    ＊ ○``; the template's shape gives the form when none is given); ``acrostic_at``: the acrostic at the end of
    each line (``"end"``, 藏尾) or at column N (藏中) instead of the start (both:
    :mod:`~tangpoet.decoding.constraints.template`). ``polish``: that many rounds of :func:`tangpoet.revision.revise`
    on each poem under the request's own rules (its ``score`` stays the decoder's).
    """
    from tangpoet.decoding.constraints import build_constraints, check_text, parse_keywords, resolve_constraints
    from tangpoet.decoding.constraints.keywords import keywords_to_vocabulary
    from tangpoet.decoding.constraints.verse import recorded_verse_chars

    strategy = get_decoder(decoder, **decoder_options)
    check_request(num=num, max_len=max_len, no_repeat_ngram=no_repeat_ngram, options=decoder_options)
    if script is not None:
        scripts.convert("", script)  # an unknown script or no OpenCC: one line before any work
    if not isinstance(num, int) or num < 1:
        raise DecoderOptionError(f"the number of poems must be at least 1, got {num!r}")
    strategy.validate(num)
    from tangpoet.decoding.planning.request import check_theme
    from tangpoet.decoding.scoring.request import best_of_n

    rows, ranker = best_of_n(num, candidates, scorer)  # before any work: a bad count, an unknown scorer
    strategy.validate(rows)
    check_work(rows, max_len, ranker is not None)  # steps × rows, at worst: bounded before any work
    theme = check_theme(theme)
    if variant is not None:  # a ci tune's variant (又一体): 1 = its commonest shape
        if not form:
            raise DecoderOptionError("a variant needs a ci tune as the form (e.g. form 浣溪沙, variant 2)")
        form = get_form(form, variant)
    elif form:
        get_form(form)
    if not isinstance(begin or "", str) or not isinstance(acrostic or "", str):
        raise DecoderOptionError("begin and acrostic must be text")
    constraints = tuple(constraints or ())
    check_sizes(begin=begin or "", acrostic=acrostic or "", constraints=constraints)  # before reading them
    check_text("begin", begin or "")
    check_text("acrostic", acrostic or "")
    from tangpoet.decoding.constraints.template import check_template_request

    check_template_request(template, acrostic_at, acrostic or "")
    if isinstance(polish, bool) or not isinstance(polish, int) or not 0 <= polish <= 64:
        raise DecoderOptionError(f"polish takes a number of rounds from 0 to 64, got {polish!r}")
    from tangpoet.decoding.titling import AUTO, check_title_request

    title = check_title_request(title)
    if title is not None:
        check_text("title", title)
    from tangpoet.decoding.guidance import check_guidance

    title_guidance = check_guidance(title_guidance)
    if title_guidance != 1.0 and title is None:
        raise DecoderOptionError("title guidance needs a title (guidance weighs the title against no title)")
    begin, acrostic = normalise_text(begin or ""), normalise_text(acrostic or "")  # exactly like corpus text
    keywords = parse_keywords(keywords)
    check_sizes(begin=begin, acrostic=acrostic, keywords=keywords)
    resolve_constraints(constraints, form, acrostic or "", begin or "", keywords)  # unknown names: before loading
    seed = resolve_seed(seed)
    if isinstance(model, (str, os.PathLike)):
        from tangpoet.model.info import read_config

        read_config(model)  # a missing, damaged or hostile file: one line before Keras is even imported
        from tangpoet.model.poem_model import load_model

        model = load_model(model)
    recorded = _recorded_script(model)
    if title is not None:  # an old model cannot read a title: one line, before any work
        from tangpoet.decoding.titling import read_title, require_title_aware

        require_title_aware(model)
        if title != AUTO:
            title = read_title(title, model.vocab, recorded)
    elif form and getattr(model, "title_aware", False):
        title = _tune_title(form if not isinstance(form, str) else get_form(form), model, recorded)
    begin = scripts.to_vocabulary(begin, model.vocab, recorded)  # typed in the other script: converted
    acrostic = scripts.to_vocabulary(acrostic, model.vocab, recorded)
    if template or acrostic_at is not None:  # fixed characters at any positions: a template constraint, planned first
        from tangpoet.decoding.constraints.template import template_request

        template = scripts.to_vocabulary(template, model.vocab, recorded) if template else template
        constraints, form, acrostic = template_request(constraints, form, acrostic, template, acrostic_at, seed)
    keywords = keywords_to_vocabulary(keywords, model.vocab, recorded)  # 風 for a simplified model: 风, like begin
    from tangpoet.decoding.planning.request import placed_plan, theme_constraint

    requested = constraints  # the request's own; `constraints` becomes what was built from them

    def build(extra, *draw: int):
        return build_constraints(
            model.vocab,
            begin=begin or "",
            acrostic=acrostic or "",
            form=form,
            max_len=max_len,
            no_repeat=no_repeat,
            no_repeat_ngram=no_repeat_ngram,
            constraints=requested + extra,
            keywords=keywords,
            rng=np.random.default_rng([seed, 12, *draw]),  # plan choices: their own stream, so decoding draws stay the same
            verse=recorded_verse_chars(getattr(model, "metadata", None)),  # free verse: the model's corpus's lengths
        )

    extra = ()
    if theme:
        from tangpoet.decoding.planning import load_table

        theme_table = load_table(theme_table)  # once, for every plan drawn from it
        form, planned = theme_constraint(theme, model.vocab, form, acrostic, theme_table, seed)
        extra = (planned,)
    constraints = build(extra)
    plans = [constraints]  # best-of-N with a theme: the candidates dealt among several plans of it
    if theme and ranker is not None and rows > 1 and rows_can_differ(strategy):

        def redraw(draw: int):
            _, planned = theme_constraint(theme, model.vocab, form, acrostic, theme_table, seed, draw=draw)
            return build((planned,), draw)

        plans += _more_plans(constraints, redraw, min(rows, THEME_PLANS) - 1)
    placed = [placed_plan(p) for p in plans]
    from tangpoet.decoding.stepper import StepDecoder

    rng = np.random.default_rng(seed)
    stepper = StepDecoder.of(model) if stepper is None else stepper
    if title == AUTO:  # the model writes the title first (its own stream of draws), not streamed as the poem
        from tangpoet.decoding.scoring.request import hold_stream
        from tangpoet.decoding.titling import write_title

        hold_stream(stepper)
        title = write_title(stepper, strategy, np.random.default_rng([seed, 33]))
    writer = None  # the step decoder the poems are written through, when not the one they are scored through
    if title:
        from tangpoet.data.titles import title_prefix

        if title_guidance != 1.0:
            from tangpoet.decoding.guidance import GuidedStepDecoder

            writer = GuidedStepDecoder(stepper, title_prefix(model.vocab, title), title_guidance)
        stepper = stepper.titled(title_prefix(model.vocab, title))  # every prefix after "<eos> title"
    writer = writer or stepper
    if ranker is not None:
        from tangpoet.decoding.scoring.request import hold_stream

        hold_stream(stepper)
    poems: list[Candidate] = []
    for start in range(0, rows, POEM_BATCH):  # bounded memory for any num; one batch (the same poems) up to 64
        batch = min(POEM_BATCH, rows - start)
        chain = constraints.chain if len(plans) == 1 else RowChains(
            [p.chain for p in plans], (start + np.arange(batch)) % len(plans), placed
        )
        written = strategy.decode(writer, constraints.prompt, chain, constraints.max_len, rng, num=batch)
        poems += written
        if len(written) < batch:  # a deterministic decoder (greedy) writes one poem whatever num
            break
    if rows > POEM_BATCH:
        poems = sort_candidates(poems)
    if ranker is not None:  # best-of-N: the candidates ranked by the scorer, the model's rows in the same batch
        from tangpoet.decoding.scoring.request import rank

        poems = rank(poems, ranker, stepper, num)
    if placed[0] and len(plans) == 1:  # several plans: each candidate carries its own
        poems = [dataclasses.replace(poem, plan=placed[0]) for poem in poems]
    if title:
        poems = [dataclasses.replace(poem, title=title) for poem in poems]
    if polish:  # rounds of revision under the request's own rules (the stepper already reads the title)
        from tangpoet.revision.polish import polish_poems

        poems = polish_poems(model, poems, constraints, polish, seed, stepper)
    if script is not None:
        poems = [
            dataclasses.replace(poem, text=scripts.convert(poem.text, script), title=scripts.convert(poem.title, script))
            for poem in poems
        ]
    return with_stanzas(poems, constraints.form)


def _tune_title(shape, model, recorded) -> str | None:
    """A ci written with a title-aware model and no title: its tune, the title the model learnt every ci of the tune
    under (the ci are trained with their tune as title) — so that ``form="浣溪沙"`` writes ci language; None for a shi
    form, or a tune whose name the model cannot read."""
    if not getattr(shape, "is_ci", False):
        return None
    from tangpoet.decoding.titling import read_title
    from tangpoet.errors import TangpoetError

    try:
        return read_title(shape.name, model.vocab, recorded)
    except TangpoetError:
        return None


def with_stanzas(poems: list[Candidate], form) -> list[Candidate]:
    """A ci's poems with their tune variant's stanza (阕) break (``stanza_break``: the verse the second stanza begins
    with), where the poem reaches it; other poems as they are."""
    at = getattr(form, "stanza_break", None)
    if not at:
        return poems
    return [dataclasses.replace(p, stanza_break=at) if len(split_lines(p.text)) > at else p for p in poems]
