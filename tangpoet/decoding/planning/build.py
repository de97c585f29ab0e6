"""Build theme statistics from a corpus: the words of its verses and which words its poems write beside each
character. The result is a :class:`~tangpoet.decoding.planning.table.ThemeTable` (small, stored with ``numpy.savez``).

Words: a two-character word is a character bigram inside a verse that the corpus writes often (``min_word``
times), far more often than chance (pointwise mutual information of its two characters ≥ ``min_pmi`` nats), and
that mostly (``wins_share`` of the time) holds together more strongly than the bigrams overlapping it there (its PMI at
least theirs): 故乡 is a word, 思故 (of 思故乡) is the seam of 思 and 故乡.
Keywords — what a plan may put in a line — are the words written at least ``min_keyword`` times, mostly
(``aligned`` of the time) where a verse's words begin (columns 0, 2, 3 of a five-character verse read 2+2+1 or
2+1+2; 0, 2, 4, 5 of a seven-character one) and mostly (``free`` of the time) *as a word*: no neighbour makes a
word with one of its characters (思故 in 低头思故乡 is the seam of 思 and 故乡, not a word).

Association: for a character ``c`` and a keyword ``w``, over poems (``df``: poems containing it),
``weight(w | c) = P(w | c) · log(P(w | c) / P(w))`` (positive part) — the share of ``c``'s poems that hold ``w``,
times how much more often they do than poems at large: the term of the mutual information of ``c`` and ``w`` that
their co-occurrence contributes. Words every poem uses (万里, 何处, 不知) score near 0 however common; rare words
need many poems to score. For each character (written in ``min_char`` poems) and each keyword (as a theme itself),
its ``top`` keywords are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

import numpy as np

LINE_MARKS = "，。？！；"
WORD_STARTS = {5: (0, 2, 3), 7: (0, 2, 4, 5)}


def verses(text: str) -> list[str]:
    out, current = [], []
    for char in text:
        if char in LINE_MARKS:
            if current:
                out.append("".join(current))
            current = []
        elif not char.isspace():
            current.append(char)
    if current:
        out.append("".join(current))
    return out


def count(poems: Iterable[str]):
    """One pass over the poems: character and bigram counts, bigrams at word starts, per-poem sets, the verses."""
    all_lines: list[str] = []
    chars: Counter = Counter()
    bigrams: Counter = Counter()
    aligned: Counter = Counter()
    poem_sets: list[tuple[frozenset, frozenset]] = []
    for text in poems:
        lines = verses(text)
        all_lines += lines
        seen_chars, seen_pairs = set(), set()
        for line in lines:
            chars.update(line)
            seen_chars.update(line)
            starts = WORD_STARTS.get(len(line), ())
            for j in range(len(line) - 1):
                pair = line[j : j + 2]
                bigrams[pair] += 1
                if j in starts:
                    aligned[pair] += 1
                seen_pairs.add(pair)
        poem_sets.append((frozenset(seen_chars), frozenset(seen_pairs)))
    return chars, bigrams, aligned, poem_sets, all_lines


def winning(lines: Iterable[str], pmi: dict[str, float]) -> Counter:
    """How often each bigram of ``pmi`` holds together at least as strongly as both bigrams overlapping it."""
    wins: Counter = Counter()
    for line in lines:
        for j in range(len(line) - 1):
            pair = line[j : j + 2]
            own = pmi.get(pair)
            if own is None:
                continue
            if j > 0 and pmi.get(line[j - 1 : j + 1], -math.inf) > own:
                continue
            if j + 2 < len(line) and pmi.get(line[j + 1 : j + 3], -math.inf) > own:
                continue
            wins[pair] += 1
    return wins


def free_counts(lines: Iterable[str], words: set[str], wanted: set[str]) -> Counter:
    """How often each bigram of ``wanted`` stands in ``lines`` with no neighbour making a word with it."""
    free: Counter = Counter()
    for line in lines:
        for j in range(len(line) - 1):
            pair = line[j : j + 2]
            if pair not in wanted:
                continue
            if j > 0 and line[j - 1] + pair[0] in words:
                continue
            if j + 2 < len(line) and pair[1] + line[j + 2] in words:
                continue
            free[pair] += 1
    return free


def build_table(
    poems: Iterable[str],
    *,
    min_word: int = 5,
    min_pmi: float = 1.0,
    wins_share: float = 0.5,
    min_keyword: int = 20,
    aligned: float = 0.8,
    free: float = 0.5,
    min_char: int = 20,
    min_co: int = 3,
    top: int = 32,
    top_word_keys: int = 16,
):
    """The :class:`ThemeTable` of ``poems`` (their texts)."""
    from tangpoet.decoding.planning.table import ThemeTable

    chars, bigrams, at_start, poem_sets, lines = count(poems)
    total = sum(chars.values())
    pmi = {}
    for pair, n in bigrams.items():
        if n >= min_word and pair[0] != pair[1]:
            pmi[pair] = math.log(n * total / (chars[pair[0]] * chars[pair[1]]))
    wins = winning(lines, pmi)
    words = [pair for pair, value in pmi.items() if value >= min_pmi and wins[pair] >= wins_share * bigrams[pair]]
    words.sort(key=lambda w: (-bigrams[w], w))
    keywords = [w for w in words if bigrams[w] >= min_keyword and at_start[w] >= aligned * bigrams[w]]
    alone = free_counts(lines, set(words), set(keywords))
    keywords = [w for w in keywords if alone[w] >= free * bigrams[w]]
    keyword_index = {w: i for i, w in enumerate(keywords)}
    # per poem: its characters and its keywords
    n_poems = len(poem_sets)
    char_df: Counter = Counter()
    word_df = np.zeros(len(keywords), dtype=np.int64)
    co: dict[str, Counter] = {}
    word_co: dict[int, Counter] = {}
    for poem_chars, pairs in poem_sets:
        ids = [keyword_index[p] for p in pairs if p in keyword_index]
        char_df.update(poem_chars)
        if not ids:
            continue
        word_df[ids] += 1
        for c in poem_chars:
            co.setdefault(c, Counter()).update(ids)
        for i in ids:
            word_co.setdefault(i, Counter()).update(ids)
    prior = np.maximum(word_df, 1) / n_poems  # P(w)

    def best(counts: Counter, df: int, limit: int, skip: int | None = None) -> list[tuple[int, float]]:
        scored = []
        for i, n in counts.items():
            if n < min_co or i == skip:
                continue
            share = n / df  # P(w | key)
            lift = math.log(share / prior[i])
            if lift > 0:
                scored.append((i, share * lift))
        scored.sort(key=lambda item: (-item[1], item[0]))
        return scored[:limit]

    keys, rows = [], []
    for c in sorted(c for c, n in char_df.items() if n >= min_char and c in co):
        keys.append(c)
        rows.append(best(co[c], char_df[c], top))
    for i, w in enumerate(keywords):
        if i in word_co and word_df[i] >= min_char:
            keys.append(w)
            rows.append(best(word_co[i], int(word_df[i]), top_word_keys, skip=i))
    return ThemeTable.from_rows(words, keywords, keys, rows, source={"poems": n_poems, "characters": total})
