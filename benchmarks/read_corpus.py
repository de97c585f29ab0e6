#!/usr/bin/env python
"""Reading a corpus as ``tangpoet fit`` does: seconds and the process's peak memory.

    python benchmarks/read_corpus.py ../shared/data/tang.txt ../shared/data/song --script simplified

Prints what ``read_corpus`` kept and dropped, the wall time of the read (OpenCC conversion included), the process's
peak resident memory before and after the read (``ru_maxrss``: interpreter and imports, then the high-water mark the
read reached), and the size of the kept poems themselves as Python strings. The files are read one at a time and each
poem is cleaned and converted as it is read, so the peak is one file's JSON plus the kept poems.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tangpoet.data.corpus import read_corpus  # noqa: E402


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", nargs="+")
    p.add_argument("--script", default="keep", choices=["keep", "simplified", "traditional"])
    args = p.parse_args(argv)
    if args.script != "keep":
        from tangpoet.data import script

        script.convert("", args.script)  # OpenCC loaded before the clock starts, as fit does before reading
    before = peak_mb()
    start = time.perf_counter()
    poems, report = read_corpus(args.corpus, script=args.script)
    seconds = time.perf_counter() - start
    after = peak_mb()
    strings = sum(sys.getsizeof(p.content) + sys.getsizeof(p.title) for p in poems) / 2**20
    print(report.format())
    print(f"read in {seconds:.1f} s · peak RSS {before:.0f} MB before, {after:.0f} MB after "
          f"(+{after - before:.0f} MB) · the kept poems' strings {strings:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
