"""Train a tiny model on a few poems, evaluate it, and write with every built-in decoder.

    python examples/train_and_write.py [--backend jax|tensorflow|torch]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from tangpoet.backend import ensure_backend

ensure_backend(sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else None)

from tangpoet.data.corpus import read_corpus  # noqa: E402
from tangpoet.evaluate import evaluate  # noqa: E402
from tangpoet.model.poem_model import load_model  # noqa: E402
from tangpoet.training.trainer import TrainConfig, train  # noqa: E402
from tangpoet.writing import split_lines, write  # noqa: E402

POEMS = """静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。
春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
登鹳雀楼:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。
江雪:千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。
"""

with tempfile.TemporaryDirectory() as tmp:
    corpus = Path(tmp) / "poems.txt"
    corpus.write_text(POEMS, encoding="utf-8")
    poems, report = read_corpus(corpus)
    print(report.format())
    config = TrainConfig(cell="gru", num_layers=1, units=64, embedding_dim=32, epochs=30, lr=1e-2, val_split=0, batch_size=4)
    train(poems, report, config, Path(tmp) / "tiny.keras", verbose=0)
    model = load_model(Path(tmp) / "tiny.keras")
    print(evaluate(model, [model.vocab.encode(p.content) for p in poems]).format())
    for decoder in ("greedy", "sample", "top-k", "top-p", "beam"):
        best = write(model, begin="床", form="五言绝句", decoder=decoder, seed=1)[0]
        print(f"{decoder:>7}: {' / '.join(split_lines(best.text))}")
