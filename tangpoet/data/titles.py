"""Titles (题): cleaning a corpus's titles into subjects, and the title-aware sequence format.

**Cleaning** (:func:`clean_title`) keeps what names a subject:

* editorial notes in ``（…）`` are dropped; the brackets ``[] 〖〗 {} 《》 「」`` are dropped, their text kept; ``○``
  (a marker in 全宋诗's titles) separates parts;
* a title is read as space-separated parts: a serial part (``一``, ``二十五``, ``其二``, ``第三``, digits) is
  dropped, a part that names a 乐府 category (``杂曲歌辞``, ``郊庙歌辞``, …: it ends in ``歌辞``) is dropped when
  another part follows, and a part's trailing ``其N`` and ``N首`` count are dropped (``秋日二首 一`` → ``秋日``, ``帝京篇十首 三`` →
  ``帝京篇``, ``杂曲歌辞 竹枝 四`` → ``竹枝``); the parts left are joined;
* only CJK ideographs are kept; a title with a lost character (``□``) or longer than :data:`MAX_TITLE_LENGTH`
  characters (a preface, not a title) is no title.

**Generic titles** say nothing of the poem's subject (``句`` "lines", ``杂诗`` "miscellaneous", ``偈`` "gatha",
``即事`` "on the moment"). They are found from the corpus (:func:`generic_titles`): a title borne by at least
:data:`GENERIC_MIN_POEMS` poems, found in at least :data:`GENERIC_MIN_RUNS` places of the corpus (one poet's series
under one title is one place: its title names the occasion), whose poems are no more alike than any two poems of
the corpus (the mean pairwise similarity of their characters over the corpus's, the *lift*, below
:data:`GENERIC_MAX_LIFT`: poems called ``竹`` are 1.8 times more alike than two random Tang poems, poems called
``中秋月`` 3.1 times, poems called ``句`` 0.65 times), plus the handful in :data:`ALWAYS_GENERIC` (``无题``:
generic by meaning). A ci's title is its tune (词牌): never generic by the lift rule (a tune names the form the
model should write, not the subject).

**The sequence format** (``titles/1``): a titled poem is the token sequence ``<eos> T1 … Tk <bos> c1 … cn <eos>``;
an untitled one ``<bos> c1 … cn <eos>``, exactly what a model without titles trains on. ``<eos>`` before a title
reads as "the previous text ended; a title follows" (the document separator of language models): the format needs
no new vocabulary row, so a model file trained without titles can be fine-tuned into a title-aware one. The loss
covers the title's characters and its closing ``<bos>`` too, so the model can write a title itself (``--title
auto``); NLL figures of the content (``eval``, validation) count only ``c1 … cn <eos>``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from tangpoet.data.vocab import BOS_ID, EOS_ID, EOS

FORMAT = "titles/1"  # the sequence format's name, recorded in a title-aware model file
TITLE_START = EOS  # the special token that opens a title (recorded in the model file)
TITLE_START_ID = EOS_ID
TITLE_END_ID = BOS_ID  # the title ends where the poem begins
MAX_TITLE_LENGTH = 20  # characters of a cleaned title; longer ones are prefaces, trained as untitled poems
GENERIC_MIN_POEMS = 10  # a title this frequent is tested for being generic
GENERIC_MIN_RUNS = 3  # ... and found in this many places of the corpus (a series, 十咏 in a row, is one place)
GENERIC_MAX_LIFT = 1.0  # ... and is generic when its poems are no more alike than any two poems of the corpus
# The hand-written few: generic by meaning, too rare in some corpora for the lift rule to find.
ALWAYS_GENERIC = frozenset({"无题", "失题", "失调名", "句", "偈", "缺题"})

_NOTE = re.compile(r"（[^（）]*）|\([^()]*\)")
_BRACKETS = str.maketrans("", "", "[]〖〗{}《》「」『』")
_NUMERAL = "〇零一二三四五六七八九十百千两"
_SERIAL = re.compile(rf"^(?:其|第)?[{_NUMERAL}\d]+(?:首|章)?$")
_COUNT = re.compile(rf"[{_NUMERAL}\d]+首$")
_TRAILING_SERIAL = re.compile(rf"其[{_NUMERAL}\d]+$")  # 句其五 (全宋诗 writes the serial without a space)
_IDEOGRAPH = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_LOST = "□"
_MARKS = set("，。？！；、：")

# Why a title was not kept (TitleReport.dropped keys)
NONE = "no title"
LOST = "lost characters"
TOO_LONG = "too long"
GENERIC = "generic"


def _part(part: str) -> str:
    return _COUNT.sub("", _TRAILING_SERIAL.sub("", part))


def clean_title(title: str, *, max_length: int = MAX_TITLE_LENGTH) -> tuple[str, str | None]:
    """``(cleaned, None)`` or ``("", reason)``: the subject of ``title`` without serial numbers, counts and notes."""
    text = _NOTE.sub(" ", title or "").translate(_BRACKETS).replace("○", " ")  # 句  其一○ (全宋诗's marker)
    if _LOST in text:
        return "", LOST
    parts = [p for p in text.split() if p]
    parts = [p for p in parts if not _SERIAL.match(p)]
    if len(parts) > 1:
        parts = [p for p in parts[:-1] if not p.endswith("歌辞")] + parts[-1:]
    cleaned = "".join(_IDEOGRAPH.findall("".join(_part(p) for p in parts)))
    if not cleaned:
        return "", NONE
    if len(cleaned) > max_length:
        return "", TOO_LONG
    return cleaned, None


def tune_title(rhythmic: str) -> str:
    """A ci's title: its tune, the first of the names joined by ``・`` (``一剪梅・一翦梅`` → ``一剪梅``)."""
    return (rhythmic or "").split("・")[0].strip()


def _add(total: dict[str, float], chars: set[str], idf: dict[str, float]) -> None:
    """Add one poem's unit vector (its distinct characters weighted by ``idf``) to ``total``."""
    norm = math.sqrt(sum(idf[c] ** 2 for c in chars)) or 1.0
    for c in chars:
        total[c] = total.get(c, 0.0) + idf[c] / norm


def _mean_pair_similarity(total: dict[str, float], n: int) -> float:
    """The mean cosine similarity of all pairs of ``n`` unit vectors whose sum is ``total``: (‖Σv‖² − n) / (n(n − 1))."""
    return (sum(v * v for v in total.values()) - n) / (n * (n - 1)) if n > 1 else 0.0


def generic_titles(
    pairs: Iterable[tuple[str, str]],
    *,
    min_poems: int = GENERIC_MIN_POEMS,
    max_lift: float = GENERIC_MAX_LIFT,
    min_runs: int = GENERIC_MIN_RUNS,
) -> dict[str, float]:
    """The generic titles among ``pairs`` (cleaned title, content, in corpus order), each with its lift: how much
    more alike the poems bearing it are than two poems of the corpus (mean pairwise cosine similarity of
    idf-weighted character sets, over the corpus's). A title of at least ``min_poems`` poems, found in at least
    ``min_runs`` places (runs of consecutive poems: one poet's series of poems on assorted things under one title
    is one run, and names its occasion), with a lift below ``max_lift`` is generic. Two passes over ``pairs``;
    memory grows with the frequent titles' characters, not with the corpus."""
    pairs = pairs if isinstance(pairs, Sequence) else list(pairs)
    documents, counts, runs = Counter(), Counter(), Counter()
    previous = None
    for title, content in pairs:
        documents.update(set(content) - _MARKS)
        counts[title] += 1
        if title != previous:
            runs[title] += 1
        previous = title
    n = len(pairs)
    idf = {c: math.log(n / k) for c, k in documents.items()}
    corpus: dict[str, float] = {}
    by_title = {t: {} for t, k in counts.items() if t and k >= min_poems and runs[t] >= min_runs}
    for title, content in pairs:
        chars = set(content) - _MARKS
        _add(corpus, chars, idf)
        if title in by_title:
            _add(by_title[title], chars, idf)
    baseline = _mean_pair_similarity(corpus, n)
    found = {}
    if baseline <= 0:
        return found
    for title, total in by_title.items():
        lift = _mean_pair_similarity(total, counts[title]) / baseline
        if lift < max_lift:
            found[title] = round(lift, 3)
    return found


@dataclass
class TitleReport:
    """How the corpus's titles were cleaned: kept as they were, cleaned, dropped (and why), generic ones found."""

    poems: int = 0
    kept: int = 0  # titled poems
    cleaned: int = 0  # of the kept, titles that cleaning changed
    dropped: dict[str, int] = field(default_factory=dict)
    generic: dict[str, float] = field(default_factory=dict)  # title → lift (ALWAYS_GENERIC ones: their lift or 0)
    untitled_fraction: float = 0.0  # of the titled training poems, the share trained without their title
    untitled_drawn: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def format(self) -> str:
        dropped = ", ".join(f"{n} {why}" for why, n in self.dropped.items() if n) or "none"
        generic = "、".join(list(self.generic)[:12]) + (" …" if len(self.generic) > 12 else "")
        return (
            f"titles: {self.kept} of {self.poems} poems titled ({self.cleaned} cleaned); untitled: {dropped}"
            + (f"; generic: {generic}" if self.generic else "")
            + f"; {self.untitled_drawn} more trained without their title ({self.untitled_fraction:.0%})"
        )


def clean_titles(poems) -> tuple[list[str], TitleReport]:
    """The cleaned title of each of ``poems`` (``""``: untitled) and the report; generic titles are found among the
    shi of ``poems`` (a ci's tune is kept)."""
    report = TitleReport(poems=len(poems))
    dropped = Counter()
    titles = []
    for poem in poems:
        title, why = clean_title(poem.title)
        if why is not None:
            dropped[why] += 1
        titles.append(title)
    shi = [(t, p.content) for t, p in zip(titles, poems) if getattr(p, "kind", "shi") != "ci"]
    generic = generic_titles(shi)
    present = set(titles)
    for title in ALWAYS_GENERIC & present:
        generic.setdefault(title, 0.0)
    for i, (title, poem) in enumerate(zip(titles, poems)):
        if title in generic and (getattr(poem, "kind", "shi") != "ci" or title in ALWAYS_GENERIC):
            titles[i] = ""
            dropped[GENERIC] += 1
    report.dropped = {why: dropped[why] for why in (NONE, LOST, TOO_LONG, GENERIC) if dropped[why]}
    report.kept = sum(1 for t in titles if t)
    report.cleaned = sum(1 for t, p in zip(titles, poems) if t and t != p.title.strip())
    report.generic = dict(sorted(generic.items(), key=lambda item: (item[1], item[0])))
    return titles, report


def draw_untitled(titles: list[str], fraction: float, seed: int) -> tuple[list[str], int]:
    """``titles`` with a seeded ``fraction`` of the titled ones blanked (trained without their title, so the model
    still writes an untitled poem as well as one trained without titles); and how many were blanked."""
    titled = [i for i, t in enumerate(titles) if t]
    k = int(round(len(titled) * fraction))
    if k <= 0:
        return list(titles), 0
    rng = np.random.default_rng([seed, 33])
    chosen = set(rng.choice(len(titled), size=k, replace=False).tolist())
    out = list(titles)
    for j in chosen:
        out[titled[j]] = ""
    return out, k


def encode_sequence(vocab, title: str, content: str) -> np.ndarray:
    """The title-aware sequence of one poem, start token included, final ``<eos>`` not:
    ``<eos> title <bos> content`` (titled) or ``<bos> content`` (untitled)."""
    body = vocab.encode(content)
    if not title:
        return np.concatenate([[BOS_ID], body]).astype(np.int32)
    return np.concatenate([[TITLE_START_ID], vocab.encode(title), [TITLE_END_ID], body]).astype(np.int32)


def title_prefix(vocab, title: str) -> np.ndarray:
    """The tokens a poem written to ``title`` is conditioned on (before its ``<bos>``): ``<eos> title``."""
    return np.concatenate([[TITLE_START_ID], vocab.encode(title, strict=True)]).astype(np.int32)


def content_start(sequence: np.ndarray) -> int:
    """The index of the ``<bos>`` that opens the content in a sequence from :func:`encode_sequence`."""
    sequence = np.asarray(sequence)
    return int(np.flatnonzero(sequence == BOS_ID)[0])


def model_record(report: TitleReport | None = None) -> dict:
    """What a title-aware model file records about its titles (``metadata["titles"]``)."""
    record = {"format": FORMAT, "title_start": TITLE_START, "title_end": "<bos>", "max_length": MAX_TITLE_LENGTH}
    if report is not None:
        record.update(
            untitled_fraction=report.untitled_fraction,
            titled_poems=report.kept,
            dropped=dict(report.dropped),
            generic=list(report.generic)[:1000],
        )
    return record


def is_title_aware(metadata) -> bool:
    """Whether a model's metadata says it was trained with titles (format :data:`FORMAT`)."""
    titles = (metadata or {}).get("titles") if isinstance(metadata, dict) else None
    return isinstance(titles, dict) and titles.get("format") == FORMAT
