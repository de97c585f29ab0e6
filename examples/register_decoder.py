"""Add a decoder in-process (a notebook, a test, a script) — no package, no entry point.

``min-p`` sampling keeps the tokens whose probability is at least ``min_p`` times the most likely token's, then
samples among them. A simple strategy only overrides ``choose`` (here, through the sampling decoders' ``filter``
hook); constraints (``--form``, ``--acrostic``) have already masked the log-probs it receives.

    python examples/register_decoder.py [--backend jax|tensorflow|torch]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

from tangpoet.backend import ensure_backend

ensure_backend(sys.argv[sys.argv.index("--backend") + 1] if "--backend" in sys.argv else None)

from tangpoet.data.corpus import read_corpus  # noqa: E402
from tangpoet.decoding import DECODERS  # noqa: E402
from tangpoet.decoding.base import check_positive  # noqa: E402
from tangpoet.decoding.sampling import SampleDecoder  # noqa: E402
from tangpoet.training.trainer import TrainConfig, train  # noqa: E402
from tangpoet.writing import split_lines, write  # noqa: E402


@DECODERS.register("min-p")
class MinPDecoder(SampleDecoder):
    """Sample among tokens with probability ≥ ``min_p`` × the top token's (after the temperature)."""

    name = "min-p"
    options = ("min_p", "temperature")

    def __init__(self, min_p: float = 0.1, temperature: float = 1.0, **options):
        super().__init__(temperature=temperature, **options)
        self.min_p = check_positive("min-p", 0.1 if min_p is None else min_p, upper=1.0)

    def filter(self, scaled: np.ndarray) -> np.ndarray:
        threshold = scaled.max(axis=1, keepdims=True) + np.log(self.min_p)
        return np.where(scaled >= threshold, scaled, -np.inf)


POEMS = """静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。
春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。
登鹳雀楼:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。
江雪:千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。
"""

if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "poems.txt"
        corpus.write_text(POEMS, encoding="utf-8")
        poems, report = read_corpus(corpus)
        config = TrainConfig(cell="gru", num_layers=1, units=32, embedding_dim=16, epochs=15, lr=2e-2, val_split=0, batch_size=4)
        train(poems, report, config, Path(tmp) / "tiny.keras", verbose=0, log=lambda _: None)
        print("decoders:", ", ".join(DECODERS.names()))
        for seed in range(3):
            poem = write(Path(tmp) / "tiny.keras", form="五言绝句", decoder="min-p", min_p=0.2, seed=seed)[0]
            print(" / ".join(split_lines(poem.text)))
