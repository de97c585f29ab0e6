#!/usr/bin/env python
"""Polishing (``write --polish N``): poems written under ``regulated``, then revised N rounds under the same request.

For ``--num`` seeds it writes one poem per seed (``--form``, ``--decoder``, ``--constraint regulated``), polishes it
(:func:`tangpoet.revision.polish.polish_poems`, what ``write --polish`` runs) and prints, before → after:

- **fluency**: the model's mean log-probability per character, ``<eos>`` included (teacher-forced);
- **coherence**: the ``coherence`` scorer (nats/char) against the scorer's own anchors;
- **prosody**: the share passing ``tangpoet check`` (regulated);
- characters changed per poem, and seconds per poem for the polishing;

then ``--show`` poems side by side.

    KERAS_BACKEND=torch python benchmarks/polish.py --num 20 --rounds 3 --show 4
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--num", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--form", default="七言绝句")
    parser.add_argument("--decoder", default="top-p")
    parser.add_argument("--show", type=int, default=4)
    args = parser.parse_args(argv)

    from tangpoet.backend import ensure_backend

    backend = ensure_backend()
    import numpy as np

    from tangpoet.checking import check_poem, default_constraints
    from tangpoet.decoding.constraints import build_constraints
    from tangpoet.decoding.scoring import ScoringContext, get_scorer
    from tangpoet.decoding.stepper import StepDecoder
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import DEFAULT_MODEL
    from tangpoet.revision.polish import polish_poems
    from tangpoet.revision.scoring import token_scores
    from tangpoet.writing import write

    model = load_model(DEFAULT_MODEL)
    stepper = StepDecoder.of(model)
    coherence = get_scorer("coherence")
    constraints = default_constraints()

    def fluency(text: str) -> float:
        return float(np.mean(token_scores(stepper, model.vocab.encode(text))))

    def coherent(text: str) -> float:
        from tangpoet.decoding.base import Candidate

        ids = tuple(int(i) for i in model.vocab.encode(text))
        return float(coherence.score([Candidate(text, ids, 0.0, 0.0, True)], ScoringContext(stepper))[0])

    rows = []
    seconds = []
    load = os.getloadavg()
    for seed in range(args.num):
        (poem,) = write(model, form=args.form, decoder=args.decoder, seed=seed, constraints=["regulated"])
        built = build_constraints(model.vocab, form=args.form, constraints=["regulated"],
                                  rng=np.random.default_rng([seed, 12]))
        start = time.process_time()
        (polished,) = polish_poems(model, [poem], built, args.rounds, seed)
        seconds.append(time.process_time() - start)
        rows.append((poem.text, polished.text))
    before = [r[0] for r in rows]
    after = [r[1] for r in rows]

    def share(texts):
        return np.mean([check_poem(t, constraints).passed for t in texts])

    changed = np.mean([sum(a != b for a, b in zip(x, y)) for x, y in rows])
    print(f"{backend}: {args.num} {args.form} ({args.decoder}, regulated), polish {args.rounds} rounds")
    print(f"  fluency   {np.mean([fluency(t) for t in before]):.3f} → {np.mean([fluency(t) for t in after]):.3f} nats/char")
    print(f"  coherence {np.mean([coherent(t) for t in before]):.3f} → {np.mean([coherent(t) for t in after]):.3f}")
    print(f"  prosody   {share(before):.0%} → {share(after):.0%} pass tangpoet check")
    print(f"  changed   {changed:.2f} characters per poem; polishing {np.mean(seconds):.2f} CPU s per poem")
    for x, y in rows[: args.show]:
        print(f"    {x}\n  → {y}")
    after_load = os.getloadavg()
    print(f"load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, after {after_load[0]:.2f} {after_load[1]:.2f} {after_load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
