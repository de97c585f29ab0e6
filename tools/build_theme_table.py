#!/usr/bin/env python
"""Build the theme table `write --theme` reads: the corpus's words and, per character and keyword, the keywords its
poems write beside it (tangpoet/decoding/planning/build.py says how), stored compactly with numpy.

The bundled table is built from the bundled model's training corpus, read exactly as `tangpoet fit` read it:

    python tools/build_theme_table.py ../shared/data/tang.txt          # → tangpoet/decoding/planning/data/tang_themes.npz
    python tools/build_theme_table.py my_poems.txt --out my_themes.npz  # then: tangpoet write --theme 秋思 --theme-table my_themes.npz
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "tangpoet" / "decoding" / "planning" / "data" / "tang_themes.npz"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="+", help="corpus files or folders, as for `tangpoet fit`")
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--script", default="keep", help="keep, simplified or traditional (as `fit --script`)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tangpoet.data.corpus import read_corpus
    from tangpoet.decoding.planning.build import build_table

    began = time.perf_counter()
    poems, _ = read_corpus(args.corpus, script=args.script)
    table = build_table(p.content for p in poems)
    table.source.update({"corpus": [Path(c).name for c in args.corpus]})
    path = table.save(args.out)
    print(f"{table} from {len(poems):,} poems in {time.perf_counter() - began:.0f} s → {path} "
          f"({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
