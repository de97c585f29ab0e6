"""``revise``: polishing — rounds that re-choose the characters the model finds least likely, under every rule.

Each round scores every character of the poem by the model (``log p`` given the characters before it), takes the
``width`` least likely ones that are not pinned, and ranks every replacement at each of them by the likelihood of
the whole poem (:func:`~tangpoet.revision.rescoring.rescore`: one pass, the left context's state shared). A
replacement is allowed only where it adds no violation of the rules the poem is revised under (the form, and
``regulated`` or any other constraint asked for; a written poem's own request — acrostic, begin text, keywords,
template — through ``check``) and brings no character the poem already has (no new 重字). Of the replacements
that make the whole poem more likely, one is taken: drawn with probability ∝ ``exp(gain / temperature)`` by a
generator seeded with ``seed`` (``temperature=0``: the best), so the same seed gives the same revision. A round that
finds no gain ends the revision early. Broken rules are mended first (the best suggestion of each,
:mod:`~tangpoet.revision.suggest`) when ``mend`` is on.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from tangpoet.checking import Poem, check_poem, parse_poem
from tangpoet.decoding.constraints import FormConstraint, VerseConstraint, parse_spec, to_constraint
from tangpoet.decoding.constraints.form import detect_form
from tangpoet.decoding.forms import get_form
from tangpoet.errors import PoemInputError
from tangpoet.revision.mending import positions_of, replace, replacements, verse_ends, violation_keys
from tangpoet.revision.rescoring import Schedule, rescore
from tangpoet.revision.scoring import poem_log_prob, token_scores
from tangpoet.revision.suggest import Change, scoring_stepper

MAX_ROUNDS = 64
DEFAULT_WIDTH = 4
KEEP_PLACEHOLDERS = "□_＿*＊○"


@dataclass
class Revision:
    """A revised poem: the text before and after, each change (in order, with its gain in nats), the whole poem's
    log-probability before and after, and the rounds run."""

    original: str
    text: str
    changes: list[tuple[Change, float]] = field(default_factory=list)
    log_prob_before: float = 0.0
    log_prob_after: float = 0.0
    rounds: int = 0
    mends: list[list[str]] = field(default_factory=list)  # per change: the rules it mends (empty: a polishing round's)

    def to_dict(self) -> dict:
        return {
            "original": self.original,
            "poem": self.text,
            "changes": [
                {**change.to_dict(), "delta": round(float(delta), 4), "mends": list(mends)}
                for (change, delta), mends in zip(self.changes, self.mends)
            ],
            "log_prob_before": round(self.log_prob_before, 4),
            "log_prob_after": round(self.log_prob_after, 4),
            "rounds": self.rounds,
        }

    def describe(self) -> list[str]:
        """One line per change: ``第2句第3字「X」→Y +1.23`` (``mends rhyme``: a broken rule mended first)."""
        return [
            f"第{c.line + 1}句第{c.col + 1}字「{c.was}」→{c.char} {d:+.2f}" + (f"  (mends {', '.join(m)})" if m else "")
            for (c, d), m in zip(self.changes, self.mends)
        ]


def parse_keep(spec: str | Sequence[int] | None, text: str, ends: str = "，。？！；") -> set[tuple[int, int]]:
    """The pinned positions ``(line, col)``: ``"2,5"`` (characters counted over the whole poem from 1, punctuation
    not counted), ``"1:2,3:1"`` (verse:character), or a mask of the poem's shape in which a placeholder
    (``□ _ ＿ * ＊ ○``) marks a character that may change and any other character one that is kept."""
    sites = positions_of(text, ends)
    if spec is None or spec == "" or spec == ():
        return set()
    if not isinstance(spec, str):
        spec = ",".join(str(int(s)) for s in spec)
    spec = spec.strip()
    if re.fullmatch(r"[\d:,\s，]+", spec):
        out = set()
        for part in re.split(r"[,，\s]+", spec):
            if not part:
                continue
            if ":" in part:
                line, _, col = part.partition(":")
                if not line.isdigit() or not col.isdigit() or (int(line) - 1, int(col) - 1) not in {(s[0], s[1]) for s in sites}:
                    raise PoemInputError(f"--keep {part}: the poem has no character {col} in verse {line}")
                out.add((int(line) - 1, int(col) - 1))
            else:
                n = int(part)
                if not 1 <= n <= len(sites):
                    raise PoemInputError(f"--keep {n}: the poem has {len(sites)} characters (count from 1)")
                out.add(sites[n - 1][:2])
        return out
    mask = [c for c in spec if c in KEEP_PLACEHOLDERS or (not c.isspace() and c not in ends and c not in ",.;?!")]
    if len(mask) != len(sites):
        raise PoemInputError(
            f"--keep mask has {len(mask)} characters, the poem {len(sites)}: write the poem with {KEEP_PLACEHOLDERS[0]} "
            "where a character may change"
        )
    return {site[:2] for site, m in zip(sites, mask) if m not in KEEP_PLACEHOLDERS}


def revision_constraints(specs: Sequence = ()) -> list:
    """What a poem is revised under: its form and the free-verse rule, and ``specs`` (``regulated`` …)."""
    chosen = [to_constraint(parse_spec(s) if isinstance(s, str) else s) for s in specs]
    if not any(isinstance(c, VerseConstraint) for c in chosen):
        chosen.insert(0, VerseConstraint())
    if not any(isinstance(c, FormConstraint) for c in chosen):
        chosen.insert(0, FormConstraint())
    return chosen


def revise(
    model,
    poem: str,
    *,
    rounds: int = 3,
    constraints: Sequence = (),
    form=None,
    keep=None,
    seed: int = 0,
    temperature: float = 1.0,
    width: int = DEFAULT_WIDTH,
    mend: bool = True,
    check: Callable[[str], set] | None = None,
    schedule: Schedule | None = None,
    stepper=None,
    titled: bool = False,
) -> Revision:
    """Polish ``poem`` (``title:content`` or bare text) for up to ``rounds`` rounds (see the module). ``model``: a
    PoemModel or a model file's path; ``constraints``: names / specs / instances beyond the form (e.g.
    ``["regulated"]``); ``keep``: pinned characters (:func:`parse_keep`); ``check(text) -> set of violation keys``:
    the rules instead of ``constraints`` (``write --polish`` passes its request's); ``titled``: ``stepper`` already
    reads the poem's title."""
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 0 <= rounds <= MAX_ROUNDS:
        raise PoemInputError(f"rounds must be from 0 to {MAX_ROUNDS}, got {rounds!r}")
    if not isinstance(width, int) or width < 1:
        raise PoemInputError(f"width must be at least 1, got {width!r}")
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        from tangpoet.model.poem_model import load_model

        model = load_model(model)
    parsed = parse_poem(poem) if not titled else Poem(None, poem, poem)
    if parsed is None:
        raise PoemInputError("no poem to revise: the text holds no character")
    text, title = parsed.text, parsed.title
    shape = get_form(form) if form else detect_form(text)
    chosen = revision_constraints(constraints)
    if check is None:
        check = lambda t: violation_keys(t, chosen, shape)  # noqa: E731
    ends = verse_ends(shape)
    pinned = parse_keep(keep, text, ends) if not isinstance(keep, set) else keep
    vocab = model.vocab
    stepper = scoring_stepper(model, None if titled else title, stepper)
    rng = np.random.default_rng(seed)
    revision = Revision(text, text, log_prob_before=poem_log_prob(stepper, vocab.encode(text)))
    if mend:
        text = _mend(model, text, title, chosen, shape, pinned, revision, stepper)
    tried: set[tuple[int, int, str]] = set()  # (line, col, text) already found without a gain
    for _ in range(rounds):
        revision.rounds += 1
        sites = [s for s in positions_of(text, ends) if s[:2] not in pinned and (*s[:2], text) not in tried]
        if not sites:
            break
        ids = vocab.encode(text)
        scores = token_scores(stepper, ids)
        weakest = sorted(sites, key=lambda s: (scores[s[2]], s[2]))[:width]
        present = set(text)
        positions, found = {}, {}
        for line, col, index in weakest:
            choices = replacements(text, shape, vocab, line, col, check, exclude=present)
            if choices is not None and len(choices.ids):
                positions[index] = choices.ids
                found[index] = (line, col)
        ranked = rescore(stepper, ids, positions, schedule or Schedule(), minimum=1) if positions else {}
        options = []
        for index, result in ranked.items():
            for token, delta in zip(result.ids[:8], result.deltas[:8]):
                if delta > 1e-6:
                    options.append((float(delta), index, int(token)))
        if not options:
            tried.update((*found[i], text) for i in found)
            continue
        options.sort(key=lambda o: (-o[0], o[1], o[2]))
        pick = _draw(options, temperature, rng)
        delta, index, token = options[pick]
        line, col = found[index]
        char = vocab.tokens[token]
        revision.changes.append((Change(line, col, text[index], char), delta))
        revision.mends.append([])
        text = replace(text, index, char)
    revision.text = text
    revision.log_prob_after = poem_log_prob(stepper, vocab.encode(text))
    return revision


def _draw(options, temperature: float, rng) -> int:
    if temperature <= 0 or len(options) == 1:
        return 0
    gains = np.asarray([o[0] for o in options[:8]])
    weights = np.exp((gains - gains.max()) / temperature)
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _mend(model, text, title, constraints, shape, pinned, revision, stepper) -> str:
    """The broken rules mended first, one suggestion at a time (the best that touches no pinned character)."""
    from tangpoet.revision.suggest import suggest_report

    for _ in range(8):
        report = check_poem(Poem(title, text, text), constraints, shape)
        if not report.violations:
            break
        mends = suggest_report(model, report, constraints, 5, stepper=stepper, pairs=False)
        options = [o for m in mends for o in m.options if all((c.line, c.col) not in pinned for c in o.changes)]
        if not options:
            break
        best = max(options, key=lambda o: o.delta)
        ends = verse_ends(shape)
        for change in best.changes:
            from tangpoet.revision.mending import char_index

            text = replace(text, char_index(text, change.line, change.col, ends), change.char)
            revision.changes.append((change, best.delta / len(best.changes)))
            revision.mends.append(list(best.mends))
    return text


__all__ = ["Revision", "parse_keep", "revise", "revision_constraints"]


def polish_poems(model, poems, built, rounds: int, seed: int, stepper=None) -> list:
    """``write(polish=N)``: each written poem (a Candidate) revised ``rounds`` rounds under the request's own rules
    (``built``: its :class:`~tangpoet.decoding.constraints.Constraints` — form, acrostic, begin text, keywords,
    template and every constraint asked for), the characters of the begin text kept."""
    import dataclasses

    from tangpoet.revision.mending import key as violation_key

    def check(text: str) -> set:
        return {violation_key(v) for v in built.check(text)}

    out = []
    for i, poem in enumerate(poems):
        text = poem.text
        begin = len(built.begin or "")
        ends = verse_ends(built.form)
        keep = {site[:2] for site in positions_of(text, ends) if site[2] < begin}
        revision = revise(
            model, text, rounds=rounds, form=built.form, keep=keep, seed=seed + i, check=check, mend=False,
            stepper=stepper, titled=True,
        )
        out.append(dataclasses.replace(poem, text=revision.text, tokens=tuple(int(i) for i in model.vocab.encode(revision.text))))
    return out
