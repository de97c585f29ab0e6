#!/usr/bin/env python
"""Restore: can ``tangpoet check --suggest`` give a real poem back its poet's character?

From the bundled model's **held-out** Tang poems (the seeded split recorded in the model file, the one its held-out
NLL is measured on: docs/model-file.md) it keeps the regulated ones (4 or 8 verses of 5 or 7 characters that pass
``tangpoet check``), and for each: draws a position whose tone the pattern fixes, replaces the poet's character by a
random character of the other tone (so that the checker flags that very position), runs the suggest step
(:func:`tangpoet.revision.suggest_report`) and looks for the poet's character among the suggestions for that
position. It prints the share where it comes first and in the top 5, and the time per poem (the suggest step, the
model loaded and warm), per backend.

    KERAS_BACKEND=torch python benchmarks/restore.py --poems 100
    KERAS_BACKEND=jax   python benchmarks/restore.py --poems 100 --json restore-jax.json
    KERAS_BACKEND=torch python benchmarks/restore.py --poems 40 --sweep      # schedules side by side (the default's choice)

The machine's load changes the times: note ``uptime`` beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

FORMS = ("五言绝句", "七言绝句", "五言律诗", "七言律诗")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tang.txt"))
    parser.add_argument("--model", default=None, help="model file (default: the bundled model)")
    parser.add_argument("--poems", type=int, default=100, help="poems to break and restore")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--k", type=int, default=5, help="suggestions per broken rule")
    parser.add_argument("--sweep", action="store_true", help="compare several rescoring schedules on the same poems")
    parser.add_argument(
        "--schedule", action="append", default=[], metavar="FIRST[,AFTER:KEEP...]",
        help="also run this schedule, e.g. 256,1:64,3:16,8:8 (repeatable)",
    )
    parser.add_argument("--json", default=None, help="write the figures to this file")
    parser.add_argument("--show", type=int, default=0, help="print this many restored poems")
    return parser.parse_args(argv)


def held_out_regulated(model, corpus: str, constraints) -> list:
    """The model's held-out poems (its recorded split) that are regulated verse and pass the checker."""
    from tangpoet.checking import Poem, check_poem
    from tangpoet.data.corpus import read_corpus
    from tangpoet.data.split import corpus_fingerprint, split_poems

    split = model.metadata["split"]
    poems, _ = read_corpus(corpus)
    if corpus_fingerprint(poems) != split["fingerprint"]:
        raise SystemExit(f"{corpus} is not the corpus the model was trained on (fingerprint differs)")
    _, held_out = split_poems(poems, model.metadata["hyperparameters"]["val_split"], split["seed"])
    out = []
    for poem in held_out:
        text = poem.content
        report = check_poem(Poem(poem.title, text, text), constraints)
        if report.form is not None and report.form.name in FORMS and report.passed:
            if not model.vocab.unknown(text):
                out.append(report)
    return out


def break_one(report, constraints, vocab, rng, table):
    """The poem with one fixed-tone character replaced by a random character of the other tone, the checker
    flagging that position: ``(broken report, line, col, poet's character)``, or None after a few tries."""
    from tangpoet.checking import Poem, check_poem
    from tangpoet.revision.mending import positions_of, replace

    text = report.poem.text
    sites = positions_of(text)
    chars = len([s for s in sites if s[0] == 0])
    fixed = list(range(1, chars - 1, 2)) + [chars - 1]
    level = [c for c in vocab.tokens[4:] if table.tone(c) == "平"]
    oblique = [c for c in vocab.tokens[4:] if table.tone(c) == "仄"]
    for _ in range(20):
        line, col, index = sites[rng.integers(len(sites))]
        if col not in fixed:
            continue
        poet = text[index]
        tone = table.tone(poet)
        if tone not in ("平", "仄"):
            continue
        pool = oblique if tone == "平" else level
        char = pool[rng.integers(len(pool))]
        if char in text:
            continue
        broken = replace(text, index, char)
        checked = check_poem(Poem(report.poem.title, broken, broken), constraints, report.form)
        if any(v.line == line and v.col == col for v in checked.violations):
            return checked, line, col, poet
    return None


def run(model, cases, constraints, schedule, k):
    from tangpoet.revision import suggest_report

    first = top = 0
    times, cpu = [], []
    shown = []
    for checked, line, col, poet in cases:
        start, start_cpu = time.perf_counter(), time.process_time()
        mends = suggest_report(model, checked, constraints, k, schedule=schedule, pairs=False)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        offered = []
        for mend in mends:
            for option in mend.options:
                change = option.changes[0]
                if (change.line, change.col) == (line, col) and change.char not in offered:
                    offered.append(change.char)
        offered = offered[:k]
        first += bool(offered) and offered[0] == poet
        top += poet in offered
        shown.append((checked.poem.text, line, col, poet, offered))
    n = len(cases)
    return {
        "poems": n,
        "first": first / n,
        "top": top / n,
        "seconds_per_poem": sum(times) / n,
        "max_seconds": max(times),
        "cpu_seconds_per_poem": sum(cpu) / n,
    }, shown


def main(argv=None) -> int:
    args = parse_args(argv)
    import numpy as np

    from tangpoet.backend import ensure_backend

    backend = ensure_backend()
    from tangpoet.checking import default_constraints
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import DEFAULT_MODEL
    from tangpoet.revision import Schedule
    from tangpoet_rhyme import rhyme_table

    model = load_model(args.model or DEFAULT_MODEL)
    constraints = default_constraints()
    pool = held_out_regulated(model, args.corpus, constraints)
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(pool))
    table = rhyme_table()
    cases = []
    for i in order:
        case = break_one(pool[i], constraints, model.vocab, rng, table)
        if case is not None:
            cases.append(case)
        if len(cases) == args.poems + 2:
            break
    warm, cases = cases[:2], cases[2:]
    from tangpoet.revision import suggest_report

    for checked, *_ in warm:  # compile / first-call costs out of the timings
        suggest_report(model, checked, constraints, args.k, pairs=False)
    schedules = {"default": Schedule()}
    if args.sweep:
        schedules.update({
            "64 | 2: 24 | 6: 10": Schedule(first=64, stages=((2, 24), (6, 10))),
            "128 | 1: 24 | 4: 8": Schedule(first=128, stages=((1, 24), (4, 8))),
            "192 | 1: 32 | 4: 8": Schedule(first=192, stages=((1, 32), (4, 8))),
            "256 | 1: 32 | 3: 12 | 8: 6": Schedule(first=256, stages=((1, 32), (3, 12), (8, 6))),
            "128 | 1: 24 | 4: 8, window 12": Schedule(first=128, stages=((1, 24), (4, 8)), window=12),
            "512 | 2: 128 | 6: 32": Schedule(first=512, stages=((2, 128), (6, 32))),
        })
    for spec in args.schedule:
        first, *stages = spec.split(",")
        schedules[spec] = Schedule(first=int(first), stages=tuple(tuple(int(x) for x in st.split(":")) for st in stages))
    results = {}
    uptime = os.getloadavg()
    for name, schedule in schedules.items():
        figures, shown = run(model, cases, constraints, schedule, args.k)
        results[name] = figures
        print(
            f"{backend:10s} {name:30s} poems {figures['poems']:4d}  first {figures['first']:6.1%}  top {args.k} "
            f"{figures['top']:6.1%}  {figures['seconds_per_poem']:.3f} s/poem (max {figures['max_seconds']:.2f}), "
            f"CPU {figures['cpu_seconds_per_poem']:.3f} s/poem",
            flush=True,
        )
        for text, line, col, poet, offered in shown[: args.show]:
            print(f"    {text}  line {line + 1} char {col + 1}: poet {poet}, offered {''.join(offered) or '-'}")
    after = os.getloadavg()
    print(f"load average (1, 5, 15 min) before {uptime[0]:.2f} {uptime[1]:.2f} {uptime[2]:.2f}, "
          f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; {os.cpu_count()} CPUs")
    if args.json:
        Path(args.json).write_text(json.dumps({"backend": backend, "pool": len(pool), "results": results,
                                                "load": [uptime, after]}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
