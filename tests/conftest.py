"""Shared fixtures. The backend is whatever KERAS_BACKEND selects (tox sets it per env)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tangpoet.backend import ensure_backend

BACKEND = ensure_backend()
BACKEND_MARKERS = ("tensorflow", "torch", "jax")
SHARED_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tang.txt"

POEMS = [
    "静夜思:床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "春晓:春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "登鹳雀楼:白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "相思:红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "江雪:千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "鹿柴:空山不见人，但闻人语响。返景入深林，复照青苔上。",
    "枫桥夜泊:月落乌啼霜满天，江枫渔火对愁眠。姑苏城外寒山寺，夜半钟声到客船。",
    "早发白帝城:朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
]


def _gpu_visible(backend: str) -> bool:
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    import jax

    return any(d.platform == "gpu" for d in jax.devices())


def pytest_configure(config):
    if os.environ.get("TANGPOET_REQUIRE_GPU") == "1" and not _gpu_visible(BACKEND):
        raise pytest.UsageError(f"TANGPOET_REQUIRE_GPU=1 but the {BACKEND} backend sees no GPU")


def pytest_report_header(config):
    from _writing_helpers import PROPERTY_SEED, property_seed

    seed = property_seed()
    shown = "unset: derandomized, the same examples every run" if seed is None else f"{seed} (replay: {PROPERTY_SEED}={seed})"
    return f"property tests: {PROPERTY_SEED}={shown}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        wanted = [m for m in BACKEND_MARKERS if item.get_closest_marker(m)]
        if wanted and BACKEND not in wanted:
            item.add_marker(pytest.mark.skip(reason=f"only on {', '.join(wanted)} (running on {BACKEND})"))


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "poems.txt"
    path.write_text("\n".join(POEMS) + "\n", encoding="utf-8")
    return path



@pytest.fixture(scope="session")
def poem_lines() -> list[str]:
    return list(POEMS)
