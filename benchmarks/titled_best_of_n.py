"""Best-of-8 written to a title against untitled (seconds a poem, in one process after a warm-up): eight different
titles, 七言绝句, top-p, --candidates 8. Before the coherence anchors were cached per title (docs/benchmarks.md#titles-anchors)
a titled request sampled them once per candidate.

    KERAS_BACKEND=torch python benchmarks/titled_best_of_n.py MODEL    # a title-aware model file
"""
import sys
import time

import tangpoet
from tangpoet.writing import write
from tangpoet.model.poem_model import load_model
m = load_model(sys.argv[1])
write(m, title="秋月", form="七绝", candidates=8, num=1, seed=0, decoder="top-p")  # warm-up
titles = ["送友人", "秋思", "登高", "春望", "夜泊", "山居", "边塞", "怀古"]
t = time.perf_counter()
for i, title in enumerate(titles):
    write(m, title=title, form="七绝", candidates=8, num=1, seed=i, decoder="top-p")
a = (time.perf_counter() - t) / len(titles)
t = time.perf_counter()
for i, title in enumerate(titles):
    write(m, form="七绝", candidates=8, num=1, seed=i, decoder="top-p")
b = (time.perf_counter() - t) / len(titles)
print(tangpoet.__file__, f"titled best-of-8 {a:.2f} s/poem, untitled {b:.2f} s/poem")
