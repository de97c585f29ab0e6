#!/usr/bin/env python
"""Regulated verse as an outside judge reads it: ``--num`` poems per form and decoder written with ``--constraint
regulated`` (seeds 0 … num-1, no begin text), each checked by pingshui-rhyme's ``PoemStructureChecker`` (rhyme and
meter, on the text converted to traditional characters by OpenCC — by phrase, as any reader's tool does). Prints the
pass rate per cell and every failing poem with the checker's reason.

    python benchmarks/outside_check.py --num 100                          # the bundled model, 4 forms × top-p, beam
    python benchmarks/outside_check.py --num 100 --constraint regulated:safe_ends=no --forms 七言律诗 --decoders top-p
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

FORMS = ("七言律诗", "五言律诗", "七言绝句", "五言绝句")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--num", type=int, default=100)
    parser.add_argument("--forms", default=",".join(FORMS))
    parser.add_argument("--decoders", default="top-p,beam")
    parser.add_argument("--constraint", default="regulated")
    args = parser.parse_args(argv)
    from tangpoet.backend import ensure_backend

    backend = ensure_backend()
    from poem_quality import outside_checker

    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path
    from tangpoet.writing import write

    check = outside_checker()
    if check is None:
        print("error: pingshui-rhyme and OpenCC are needed", file=sys.stderr)
        return 2
    from pingshui_rhyme import PoemStructureChecker
    from opencc import OpenCC

    judge, to_traditional = PoemStructureChecker(), OpenCC("s2t").convert
    path = Path(args.model) if args.model else default_model_path()
    model = load_model(path)
    print(f"outside check — model {path.name} · backend {backend} · --constraint {args.constraint} · {args.num} poems per cell")
    print("| form | decoder | pass (pingshui rhyme + meter) | s/poem |\n|---|---|---|---|")
    failures = []
    for form in args.forms.split(","):
        for decoder in args.decoders.split(","):
            passed, began = 0, time.perf_counter()
            for seed in range(args.num):
                options = {"beam_width": 5} if decoder == "beam" else {}
                [poem] = write(model, form=form, decoder=decoder, num=1, seed=seed, constraints=[args.constraint], **options)
                rhyme, meter = check(poem.text)
                passed += rhyme and meter
                if not (rhyme and meter):
                    text = to_traditional(poem.text)
                    why = judge.check_poem_rhyming(text)[1] if not rhyme else judge.check_poem_pingze_meter(text)[1]
                    failures.append(f"{form} {decoder} seed {seed}: {poem.text} — {why}")
            print(f"| {form} | {decoder} | {passed}/{args.num} | {(time.perf_counter() - began) / args.num:.2f} |", flush=True)
    for line in failures:
        print("  fail:", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
