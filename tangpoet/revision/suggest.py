"""``suggest``: for every broken rule of a checked poem, the best replacements that mend it and break nothing else,
ranked by the model's likelihood of the whole poem (what ``tangpoet check --suggest`` prints).

1. :func:`tangpoet.checking.broken_positions` gives each violation at a character and the positions whose change
   may mend it (the character named; for 孤平 / 三平尾 the line's tail);
2. :func:`~tangpoet.revision.mending.choices_at` keeps, per position, the characters that remove a violation and add
   none (every rule checked, not only the one mended);
3. :func:`~tangpoet.revision.rescoring.rescore` ranks them all in one pass over the poem;
4. each violation gets the ``k`` best replacements that mend it (across its positions, by the gain in the whole
   poem's log-probability), each re-checked; where no single character mends it, a note says so and, for a rule
   a pair of characters decides (a line's tones, a rhyme), the best pair found is offered.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from tangpoet.checking import Poem, PoemReport, broken_positions, check_poem, default_constraints, parse_poem
from tangpoet.errors import PoemInputError
from tangpoet.revision.mending import Choices, choices_at, key, replace, verify, violation_keys
from tangpoet.revision.rescoring import Schedule, rescore

DEFAULT_SUGGESTIONS = 5
MAX_SUGGESTIONS = 20
PAIR_CANDIDATES = 6  # per position, the best single characters a pair is built from


@dataclass
class Change:
    """One character replaced: where (0-based verse and column), what it was, what it becomes."""

    line: int
    col: int
    was: str
    char: str

    def to_dict(self) -> dict:
        return {"line": self.line, "col": self.col, "was": self.was, "char": self.char}


@dataclass
class Option:
    """A replacement offered for a broken rule: its change(s) (one, or a pair), the gain in the whole poem's
    log-probability (nats; positive: the model finds the mended poem more likely), and every rule it mends."""

    changes: list[Change]
    delta: float
    mends: list[str]

    @property
    def text(self) -> str:
        return "".join(c.char for c in self.changes)

    def to_dict(self) -> dict:
        first = self.changes[0]
        return {
            "line": first.line,
            "col": first.col,
            "was": first.was,
            "char": first.char,
            "changes": [c.to_dict() for c in self.changes],
            "delta": round(float(self.delta), 4),
            "mends": list(self.mends),
        }


@dataclass
class Mend:
    """The suggestions for one violation: the violation, the options (best first), and a note where no single
    character mends it."""

    rule: str
    line: int
    col: int
    message: str
    options: list[Option] = field(default_factory=list)
    note: str | None = None

    def describe(self) -> str:
        """One line for ``tangpoet check --suggest``: ``第2句第2字「河」(tone): 流 +1.23 · 山 +0.50 …``; options at
        another position (孤平) or pairs name their places."""
        head = f"第{self.line + 1}句第{self.col + 1}字 ({self.rule})"
        if not self.options:
            return f"{head}: {self.note or 'no suggestion'}"
        parts = []
        for option in self.options:
            own = len(option.changes) == 1 and (option.changes[0].line, option.changes[0].col) == (self.line, self.col)
            if own:
                what = f"「{option.changes[0].was}」→{option.changes[0].char}"
            else:
                what = " + ".join(f"第{c.line + 1}句第{c.col + 1}字「{c.was}」→{c.char}" for c in option.changes)
            also = [m for m in option.mends if m != self.rule]
            parts.append(f"{what} {option.delta:+.2f}" + (f" (also {', '.join(also)})" if also else ""))
        line = f"{head}: " + " · ".join(parts)
        return line + (f"  ({self.note})" if self.note else "")

    def to_dict(self) -> dict:
        return {
            "rule": self.rule,
            "line": self.line,
            "col": self.col,
            "message": self.message,
            "options": [o.to_dict() for o in self.options],
            "note": self.note,
        }


def check_count(k) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_SUGGESTIONS:
        raise PoemInputError(f"the number of suggestions must be from 1 to {MAX_SUGGESTIONS}, got {k!r}")
    return k


def scoring_stepper(model, title: str | None = None, stepper=None):
    """The step decoder that scores a poem: the model's own (or ``stepper``), conditioned on ``title`` when the
    model is title-aware."""
    from tangpoet.decoding.stepper import StepDecoder

    stepper = stepper if stepper is not None else StepDecoder.of(model)
    if title and getattr(model, "title_aware", False) and hasattr(stepper, "titled"):
        from tangpoet.data.titles import title_prefix

        known = "".join(c for c in title if c in model.vocab)
        if known:
            stepper = stepper.titled(title_prefix(model.vocab, known))
    return stepper


def _note(violation, positions) -> str:
    rule = violation.rule
    if rule in ("rhyme", "rhyme-repeat"):
        return "no single character mends it: the rhyme set decides (change the rhyme group of the other rhyme lines, or this line's end together with another)"
    if rule in ("gu-ping", "san-ping-wei"):
        return "no single character mends it: the tones of the line's tail decide together (a 拗救 pair)"
    if len(positions) == 1:
        return "no single character mends it without breaking another rule of the line or the poem"
    return "no single character mends it"


def suggest_report(
    model,
    report: PoemReport,
    constraints: Sequence = (),
    k: int = DEFAULT_SUGGESTIONS,
    *,
    schedule: Schedule | None = None,
    stepper=None,
    pairs: bool = True,
) -> list[Mend]:
    """The suggestions for every violation at a character of the checked poem ``report`` (``constraints``: those it
    was checked with; default: :func:`~tangpoet.checking.default_constraints`). ``model``: a PoemModel."""
    check_count(k)
    constraints = list(constraints) or default_constraints()
    broken = broken_positions(report)
    if not broken:
        return []
    vocab = model.vocab
    text = report.poem.text
    choices: dict[tuple[int, int], Choices] = {}
    for _, positions in broken:
        for line, col in positions:
            if (line, col) not in choices:
                found = choices_at(report, constraints, vocab, line, col)
                if found is not None:
                    choices[(line, col)] = found
    ids = vocab.encode(text)
    stepper = scoring_stepper(model, report.poem.title, stepper)
    by_index = {c.index: c for c in choices.values() if len(c.ids)}
    ranked = rescore(stepper, ids, {i: c.ids for i, c in by_index.items()}, schedule or Schedule(), minimum=k)
    out = []
    for violation, positions in broken:
        target = key(violation)
        options: list[Option] = []
        for line, col in positions:
            found = choices.get((line, col))
            if found is None or found.index not in ranked:
                continue
            result = ranked[found.index]
            for token, delta in zip(result.ids, result.deltas):
                mended = found.mends.get(int(token), frozenset())
                if target in mended:
                    change = Change(line, col, found.was, vocab.tokens[int(token)])
                    options.append(Option([change], float(delta), sorted({m[0] for m in mended})))
        options.sort(key=lambda o: -o.delta)
        kept: list[Option] = []
        for option in options:
            if len(kept) == k:
                break
            change = option.changes[0]
            index = choices[(change.line, change.col)].index
            mended = choices[(change.line, change.col)].mends[vocab.id(change.char)]
            if verify(report, constraints, index, change.char, mended):
                kept.append(option)
        mend = Mend(violation.rule, violation.line, violation.col, violation.message, kept)
        if not kept:
            mend.note = _note(violation, positions)
            if pairs:
                mend.options = _pairs(stepper, vocab, report, constraints, violation, positions, k)
        out.append(mend)
    return out


def _pairs(stepper, vocab, report, constraints, violation, positions, k) -> list[Option]:
    """Two characters changed together: for a tone violation no single character mends, its position paired with
    each other position of its line but the last (a 拗救 pair), each from the characters the left context finds
    likeliest of a tone class; valid pairs (the violation gone, nothing new) ranked by the whole poem's
    log-probability."""
    from tangpoet.revision.mending import CharacterTable, char_index, verse_ends
    from tangpoet.revision.scoring import poem_log_prob

    text = report.poem.text
    form = report.form
    ends = verse_ends(form)
    line = violation.line
    columns = [c for c in range(64) if char_index(text, line, c, ends) is not None]
    first = positions[0]
    if violation.rule in ("rhyme", "rhyme-repeat"):  # a rhyme set: too many combinations to search; the note says so
        return []
    last = len(columns) - 1
    partners = [(line, c) for c in columns if (line, c) != first and c != last]  # the line's tones, not its rhyme
    table = CharacterTable.of(vocab)
    old = violation_keys(text, constraints, form)
    target = key(violation)
    present = set(text)
    # per position, a few characters per signature: the ones the model likes most in place (left context)
    found: list[tuple[list[Change], frozenset]] = []
    base = vocab.encode(text)
    for partner in partners[:12]:
        sites = [first, partner]
        indices = [char_index(text, *s, ends) for s in sites]
        if None in indices:
            continue
        options = []
        for (l_, c_), index in zip(sites, indices):
            at_end = c_ == len(_verses(text, ends)[l_]) - 1
            signatures = table.signatures(at_end, present)
            groups: dict = {}
            for position, signature in enumerate(signatures):
                groups.setdefault(signature, []).append(position)
            options.append([(signature, members, index, (l_, c_)) for signature, members in groups.items()])
        for (sig_a, members_a, index_a, site_a), (sig_b, members_b, index_b, site_b) in itertools.product(*options):
            char_a, char_b = table.chars[members_a[0]], table.chars[members_b[0]]
            new = violation_keys(replace(replace(text, index_a, char_a), index_b, char_b), constraints, form)
            if target in new or not new <= old:
                continue
            mended = frozenset(old - new)
            picks_a = _likeliest(stepper, base, index_a, table, members_a, text[index_a])
            picks_b = _likeliest(stepper, base, index_b, table, members_b, text[index_b])
            for a, b in itertools.islice(itertools.product(picks_a, picks_b), 4):
                changes = [Change(*site_a, text[index_a], a), Change(*site_b, text[index_b], b)]
                found.append((changes, mended))
        if len(found) >= 4 * k:
            break
    if not found:
        return []
    scored = []
    original = poem_log_prob(stepper, base)
    seen = set()
    for changes, mended in found:
        new_text = text
        for change in changes:
            new_text = replace(new_text, char_index(text, change.line, change.col, ends), change.char)
        if new_text in seen:
            continue
        seen.add(new_text)
        scored.append((new_text, changes, mended))
    scores = poem_log_prob(stepper, [vocab.encode(t) for t, _, _ in scored])
    options = []
    for (new_text, changes, mended), score in zip(scored, scores):
        full = {key(v) for v in check_poem(Poem(report.poem.title, new_text, new_text), constraints, form).violations}
        if full <= {key(v) for v in report.violations} - mended:
            options.append(Option(changes, float(score - original), sorted({m[0] for m in mended})))
    options.sort(key=lambda o: -o.delta)
    return options[:k]


def _verses(text, ends):
    from tangpoet.decoding.constraints import split_verses
    from tangpoet.decoding.constraints.form import verse_chars

    return [verse_chars(v) for v in split_verses(text, ends)]


def _likeliest(stepper, base, index, table, members, was, count: int = 2) -> list[str]:
    """Of the characters ``members`` (positions in ``table``), the ``count`` the model finds likeliest at ``index``
    given the characters before it (a cheap stand-in: pairs are rare)."""
    from tangpoet.data.vocab import BOS_ID

    log_probs, _ = stepper.prime(np.concatenate([[BOS_ID], base[:index]]).astype(np.int32), 1)
    ids = table.ids[members]
    order = np.argsort(-log_probs[0, ids], kind="stable")
    return [table.chars[members[i]] for i in order if table.chars[members[i]] != was][:count]


def suggest(
    model,
    poem: str,
    *,
    k: int = DEFAULT_SUGGESTIONS,
    constraints: Sequence = (),
    form=None,
    schedule: Schedule | None = None,
    stepper=None,
) -> tuple[PoemReport, list[Mend]]:
    """Check ``poem`` (``title:content`` or bare text, either script) and suggest, for each broken rule at a
    character, the ``k`` best replacements (:func:`suggest_report`). ``model``: a PoemModel or a model file's path.
    Returns the report and the suggestions."""
    check_count(k)
    if isinstance(model, str) or hasattr(model, "__fspath__"):
        from tangpoet.model.poem_model import load_model

        model = load_model(model)
    parsed = parse_poem(poem)
    if parsed is None:
        raise PoemInputError("no poem to check: the text holds no character")
    chosen = default_constraints(constraints)
    report = check_poem(parsed, chosen, form)
    return report, suggest_report(model, report, chosen, k, schedule=schedule, stepper=stepper)
