#!/usr/bin/env python
"""How many model-written anchors does the ``coherence`` scorer need? It compares each line's log-probability after
the poem's own earlier lines with that after an unrelated poem's; at write time the unrelated poems are the model's
own (deterministic per shape, :mod:`tangpoet.decoding.scoring.anchors`). This measures, on real held-out poems of one
form and the same poems with their lines shuffled between poems:

- the mean score of real and of shuffled poems, and how often a real poem outscores a shuffled one (AUC);
- the rank agreement (Spearman) of each setting with the score against ``--real`` real held-out anchors — what
  ``poem_quality.py --tables reader`` reports;
- the seconds per poem of scoring.

    python benchmarks/coherence_anchors.py --num 40                 # bundled model, 七言绝句
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
REPO = Path(__file__).resolve().parent.parent


def spearman(a, b) -> float:
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return float(np.corrcoef(ra, rb)[0, 1])


def auc(pos, neg) -> float:
    pos, neg = np.asarray(pos)[:, None], np.asarray(neg)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--corpus", default=str(REPO.parent / "shared" / "data" / "tang.txt"))
    parser.add_argument("--form", default="七言绝句")
    parser.add_argument("--num", type=int, default=40, help="real poems (and as many shuffled ones)")
    parser.add_argument("--counts", default="1,2,4", help="model-written anchor counts to try")
    parser.add_argument("--real", type=int, default=8, help="real held-out anchors of the reference score")
    args = parser.parse_args(argv)
    from tangpoet.backend import ensure_backend

    ensure_backend()
    from reader_quality import candidates_of, heldout_poems, shuffled

    from tangpoet.decoding.forms import get_form
    from tangpoet.decoding.scoring import ScoringContext
    from tangpoet.decoding.scoring.anchors import shape_of
    from tangpoet.decoding.scoring.coherence import CoherenceScorer
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path

    model = load_model(args.model or default_model_path())
    form = get_form(args.form)
    shape = "".join(f"{form.chars}{form.punctuation(i)}" for i in range(form.lines))
    ns = argparse.Namespace(heldout=None, val_split=None, split_seed=None, corpus=args.corpus)
    held = candidates_of([t for t in heldout_poems(model, ns) if shape_of(t) == shape], model.vocab)
    anchors, real = held[: args.real], held[args.real : args.real + args.num]
    fake = candidates_of(shuffled([c.text for c in real]), model.vocab)
    context = ScoringContext(StepDecoder.of(model))
    reference = CoherenceScorer(anchors=lambda s, c: [a.tokens for a in anchors])
    ref_real, ref_fake = reference.score(real, context), reference.score(fake, context)
    print(f"{args.form}: {len(real)} real held-out poems, {len(fake)} shuffled; reference: {len(anchors)} real anchors")
    print("| anchors | real | shuffled | AUC real > shuffled | Spearman with real anchors | s/poem |")
    print("|---|---|---|---|---|---|")
    print(f"| {len(anchors)} real | {np.mean(ref_real):+.3f} | {np.mean(ref_fake):+.3f} | {auc(ref_real, ref_fake):.3f} | 1 | - |")
    for count in [int(c) for c in args.counts.split(",")]:
        scorer = CoherenceScorer(count=count)
        scorer.score(real[:1], context)  # the anchors are written once per shape: not timed
        began = time.perf_counter()
        got_real, got_fake = scorer.score(real, context), scorer.score(fake, context)
        seconds = (time.perf_counter() - began) / (len(real) + len(fake))
        both_ref, both = np.concatenate([ref_real, ref_fake]), np.concatenate([got_real, got_fake])
        print(f"| {count} model-written | {np.mean(got_real):+.3f} | {np.mean(got_fake):+.3f} | "
              f"{auc(got_real, got_fake):.3f} | {spearman(both, both_ref):.3f} | {seconds:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
