"""Build the ci tune table (词谱) from the Song ci themselves: ``tangpoet/decoding/forms/data/tunes.json``.

    python tools/build_tune_table.py ../shared/data [--out tangpoet/decoding/forms/data/tunes.json]

Reads ``DATA/ci/*.json`` (全宋词: ``rhythmic`` = the tune, ``paragraphs``) and ``DATA/cilin/Cilin_Rhyme.json`` (词林正韵:
19 parts, each with its 平声 / 仄声 / 入声 characters), and writes, per tune with enough ci:

- its **variants** (又一体) by verse lengths — verses split at ``，。、？！；`` — each with its count, the share of
  the tune's ci, its marks and an example ci. A shape is a variant when at least ``MIN_VARIANT`` ci and at least
  ``MIN_VARIANT_SHARE`` of the tune's ci have it; rarer shapes are corpus noise (the report measures how many of
  them are one verse's length or one verse split away from a variant);
- per position the tone the poets keep: 平 where at least ``TONE_SHARE`` of the ci whose character there has one
  known tone (词林正韵; a character listed under both is not counted) have 平, 仄 likewise, else 中 (and 中 where
  fewer than ``MIN_TONE_SAMPLES`` are known), read from the variant's own ci (pooling all of a tune's ci of as
  many characters was tried: a tune's 平韵 and 仄韵 forms of one length then blur, e.g. 声声慢);
- the **rhyme sets**: two verse ends rhyme when, in at least ``RHYME_SHARE`` of the variant's ci, their characters
  share a 词林正韵 part; the sets are the connected groups of rhyming ends. Kind: one set, all 平: 平韵; all 仄: 仄韵;
  平 and 仄 in one set: 平仄通叶; several sets: 换韵;
- the parts Song ci **rhyme together** (邻部通押, e.g. 第六部 真文 with 第十一部 庚青): two parts whose ends are mixed
  in at least ``SHARED_RHYME`` of the rhyme sets of either (written into the plugin's rhyme book as ``shared``);
- the **stanza break** (阕): not marked in the data, so it is read from the shape: among the verse boundaries after
  a 。 where the two halves end alike (their last two verses or more of the same lengths — the usual 双调 form, in
  which the second stanza repeats the first one's close), the one that halves the characters most evenly. None
  where no such boundary exists (one-stanza tunes such as 如梦令).

It prints the thresholds' measurements and the table's agreement with the corpus (the share of each tune's ci that
fit one of its variants, the share of positions that agree with the tone pattern, the share of rhyme ends in the
ci's rhyme part). ``--report FILE`` writes these figures as JSON.
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import re
import sys
from pathlib import Path

from tangpoet.decoding.forms.tunes import shape_distance  # the checker's distance: one definition

MIN_TUNE_SHAPE = 10  # a tune enters the table when its commonest shape has at least this many ci
MIN_VARIANT = 5  # a shape is a variant when at least this many ci have it ...
MIN_VARIANT_SHARE = 0.02  # ... and at least this share of the tune's ci
TONE_SHARE = 0.75  # a position is 平 (仄) when at least this share of its known tones are 平 (仄), else 中
MIN_TONE_SAMPLES = 4  # fewer known tones than this at a position: 中
RHYME_SHARE = 0.5  # two verse ends rhyme when their characters share a part in at least this share of the ci
SHARED_RHYME = 0.05  # two parts rhyme together (邻部通押) when this share of the rhyme sets of either mix them
VERSE_END = "，。、？！；"
STOPS = "。？！"
LOST_TUNE = "失调名"  # 全宋词's "tune name lost": not a tune
CJK = re.compile(r"^[\u4e00-\u9fff\u3400-\u4dbf]+$")


def load_cilin(path: Path):
    """char -> set of tones {"平","仄"}; char -> set of part indices (0-based); part names."""
    data = json.loads(path.read_text(encoding="utf-8"))
    tones: dict[str, set] = collections.defaultdict(set)
    parts: dict[str, set] = collections.defaultdict(set)
    names = list(data)
    for k, name in enumerate(names):
        for tone, chars in data[name].items():
            t = "平" if tone == "平声" else "仄"
            for c in chars:
                tones[c].add(t)
                parts[c].add(k)
    return tones, parts, names


def load_ci(folder: Path):
    out, dropped = [], 0
    for name in sorted(glob.glob(str(folder / "*.json"))):
        for item in json.loads(Path(name).read_text(encoding="utf-8")):
            text = "".join(item.get("paragraphs") or [])
            tune = (item.get("rhythmic") or "").strip()
            verses = [v for v in re.split(f"([{VERSE_END}])", text)]
            chars = verses[0::2]
            marks = verses[1::2]
            body = [v for v in chars if v]
            if not tune or tune == LOST_TUNE or not body or len(marks) != len(body) or not all(CJK.match(v) for v in body):
                dropped += 1
                continue
            marks = "".join("。" if m in STOPS else "，" for m in marks)
            out.append({"tune": tune, "author": item.get("author", ""), "verses": body, "marks": marks,
                        "famous": "宋词三百首" in (item.get("tags") or [])})
    return out, dropped


def tone_of(char, tones):
    t = tones.get(char)
    return next(iter(t)) if t and len(t) == 1 else None


def tone_pattern(poems, shape, tones, shares_out):
    """Per position of ``shape``: 平, 仄 or 中, from ``poems`` read character by character (every ci of the tune
    with as many characters: editions place verse breaks differently, the tones stay)."""
    pattern = []
    flat = ["".join(p["verses"]) for p in poems]
    at = 0
    for line, n in enumerate(shape):
        verse = ""
        for col in range(n):
            known = [tone_of(text[at + col], tones) for text in flat]
            known = [t for t in known if t]
            if len(known) < MIN_TONE_SAMPLES:
                verse += "中"
                continue
            ping = known.count("平") / len(known)
            shares_out.append(ping)
            verse += "平" if ping >= TONE_SHARE else "仄" if ping <= 1 - TONE_SHARE else "中"
        pattern.append(verse)
        at += n
    return pattern


def rhyme_sets(poems, shape, parts, pair_shares_out):
    ends = range(len(shape))
    sets_of = {i: {i} for i in ends}
    for i in ends:
        for j in ends:
            if j <= i:
                continue
            both = [(parts.get(p["verses"][i][-1]), parts.get(p["verses"][j][-1])) for p in poems]
            both = [(a, b) for a, b in both if a and b]
            if len(both) < 3:
                continue
            share = sum(bool(a & b) for a, b in both) / len(both)
            pair_shares_out.append(share)
            if share >= RHYME_SHARE:
                merged = sets_of[i] | sets_of[j]
                for k in merged:
                    sets_of[k] = merged
    seen, out = set(), []
    for i in ends:
        group = sets_of[i]
        if len(group) > 1 and min(group) not in seen:
            seen.add(min(group))
            out.append(sorted(group))
    return out


def stanza_break(shape, marks):
    """The first verse of the second stanza, or None: among the verse boundaries after a 。 where both halves end
    alike (the same lengths of at least their last two verses), the one that halves the characters most evenly."""
    total, best = sum(shape), None
    for k in range(2, len(shape) - 1):
        if marks[k - 1] != "。":
            continue
        run = 0
        while run < min(k, len(shape) - k) and shape[k - 1 - run] == shape[-1 - run]:
            run += 1
        if run < 2:
            continue
        key = (abs(2 * sum(shape[:k]) - total), -run)
        if best is None or key < best[0]:
            best = (key, k)
    return best[1] if best else None


def merge_aliases(by_tune):
    """One tune per set of names: ``浣溪纱・浣溪沙`` and ``浣溪沙`` are one tune (``・`` joins a tune's other names).
    Its name is the one most ci carry first; the others are its aliases."""
    parent: dict[str, str] = {}

    def root(name):
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    for key in by_tune:
        names = key.split("・")
        for other in names[1:]:
            parent[root(other)] = root(names[0])
    merged, first = collections.defaultdict(list), collections.defaultdict(collections.Counter)
    for key, items in by_tune.items():
        r = root(key.split("・")[0])
        merged[r] += items
        for n in key.split("・"):
            first[r][n] += len(items) if n == key.split("・")[0] else 0
    names_of = {}
    for r in merged:
        ordered = [n for n, _ in sorted(first[r].items(), key=lambda kv: (-kv[1], kv[0]))]
        names_of[r] = ordered
    return merged, names_of


def build(data: Path):
    tones, parts, part_names = load_cilin(data / "cilin" / "Cilin_Rhyme.json")
    poems, dropped = load_ci(data / "ci")
    by_tune = collections.defaultdict(list)
    for p in poems:
        by_tune[p["tune"]].append(p)
    by_tune, names_of = merge_aliases(by_tune)
    tunes, stats = [], collections.Counter()
    tone_shares, pair_shares = [], []
    sets_in, mixed = collections.Counter(), collections.Counter()  # rhyme sets per part; sets mixing two parts
    rare_near = collections.Counter()
    per_tune = {}
    for tune, items in sorted(by_tune.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        shapes = collections.Counter(tuple(len(v) for v in p["verses"]) for p in items)
        if shapes.most_common(1)[0][1] < MIN_TUNE_SHAPE:
            stats["tunes_out"] += 1
            stats["ci_out"] += len(items)
            continue
        keep = [s for s, c in shapes.most_common() if c >= MIN_VARIANT and c >= MIN_VARIANT_SHARE * len(items)]
        for s, c in shapes.items():
            if s in keep:
                continue
            near = min(shape_distance(s, v) for v in keep)
            rare_near["one step from a variant" if near <= 1 else "further"] += c
        variants, fit, agree, fixed, rhymes_ok, rhymes_all = [], 0, 0, 0, 0, 0
        for shape in keep:
            members = [p for p in items if tuple(len(v) for v in p["verses"]) == shape]
            fit += len(members)
            marks = "".join(collections.Counter(m).most_common(1)[0][0] for m in zip(*(p["marks"] for p in members)))
            marks = marks[:-1] + "。"
            pattern = tone_pattern(members, shape, tones, tone_shares)
            sets = rhyme_sets(members, shape, parts, pair_shares)
            rhymes = []
            for group in sets:
                tone_set = {pattern[i][-1] for i in group} - {"中"}
                rhymes.append({"verses": group, "tone": "".join(sorted(tone_set, reverse=True)) or "中"})
                for p in members:  # the ci's rhyme part: the part most of the set's ends share
                    count = collections.Counter(k for i in group for k in parts.get(p["verses"][i][-1], ()))
                    if not count:
                        continue
                    best = count.most_common(1)[0][0]
                    known = [i for i in group if parts.get(p["verses"][i][-1])]
                    sets_in[best] += 1
                    for q in {q for i in known for q in parts[p["verses"][i][-1]]} - {best}:
                        if not any(best in parts[p["verses"][i][-1]] for i in known if q in parts[p["verses"][i][-1]]):
                            mixed[best, q] += 1  # a set of part best with an end of part q (and not of best)
                    rhymes_all += len(known)
                    rhymes_ok += sum(best in parts[p["verses"][i][-1]] for i in known)
            kinds = [r["tone"] for r in rhymes]
            kind = ("换韵" if len(rhymes) > 1 else "平韵" if kinds == ["平"] else "仄韵" if kinds == ["仄"]
                    else "平仄通叶" if kinds == ["平仄"] else "无韵" if not kinds else "中")
            stats["positions"] += sum(shape)
            stats["positions_fixed"] += sum(t != "中" for verse in pattern for t in verse)
            for p in members:
                for line, verse in enumerate(p["verses"]):
                    for col, c in enumerate(verse):
                        want = pattern[line][col]
                        t = tone_of(c, tones)
                        stats["chars"] += 1
                        stats["chars_known"] += t is not None
                        if want != "中" and t:
                            fixed += 1
                            agree += t == want
            example = next((p for p in members if p["famous"]), members[0])
            variants.append({
                "lengths": list(shape), "marks": marks, "count": len(members),
                "share": round(len(members) / len(items), 4), "tones": pattern, "rhymes": rhymes, "kind": kind,
                "stanza_break": stanza_break(shape, marks),
                "example": {"author": example["author"], "text": "".join(v + m for v, m in zip(example["verses"], example["marks"]))},
            })
        names = names_of[tune]
        per_tune[names[0]] = {"ci": len(items), "fit": round(fit / len(items), 4),
                              "tone_agreement": round(agree / fixed, 4) if fixed else None,
                              "rhyme_agreement": round(rhymes_ok / rhymes_all, 4) if rhymes_all else None}
        stats["ci_in"] += len(items)
        stats["ci_fit"] += fit
        stats["tone_fixed"] += fixed
        stats["tone_agree"] += agree
        stats["rhyme_all"] += rhymes_all
        stats["rhyme_ok"] += rhymes_ok
        tunes.append({"name": names[0], "aliases": names[1:], "count": len(items), "variants": variants})
    shared = {}
    for a in range(len(part_names)):
        for b in range(a + 1, len(part_names)):
            both = sets_in[a] + sets_in[b]
            if both:
                shared[part_names[a], part_names[b]] = (mixed[a, b] + mixed[b, a]) / both
    neighbours = [[a, b, round(x, 4)] for (a, b), x in sorted(shared.items(), key=lambda kv: -kv[1]) if x >= SHARED_RHYME]
    hist = collections.Counter(min(int(s * 10), 9) for s in tone_shares)
    pair_hist = collections.Counter(min(int(s * 10), 9) for s in pair_shares)
    report = {
        "ci_read": len(poems), "ci_dropped": dropped, "tunes": len(tunes), "tunes_left_out": stats["tunes_out"],
        "ci_in_table_tunes": stats["ci_in"], "ci_of_left_out_tunes": stats["ci_out"],
        "fit": round(stats["ci_fit"] / stats["ci_in"], 4),
        "tone_agreement": round(stats["tone_agree"] / stats["tone_fixed"], 4),
        "rhyme_agreement": round(stats["rhyme_ok"] / stats["rhyme_all"], 4),
        "positions_fixed": round(stats["positions_fixed"] / stats["positions"], 4),
        "chars_with_one_known_tone": round(stats["chars_known"] / stats["chars"], 4),
        "rare_shapes": dict(rare_near),
        "ping_share_histogram": {f"{k / 10:.1f}-{(k + 1) / 10:.1f}": hist[k] for k in range(10)},
        "rhyme_pair_share_histogram": {f"{k / 10:.1f}-{(k + 1) / 10:.1f}": pair_hist[k] for k in range(10)},
        "per_tune": per_tune,
        "shared_rhymes": neighbours,
        "shared_rhyme_shares_top": [[a, b, round(x, 4)] for (a, b), x in sorted(shared.items(), key=lambda kv: -kv[1])[:12]],
    }
    table = {
        "about": "ci tune table (词谱) mined from 全宋词 by tools/build_tune_table.py; rhyme parts: 词林正韵. "
                 "Derived from the chinese-poetry project (MIT) and chinese_word_rhyme (MIT): see LICENSE-data.",
        "rules": {"verse_end": VERSE_END, "min_tune_shape": MIN_TUNE_SHAPE, "min_variant": MIN_VARIANT,
                  "min_variant_share": MIN_VARIANT_SHARE, "tone_share": TONE_SHARE,
                  "min_tone_samples": MIN_TONE_SAMPLES, "rhyme_share": RHYME_SHARE},
        "tunes": tunes,
    }
    return table, report


def rhyme_book(data: Path, shared: list | None = None) -> dict:
    """The 词林正韵 rhyme book the prosody plugin ships for ci: per part its 平声 and 仄声 (上去, or 入声) characters."""
    raw = json.loads((data / "cilin" / "Cilin_Rhyme.json").read_text(encoding="utf-8"))
    parts = []
    for name, lists in raw.items():
        part = {"name": name}
        for tone, chars in lists.items():
            key = "平" if tone == "平声" else "仄"
            part[key] = part.get(key, "") + "".join(dict.fromkeys(chars))
            if tone == "入声":
                part["入声"] = True
        parts.append(part)
    return {"about": "词林正韵 (19 parts), from chinese_word_rhyme's Cilin_Rhyme.json (MIT: see LICENSE-cilin), "
                     "written by tools/build_tune_table.py; shared: the parts Song ci rhyme together (邻部通押), "
                     "measured on 全宋词 (chinese-poetry, MIT)", "parts": parts,
            "shared": [[a, b] for a, b, _ in (shared or [])]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="the shared data folder (holding ci/ and cilin/)")
    here = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=here / "tangpoet" / "decoding" / "forms" / "data" / "tunes.json")
    parser.add_argument("--report", type=Path, default=None, help="also write the figures as JSON here")
    parser.add_argument("--rhyme-book", type=Path,
                        default=here / "plugins" / "tangpoet-rhyme" / "src" / "tangpoet_rhyme" / "data" / "cilin.json",
                        help="where the prosody plugin's 词林正韵 rhyme book goes")
    args = parser.parse_args(argv)
    table, report = build(args.data)
    args.rhyme_book.parent.mkdir(parents=True, exist_ok=True)
    book = rhyme_book(args.data, report["shared_rhymes"])
    args.rhyme_book.write_text(json.dumps(book, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(table, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    if args.report:
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    short = {k: v for k, v in report.items() if k != "per_tune"}
    print(json.dumps(short, ensure_ascii=False, indent=1))
    print("tune                ci    fit   tones  rhymes")
    for name, row in list(report["per_tune"].items())[:20]:
        print(f"{name:<10}\t{row['ci']:>5} {row['fit']:>6.1%} {row['tone_agreement'] or 0:>6.1%} {row['rhyme_agreement'] or 0:>6.1%}")
    print(f"wrote {args.out} ({os.path.getsize(args.out):,} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
