"""Ci tunes (词牌) as data: the table mined from 21,053 Song ci by ``tools/build_tune_table.py`` (``data/tunes.json``,
licence notice in ``data/LICENSE-data``). Each tune has variants (又一体) by verse lengths, the commonest first; a
variant is a :class:`~tangpoet.decoding.forms.shi.Form` with per-verse lengths, marks, a tone pattern (平/仄/中) and
rhyme sets (read by 词林正韵 part)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from tangpoet.decoding.forms.shi import Form

TABLE_FILE = "tunes.json"


@dataclass(frozen=True)
class Tune:
    name: str
    aliases: tuple[str, ...]
    count: int  # Song ci of this tune in the corpus
    variants: tuple[Form, ...]  # the commonest shape first

    def variant(self, number: int | None = None) -> Form:
        """Variant ``number`` (1 = the commonest, the default)."""
        from tangpoet.errors import UnknownNameError

        number = 1 if number is None else int(number)
        if not 1 <= number <= len(self.variants):
            raise UnknownNameError(
                f"{self.name} has {len(self.variants)} variant{'s' if len(self.variants) != 1 else ''} "
                f"(1-{len(self.variants)}), not {number}"
            )
        return self.variants[number - 1]

    def example(self, number: int = 1) -> dict:
        return table_data()["examples"][(self.name, number)]


@lru_cache(maxsize=1)
def table_data() -> dict:
    raw = json.loads(resources.files("tangpoet.decoding.forms").joinpath("data", TABLE_FILE).read_text("utf-8"))
    tunes, examples = [], {}
    for item in raw["tunes"]:
        variants = []
        for number, v in enumerate(item["variants"], 1):
            lengths = tuple(v["lengths"])
            variants.append(Form(
                item["name"], len(lengths), max(lengths), tuple(item["aliases"]), verse_lengths=lengths,
                marks=v["marks"], variant=number, tones=tuple(v["tones"]),
                rhymes=tuple((tuple(r["verses"]), r["tone"]) for r in v["rhymes"]),
                stanza_break=v.get("stanza_break"), count=int(v["count"]), kind=v.get("kind", ""),
            ))
            examples[(item["name"], number)] = v.get("example", {})
        tunes.append(Tune(item["name"], tuple(item["aliases"]), int(item["count"]), tuple(variants)))
    by_name: dict[str, Tune] = {}
    for tune in tunes:
        by_name.setdefault(tune.name, tune)
    for tune in tunes:
        for alias in tune.aliases:
            by_name.setdefault(alias, tune)
    return {"tunes": tuple(tunes), "by_name": by_name, "examples": examples, "rules": raw.get("rules", {})}


def tunes() -> tuple[Tune, ...]:
    """Every tune of the table, the tune with most ci first."""
    return table_data()["tunes"]


def tune_by_name(name: str) -> Tune | None:
    """The tune called ``name`` as written (its name or one of its other names), or None;
    :func:`tangpoet.decoding.forms.find_tune` also reads traditional characters."""
    return table_data()["by_name"].get(str(name).strip())


def tune_names() -> list[str]:
    """Each tune's name (the name the table and the listing use), the tune with most ci first."""
    return [tune.name for tune in tunes()]


def tune_aliases() -> list[str]:
    """The tunes' other names (浣溪纱, 浣沙溪 … for 浣溪沙), each once, in the order of :func:`tune_names`."""
    return list(dict.fromkeys(alias for tune in tunes() for alias in tune.aliases))


def shape_distance(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Edit distance between two shapes (verse lengths): a verse's length changed, a verse split in two or two
    merged, a verse more or fewer each cost 1."""
    n, m = len(a), len(b)
    d = [[i + j if i == 0 or j == 0 else 0 for j in range(m + 1)] for i in range(n + 1)]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            best = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and a[i - 2] + a[i - 1] == b[j - 1]:
                best = min(best, d[i - 2][j - 1] + 1)
            if j > 1 and b[j - 2] + b[j - 1] == a[i - 1]:
                best = min(best, d[i - 1][j - 2] + 1)
            d[i][j] = best
    return d[n][m]


def breaks_moved(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """Two shapes of the same number of characters: how many verse breaks stand elsewhere (half the breaks that
    are in one shape only, rounded up)."""
    def offsets(shape):
        out, at = set(), 0
        for n in shape:
            at += n
            out.add(at)
        return out

    return (len(offsets(a) ^ offsets(b)) + 1) // 2


def _closeness(form: Form, lengths: tuple[int, ...]) -> tuple:
    lengths = tuple(lengths)
    if sum(lengths) == form.total_chars:
        return (0, breaks_moved(lengths, form.lengths), -form.count)
    return (1, shape_distance(lengths, form.lengths), -form.count)


def nearest_variant(tune: Tune, lengths: tuple[int, ...]) -> Form:
    """The variant of ``tune`` a ci of verse ``lengths`` is closest to: the same shape; else the same number of
    characters (a verse break placed elsewhere), fewest shape edits; else fewest shape edits; ties: the commoner."""
    return min(tune.variants, key=lambda form: _closeness(form, tuple(lengths)))


@lru_cache(maxsize=1)
def stanza_splits() -> frozenset[tuple[int, int]]:
    """``(characters of the first stanza, characters in all)`` of every variant with a stanza (阕) break: what a ci
    pasted with a blank line between its stanzas can add up to (a cheap test before reading it)."""
    return frozenset((sum(f.lengths[: f.stanza_break]), f.total_chars) for t in tunes() for f in t.variants if f.stanza_break)


def two_stanza_variant(lengths: tuple[int, ...], first_chars: int, tune: Tune | None = None) -> Form | None:
    """The variant a ci of verse ``lengths`` is when read as two stanzas, the first of ``first_chars`` characters: of
    ``tune`` (its variant nearest the shape) or, without one, the variant its shape is (:func:`detect_variant`) —
    provided that variant's stanza break falls exactly there and it has as many characters in all; else None."""
    lengths = tuple(lengths)
    form = nearest_variant(tune, lengths) if tune is not None else detect_variant(lengths)
    if form is None or not form.stanza_break or sum(lengths) != form.total_chars:
        return None
    return form if sum(form.lengths[: form.stanza_break]) == first_chars else None


MAX_DETECT_MOVED = 3  # without a title: a variant of the same number of characters, at most this many breaks moved


def detect_variant(lengths: tuple[int, ...]) -> Form | None:
    """The tune variant whose shape a ci without a title has: the same verse lengths (the commonest such variant of
    all tunes), else — unless every verse has one length, as a shi's — one of the same number of characters with at
    most :data:`MAX_DETECT_MOVED` verse breaks elsewhere (editions punctuate ci differently); or None."""
    lengths = tuple(lengths)
    if len(lengths) < 2:
        return None
    uniform = len(set(lengths)) == 1  # verses all of one length (a shi's look): the very shape only
    best = None
    for tune in tunes():
        for form in tune.variants:
            if form.total_chars != sum(lengths):
                continue
            key = _closeness(form, lengths)
            if key[1] <= (0 if uniform else MAX_DETECT_MOVED) and (best is None or key < best[0]):
                best = (key, form)
    return best[1] if best else None
