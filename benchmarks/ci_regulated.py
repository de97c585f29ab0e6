#!/usr/bin/env python
"""Regulated ci with the bundled model: for the N commonest tunes of the tune table, K ci each with
``--constraint regulated`` under top-p and under beam, each checked by the project's checker (``tangpoet check``'s
``check_poem`` with the form and ``regulated``: the variant's shape, its kept tones, one 词林正韵 part per rhyme set).
By construction every one passes: this measures that it does, and how long writing takes.

Also checks the real Song ci of the same tunes (``--corpus``, default ``../shared/data/ci``) with the same checker
against their nearest variant, as the anchor: the share of real ci that pass whole.

    python benchmarks/ci_regulated.py                         # 20 tunes x 10 ci x (top-p, beam)
    python benchmarks/ci_regulated.py --tunes 4 --num 2 --show 1
"""

from __future__ import annotations

import argparse
import glob
import json
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tunes", type=int, default=20, help="the commonest N tunes")
    parser.add_argument("--num", type=int, default=10, help="ci per tune and decoder")
    parser.add_argument("--decoders", default="top-p,beam")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", type=int, default=0, help="print this many ci per tune and decoder")
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "ci"))
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--real-only", action="store_true", help="only the anchor: check the real ci")
    args = parser.parse_args(argv)

    from tangpoet.backend import ensure_backend

    ensure_backend()
    from tangpoet.checking import check_poem, default_constraints
    from tangpoet.decoding.constraints.form import ci_lengths
    from tangpoet.decoding.forms import find_tune, tunes
    from tangpoet.decoding.forms.tunes import nearest_variant
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path
    from tangpoet.writing import write

    constraints = default_constraints(["regulated"])
    chosen = tunes()[: args.tunes]
    rows, shown = [], []
    model = None if args.real_only else load_model(default_model_path())
    for tune in chosen if model is not None else ():
        for decoder in args.decoders.split(","):
            start = time.perf_counter()
            poems = write(model, form=tune.name, decoder=decoder, constraints=["regulated"], num=args.num,
                          seed=args.seed, **({"beam_width": args.num} if decoder == "beam" else {}))
            seconds = time.perf_counter() - start
            passed = sum(check_poem(p.text, constraints, tune.variants[0]).passed for p in poems)
            shape = sum(ci_lengths(p.text) == tune.variants[0].lengths for p in poems)
            rows.append({"tune": tune.name, "decoder": decoder, "written": len(poems), "shape": shape,
                         "passed": passed, "seconds": round(seconds, 2)})
            print(f"{tune.name}\t{decoder}\t{passed}/{len(poems)} pass, shape {shape}/{len(poems)}, {seconds:.1f} s", flush=True)
            for p in poems[: args.show]:
                shown.append({"tune": tune.name, "decoder": decoder, "text": p.text,
                              "real": tune.example(1)})
                print("   ", p.text)
    total = sum(r["written"] for r in rows)
    ok = sum(r["passed"] for r in rows)
    if total:
        print(f"written {total}, passed the checker {ok} ({ok / total:.1%})")

    # the anchor: real ci of the same tunes, each against its nearest variant
    real = Counter()
    names = {t.name for t in chosen}
    for name in sorted(glob.glob(str(Path(args.corpus) / "*.json"))):
        for item in json.loads(Path(name).read_text(encoding="utf-8")):
            tune = find_tune((item.get("rhythmic") or "").split("・")[0])
            text = "".join(item.get("paragraphs") or [])
            if tune is None or tune.name not in names or "□" in text:
                continue
            form = nearest_variant(tune, ci_lengths(text))
            report = check_poem(text, constraints, form)
            real["ci"] += 1
            real["pass"] += report.passed
            real["shape"] += not any(v.rule == "length" for v in report.violations)
            real["tone_faults"] += sum(v.rule == "tone" for v in report.violations)
            real["rhyme_faults"] += sum(v.rule == "rhyme" for v in report.violations)
    print(f"real ci of these tunes: {real['ci']}, whole pass {real['pass'] / real['ci']:.1%}, "
          f"shape of a variant {real['shape'] / real['ci']:.1%}, "
          f"{real['tone_faults'] / real['ci']:.2f} tone and {real['rhyme_faults'] / real['ci']:.2f} rhyme faults a ci")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "real": dict(real), "shown": shown}, ensure_ascii=False,
                                              indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
