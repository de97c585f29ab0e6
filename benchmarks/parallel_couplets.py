"""Parallel couplets (对仗): how parallel the middle couplets of 律诗 are — real held-out Tang 律诗, the bundled model's
`--constraint regulated` 律诗 as they were (no 重字 rule, no 对仗), with the 重字 rule, and with `parallel` at several
strengths and strict — and what it costs in fluency.

- **parallel**: the share of positions of the middle couplets (lines 3–4, 5–6) that the pairing table reads as paired
  (tangpoet.decoding.couplets; the held-out poems were not in the table's training split);
- **fluency**: the model's mean log-probability per character (`<eos>` included), teacher-forced over the poem — the
  reader table's fluency (benchmarks/reader_quality.py); NLL/char is its negative;
- **重字**: the share of poems with a character written twice other than as 叠字; **check**: the share passing
  `tangpoet check` under the row's own constraint.

    python benchmarks/parallel_couplets.py --num 50                      # the table of docs/benchmarks.md
    python benchmarks/parallel_couplets.py --num 4 --rows today,strength=1  # a smoke run
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROWS = {  # label -> the regulated spec
    "today": "regulated:chongzi=no,parallel=no",
    "重字 rule": "regulated:parallel=no",
    "strength=0.5": "regulated:parallel=0.5",
    "strength=1": "regulated:parallel=1",
    "strength=2": "regulated:parallel=2",
    "strict": "regulated:parallel=strict",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num", type=int, default=50, help="poems per row")
    parser.add_argument("--form", default="五言律诗")
    parser.add_argument("--decoder", default="top-p")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", default=None, help="comma-separated row labels (default: all)")
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "tang.txt"))
    parser.add_argument("--json", default=None, help="write the figures and poems here")
    args = parser.parse_args(argv)

    from tangpoet.backend import ensure_backend

    backend = ensure_backend()
    from tangpoet.checking import check_poem, default_constraints
    from tangpoet.data.corpus import read_corpus
    from tangpoet.data.split import training_split
    from tangpoet.decoding.base import Candidate
    from tangpoet.decoding.couplets import chongzi, parallelism
    from tangpoet.decoding.couplets.build import lvshi_verses
    from tangpoet.decoding.forms import get_form
    from tangpoet.decoding.scoring import ScoringContext, get_scorer
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path
    from tangpoet.writing import write

    model = load_model(default_model_path())
    form = get_form(args.form)
    context = ScoringContext(StepDecoder.of(model))
    likelihood = get_scorer("likelihood")
    poems, _ = read_corpus([args.corpus])
    _, val, _ = training_split(poems, 0.05, 0)
    real = [p.content for p in val if (lvshi_verses(p.content) or [""])[0].__len__() == form.chars
            and not model.vocab.unknown(p.content)][: args.num]

    def candidates(texts):
        return [Candidate(text=t, tokens=tuple(int(x) for x in model.vocab.encode(t)), score=0.0, log_prob=0.0,
                          finished=True) for t in texts]

    def figures(texts, spec=None) -> dict:
        shares = [parallelism(t, form) for t in texts]
        row = {"n": len(texts), "parallel": float(np.mean(shares)),
               "fluency": float(np.mean(likelihood.score(candidates(texts), context))),
               "chongzi": float(np.mean([bool(chongzi(t)) for t in texts]))}
        if spec:
            constraints = default_constraints([spec])
            row["check"] = float(np.mean([check_poem(t, constraints, form).passed for t in texts]))
        return row

    print(f"parallel couplets — bundled model · backend {backend} · {form.name} · {args.decoder} · {args.num} poems "
          f"per row · seed {args.seed}", flush=True)
    head = "| poems | parallel (middle couplets) | fluency (log-prob/char) | 重字 | check | s/poem |"
    lines = [head, "|---|---|---|---|---|---|"]
    report = {"form": form.name, "decoder": args.decoder, "num": args.num, "backend": backend, "rows": []}

    def show(label, row, seconds=None):
        check = "-" if "check" not in row else f"{row['check']:.0%}"
        lines.append(f"| {label} | {row['parallel']:.1%} | {row['fluency']:.3f} | {row['chongzi']:.0%} | {check} | "
                     + ("-" if seconds is None else f"{seconds:.2f}") + " |")
        print(lines[-1], flush=True)

    row = figures(real)
    report["rows"].append({"label": "real held-out Tang", **row, "texts": real})
    show("real held-out Tang 律诗", row)
    wanted = args.rows.split(",") if args.rows else list(ROWS)
    for label in wanted:
        spec = ROWS[label]
        began = time.perf_counter()
        written = write(model, form=form.name, decoder=args.decoder, num=args.num, seed=args.seed, constraints=[spec])
        seconds = (time.perf_counter() - began) / max(len(written), 1)
        texts = [p.text for p in written]
        row = figures(texts, spec)
        report["rows"].append({"label": label, "spec": spec, **row, "seconds_per_poem": seconds, "texts": texts})
        show(f"`{spec}`", row, seconds)
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
