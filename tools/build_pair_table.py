#!/usr/bin/env python
"""Build the pairing table of parallel couplets (对仗) that `parallel`, the `parallelism` scorer and `tangpoet check`
read: from the real 律诗 of a corpus, what pairs with what at one position of a middle couplet — characters and
classes learned from the data (tangpoet/decoding/couplets/build.py says how) — stored compactly with numpy.

The bundled table is built from the bundled model's training split of its corpus (read as `tangpoet fit` read it;
the held-out split is left out, so the figures printed are held out):

    python tools/build_pair_table.py ../shared/data/tang.txt                 # → tangpoet/decoding/couplets/data/tang_pairs.npz
    python tools/build_pair_table.py ../shared/data/tang.txt --search        # the grid behind the bundled choice
    python tools/build_pair_table.py ../shared/data/tang.txt --classes embeddings --search   # classes from the model

The threshold (the score from which a pair counts as paired) is chosen on the held-out poems: the one that best
separates real middle couplets from couplets whose second line comes from another poem (largest difference of the
paired shares), unless --threshold gives it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tangpoet" / "decoding" / "couplets" / "data" / "tang_pairs.npz"
THRESHOLDS = (0.0, 0.25, 0.5, 0.75, 1.0)


def embedding_features(model_path: str | None) -> dict:
    """char → the model's input embedding (the bundled model by default)."""
    from tangpoet.backend import ensure_backend

    ensure_backend()
    from tangpoet.model.poem_model import load_model
    from tangpoet.pretrained import default_model_path

    model = load_model(model_path or default_model_path())
    layer = next(l for l in model.layers if l.__class__.__name__ == "Embedding")
    weights = layer.get_weights()[0]
    return {token: weights[i] for i, token in enumerate(model.vocab.tokens)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+", help="corpus files or folders, as for `tangpoet fit`")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--script", default="keep", help="keep, simplified or traditional (as `fit --script`)")
    parser.add_argument("--val-split", type=float, default=0.05, help="held-out share (the bundled model's: 0.05)")
    parser.add_argument("--split-seed", type=int, default=0, help="the split's seed (the bundled model's: 0)")
    parser.add_argument("--classes", default="pairs", choices=("pairs", "embeddings"),
                        help="cluster characters by their pairing statistics or by a model's embeddings")
    parser.add_argument("--model", default=None, help="--classes embeddings: the model (default: the bundled one)")
    parser.add_argument("--num-classes", type=int, default=96)
    parser.add_argument("--beta", type=float, default=64.0, help="weight of the class prior (pseudo-pairs)")
    parser.add_argument("--min-pair", type=int, default=2,
                        help="pairs written fewer times are left to the class prior (a smaller file)")
    parser.add_argument("--threshold", type=float, default=None, help="paired from this score (default: chosen)")
    parser.add_argument("--search", action="store_true", help="print the held-out figures of a grid, write nothing")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tangpoet.data.corpus import read_corpus
    from tangpoet.data.split import training_split
    from tangpoet.decoding.couplets.build import build_table, evaluate

    began = time.perf_counter()
    poems, _ = read_corpus(args.corpus, script=args.script)
    train, val, _ = training_split(poems, args.val_split, args.split_seed)
    train, val = [p.content for p in train], [p.content for p in val]
    features = embedding_features(args.model) if args.classes == "embeddings" else None

    def held_out(table) -> tuple[float, dict]:
        """The best threshold on the held-out poems and the figures at it."""
        rows = {}
        for t in THRESHOLDS if args.threshold is None else (args.threshold,):
            table.threshold = t
            rows[t] = evaluate(table, val)
        best = max(rows, key=lambda t: rows[t]["middle"] - rows[t]["shuffled"])
        table.threshold = best
        return best, rows[best]

    def show(label: str, figures: dict) -> None:
        print(f"{label}: held-out log P(b|a) {figures['loglik']:.3f} nats · coverage {figures['coverage']:.1%} · "
              f"paired: middle couplets {figures['middle']:.1%}, first/last {figures['outer']:.1%}, "
              f"shuffled middle {figures['shuffled']:.1%} ({figures['couplets']} held-out couplets)", flush=True)

    if args.search:
        for k in (32, 96, 192):
            for beta in (8.0, 32.0, 64.0, 128.0):
                table = build_table(train, classes=k, beta=beta, min_pair=args.min_pair, features=features)
                t, figures = held_out(table)
                show(f"classes {k:>3} ({args.classes}) beta {beta:>5g} threshold {t:g}", figures)
        return 0
    table = build_table(train, classes=args.num_classes, beta=args.beta, min_pair=args.min_pair, features=features)
    t, figures = held_out(table)
    table.source.update({"corpus": [Path(c).name for c in args.corpus], "val_split": args.val_split,
                         "split_seed": args.split_seed, "classes_from": args.classes,
                         "heldout": {k: round(v, 4) for k, v in figures.items()}})
    show(f"{table}", figures)
    path = table.save(args.out)
    print(f"{len(train):,} training poems in {time.perf_counter() - began:.0f} s → {path} "
          f"({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
