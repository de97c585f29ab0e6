"""Fill in the blanks: a template fixes characters at any positions and the model writes the rest.

``template`` is the general form of the acrostic: ``□□明月□，□□□□□。…`` (``text=``) fixes 明 and 月 at characters 3
and 4 of line 1; ``chars=春夏秋冬,at=end`` fixes character ``i`` of ``chars`` at the end of line ``i`` (藏尾), ``at=N``
at column ``N`` (藏中; ``at=1`` is the acrostic, 藏头). Placeholders: :data:`PLACEHOLDERS` (``□``, ``_``, ``＿``,
``*``, ``＊``, ``○``). The template's verses must have the form's lengths; without a form, the template's shape
chooses it (``tangpoet write --template``).

The fixed characters go into the plan's static masks (like the acrostic's), so every decoder writes them and every
other constraint sees them: a fixed character that a rule forbids where it stands — a 仄 character where
``regulated`` needs 平 — is refused before decoding, naming its position (the prosody plugin's own reason when the
template is planned first, as ``write()`` does).
"""

from __future__ import annotations

import re
import unicodedata

from tangpoet.decoding.constraints.base import Constraint, PlanContext, Violation
from tangpoet.decoding.constraints.form import split_verses, verse_chars
from tangpoet.decoding.forms import CI_VERSE_END, Form
from tangpoet.errors import ConstraintError, VocabularyError

PLACEHOLDERS = "□_＿*＊○"
_ASCII_MARKS = str.maketrans({",": "，", ".": "。", ";": "；", "?": "？", "!": "！"})
MAX_TEMPLATE_LENGTH = 400


def read_template(text: str) -> list[list[str | None]]:
    """The template's verses: per verse, per position the fixed character or None (a placeholder). Verses end at
    ``，。？！；、`` or a line break; spaces are dropped."""
    text = unicodedata.normalize("NFC", str(text)).translate(_ASCII_MARKS)
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise ConstraintError(f"the template has {len(text):,} characters; a poem has at most {MAX_TEMPLATE_LENGTH}")
    verses = []
    for part in re.split(r"[\n\r]+", text):
        for verse in split_verses(part.strip(), CI_VERSE_END):
            cells = [None if c in PLACEHOLDERS else c for c in verse if c in PLACEHOLDERS or verse_chars(c)]
            if cells:
                verses.append(cells)
    if not verses:
        raise ConstraintError(f"the template {text!r} has no verse: write one character or placeholder ({PLACEHOLDERS[0]}) per position")
    return verses


def template_shape(text: str) -> str:
    """The template with each placeholder as ``□`` and its verse marks (``，``/``。`` in turn where missing): a text
    whose shape :func:`~tangpoet.decoding.constraints.form.detect_form` can read."""
    verses = read_template(text)
    return "".join("".join(c or "□" for c in v) + ("，" if i % 2 == 0 and i < len(verses) - 1 else "。") for i, v in enumerate(verses))


def acrostic_column(at) -> str | int:
    """``end`` / ``start`` / a column number (1-based) from ``--acrostic-at``: ``"end"`` or a positive int."""
    text = str(at).strip().lower()
    if text in ("end", "last", "尾", "藏尾", "-1"):
        return "end"
    if text in ("start", "head", "first", "头", "藏头"):
        return 1
    if re.fullmatch(r"\d{1,3}", text) and int(text) >= 1:
        return int(text)
    raise ConstraintError(f"acrostic position must be start, end or a column number from 1, got {at!r}")


class TemplateConstraint(Constraint):
    """``template``: fixed characters at given positions (``text=`` a template, or ``chars=`` + ``at=`` a column)."""

    name = "template"
    aliases = ("填字", "模板")
    option_names = ("text", "chars", "at")
    needs_form = True
    description = "fixed characters at any positions: text=□□明月□，… (□ _ * placeholders), or chars=春夏秋冬,at=end|N"

    def __init__(self, **options):
        super().__init__(**options)
        text, chars = self.text_option("text"), self.text_option("chars")
        if bool(text) == bool(chars):
            raise ConstraintError("constraint 'template' takes text= (a template) or chars= with at= (a column)")
        self.verses = read_template(text) if text else None
        self.chars = "".join(c for c in (chars or "") if verse_chars(c))
        self.at = acrostic_column(self.options.get("at", "end")) if chars else None
        if chars and not self.chars:
            raise ConstraintError("constraint 'template': chars= needs characters")

    # ------------------------------------------------------------------ the fixed characters
    def cells(self, form: Form) -> list[tuple[int, int, str]]:
        """``(line, col, char)`` of every fixed character under ``form``; ConstraintError if it does not fit."""
        lengths = form.lengths
        if self.verses is not None:
            shape = tuple(len(v) for v in self.verses)
            if shape != tuple(lengths):
                raise ConstraintError(
                    f"the template has {len(shape)} verses of {'+'.join(map(str, shape))} characters; {form.name} has "
                    f"{len(lengths)} of {'+'.join(map(str, lengths))}"
                )
            return [(i, j, c) for i, verse in enumerate(self.verses) for j, c in enumerate(verse) if c is not None]
        if len(self.chars) != len(lengths):
            raise ConstraintError(
                f"the acrostic {self.chars} has {len(self.chars)} characters; {form.name} has {len(lengths)} lines"
            )
        out = []
        for line, (char, n) in enumerate(zip(self.chars, lengths)):
            col = n - 1 if self.at == "end" else int(self.at) - 1
            if col >= n:
                raise ConstraintError(f"acrostic column {self.at} is past the end of line {line + 1} ({n} characters)")
            out.append((line, col, char))
        return out

    def restrict(self, ctx: PlanContext, variant) -> None:
        from tangpoet.decoding.constraints.plan import fix

        if ctx.allowed is None or ctx.form is None:
            return
        vocab = ctx.vocab
        sources = ctx.data.setdefault("fixed.source", {})
        for line, col, char in self.cells(ctx.form):
            if char not in vocab:
                raise VocabularyError(f"the model does not know {char!r} (in the template, line {line + 1} character {col + 1})")
            token = vocab.id(char)
            if not ctx.allowed[line, col, token]:
                ctx.data.setdefault("template.why", self._why(ctx, line, col, char))
                continue
            fix(ctx, line, col, token)
            sources.setdefault((line, col), "the template")

    def _why(self, ctx: PlanContext, line: int, col: int, char: str) -> str:
        """Why ``char`` may not stand at ``(line, col)``: what placed another character there, or the rules planned
        before the template (their pattern and the character's tone, from the prosody plugin when installed)."""
        where = f"「{char}」 cannot be character {col + 1} of line {line + 1}"
        token = ctx.fixed.get((line, col))
        if token is not None:
            source = (ctx.data.get("fixed.source") or {}).get((line, col), "another constraint")
            return f"{where}: {source} puts 「{ctx.vocab.tokens[token]}」 there"
        pattern = ctx.data.get("prosody.pattern")
        if pattern:
            tone = _tone(char)
            told = f" (it is {tone})" if tone else ""
            return f"{where} under the tone pattern {pattern}{told}"
        return f"{where} under the other constraints"

    def feasible(self, ctx: PlanContext, variant) -> str | None:
        return ctx.data.get("template.why")

    # ------------------------------------------------------------------ checking
    def check(self, text: str, form: Form | None) -> list[Violation]:
        if form is None:
            return []
        try:
            cells = self.cells(form)
        except ConstraintError as exc:
            return [Violation("template", None, None, str(exc))]
        ends = CI_VERSE_END if form.is_ci else "，。？！；"
        verses = [verse_chars(v) for v in split_verses(text, ends)]
        out = []
        for line, col, char in cells:
            got = verses[line][col] if line < len(verses) and col < len(verses[line]) else None
            if got != char:
                out.append(Violation(
                    "template", line, col,
                    f"第{line + 1}句第{col + 1}字应为「{char}」 (line {line + 1}, char {col + 1} should be {char})",
                ))
        return out


def _tone(char: str) -> str | None:
    """The character's 平仄 from the prosody plugin's public API (``tangpoet_rhyme.pingze``), or None without it."""
    try:
        from tangpoet_rhyme import pingze
    except ImportError:
        return None
    mark = pingze(char)
    return {"平": "平", "仄": "仄", "中": "平 or 仄", "?": "not in the 平水韵 data"}.get(mark)


def check_template_request(template: str | None, acrostic_at, acrostic: str) -> None:
    """``write(template=, acrostic_at=)`` checked before any work: the template's text, the column, an acrostic
    to place."""
    if template is not None and not isinstance(template, str):
        raise ConstraintError("the template must be text, e.g. □□明月□，□□□□□。□□□□□，□□□□□。")
    if template:
        read_template(template)
    if acrostic_at is not None:
        acrostic_column(acrostic_at)
        if not acrostic:
            raise ConstraintError("--acrostic-at places an acrostic: give it with --acrostic, e.g. --acrostic 春夏秋冬")


def template_request(constraints, form, acrostic: str, template: str | None, acrostic_at, seed: int):
    """``(constraints, form, acrostic)`` of a request with a template or an acrostic at another column: a
    :class:`TemplateConstraint` planned first (so that a rule it breaks names its position), the form read from the
    template's shape when none is given, and an acrostic not at the start moved into the template. Without a form
    an acrostic of 4 or 8 characters at another column is a 绝句 or 律诗 of 5 or 7 characters (the seed chooses)."""
    import numpy as np

    from tangpoet.decoding.constraints.form import detect_form
    from tangpoet.decoding.forms import get_form

    extra = []
    if template:
        if not form:
            found = detect_form(template_shape(template))
            if found is None:
                verses = read_template(template)
                raise ConstraintError(
                    f"the template's {len(verses)} verses of {'+'.join(str(len(v)) for v in verses)} characters match "
                    "no form: give --form, or write 4 or 8 verses of 5 or 7 characters"
                )
            form = found
        extra.append(TemplateConstraint(text=template))
    if acrostic_at is not None and acrostic_column(acrostic_at) != 1:
        if not form:
            if len(acrostic) not in (4, 8):
                raise ConstraintError(
                    f"an acrostic of {len(acrostic)} characters at another column needs a form (--form): without one "
                    "it takes 4 (绝句) or 8 (律诗)"
                )
            chars = (5, 7)[int(np.random.default_rng([seed, 35]).integers(2))]
            form = {(4, 5): "五言绝句", (4, 7): "七言绝句", (8, 5): "五言律诗", (8, 7): "七言律诗"}[(len(acrostic), chars)]
        extra.append(TemplateConstraint(chars=acrostic, at=acrostic_at))
        acrostic = ""
    if form is not None and not isinstance(form, Form):
        form = get_form(form)
    return (*extra, *constraints), form, acrostic
