"""The CLI: fit and eval end to end, and every user error as one line with exit status 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import keras
import pytest
from click.testing import CliRunner

from tangpoet import backend as backend_module
from tangpoet.cli import main

TINY = ["--layers", "1", "--units", "8", "--embedding-dim", "4", "--batch-size", "4", "--epochs", "1", "--val-split", "0.25"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus_file):
    out = tmp_path_factory.mktemp("cli") / "m.keras"
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), *TINY])
    assert result.exit_code == 0, result.output
    return out, result


def assert_user_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_fit_prints_the_corpus_report_and_saves(trained):
    out, result = trained
    assert "read 8 poems" in result.output and "kept 8" in result.output
    assert f"saved {out}" in result.output and "validation NLL" in result.output
    assert out.is_file()


def test_eval_reports_nll_bits_and_perplexity(trained, corpus_file):
    out, _ = trained
    result = CliRunner().invoke(main, ["eval", str(corpus_file), "--model", str(out), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output.strip().splitlines()[-1])
    assert data["characters"] == sum(len(line.strip().split(":", 1)[1]) + 1 for line in open(corpus_file, encoding="utf-8"))
    assert data["nll"] > 0 and data["perplexity"] == pytest.approx(2.718281828 ** data["nll"], rel=1e-6)
    text = CliRunner().invoke(main, ["eval", str(corpus_file), "--model", str(out)])
    assert "nats/char" in text.output and "perplexity" in text.output


def test_missing_corpus(tmp_path):
    result = CliRunner().invoke(main, ["fit", str(tmp_path / "nope.txt"), "--out", str(tmp_path / "m.keras")])
    assert_user_error(result, "not found", "nope.txt")


def test_empty_corpus_after_cleaning(tmp_path):
    corpus = tmp_path / "junk.txt"
    corpus.write_text("标题:床前□月光\n短:一二\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["fit", str(corpus), "--out", str(tmp_path / "m.keras"), *TINY])
    assert_user_error(result, "no poems left")


def test_unknown_cell_suggests_the_closest(corpus_file, tmp_path):
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(tmp_path / "m.keras"), "--cell", "lsmt"])
    # the available list also names any installed cell plugins (e.g. mingru), so check the built-ins one by one
    assert_user_error(result, "unknown cell 'lsmt'", "did you mean 'lstm'", "available:", "gru", "lstm", "rnn")
    assert not (tmp_path / "m.keras").exists()


def test_unknown_backend(corpus_file, tmp_path):
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(tmp_path / "m.keras"), "--backend", "mxnet"])
    assert_user_error(result, "unknown backend 'mxnet'")


def test_backend_not_installed_names_the_extra(corpus_file, tmp_path, monkeypatch):
    monkeypatch.setattr(backend_module, "is_installed", lambda name: False)
    monkeypatch.delitem(sys.modules, "keras", raising=False)  # as in a fresh process, before Keras is imported
    try:
        result = CliRunner().invoke(main, ["eval", str(corpus_file), "--model", "x.keras", "--backend", "torch"])
    finally:
        monkeypatch.undo()
    assert_user_error(result, "pip install 'tangpoet[torch]'")


@pytest.mark.parametrize(
    "content, fragment",
    [(b"not a zip at all", "damaged"), (b"PK\x03\x04\x14\x00truncated", "damaged"), (None, "not found")],
)
def test_damaged_or_missing_model_file(corpus_file, tmp_path, content, fragment):
    path = tmp_path / "bad.keras"
    if content is not None:
        path.write_bytes(content)
    result = CliRunner().invoke(main, ["eval", str(corpus_file), "--model", str(path)])
    assert_user_error(result, fragment)


def test_model_file_with_broken_weights(trained, corpus_file, tmp_path):
    out, _ = trained
    broken = tmp_path / "broken.keras"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data[: len(data) // 3] if item.filename.endswith(".h5") else data)
    result = CliRunner().invoke(main, ["eval", str(corpus_file), "--model", str(broken)])
    assert_user_error(result, "could not be loaded")


def test_a_keras_file_that_is_not_a_tangpoet_model(corpus_file, tmp_path):
    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
    result = CliRunner().invoke(main, ["eval", str(corpus_file), "--model", str(path)])
    assert_user_error(result, "not a tangpoet model")


def test_existing_output_is_not_overwritten_without_force(trained, corpus_file):
    out, _ = trained
    before = out.read_bytes()
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), *TINY])
    assert_user_error(result, "checkpoint exists")
    os.replace(str(out) + ".ckpt", str(out) + ".ckpt.bak")
    try:
        result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), *TINY])
        assert_user_error(result, "--force")
    finally:
        os.replace(str(out) + ".ckpt.bak", str(out) + ".ckpt")
    assert out.read_bytes() == before


def test_resume_without_checkpoint(corpus_file, tmp_path):
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(tmp_path / "m.keras"), "--resume", *TINY])
    assert_user_error(result, "no checkpoint")


def test_resume_via_cli_continues_the_epochs(corpus_file, tmp_path):
    out = tmp_path / "m.keras"
    first = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), *TINY])
    assert first.exit_code == 0, first.output
    args = [a if a != "1" or i != TINY.index("--epochs") + 1 else "2" for i, a in enumerate(TINY)]
    second = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), "--resume", *args])
    assert second.exit_code == 0, second.output
    assert "resuming after epoch 1" in second.output and "epoch" in second.output


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--out", "m.txt"], "must end in .keras"),
        (["--out", "m.keras", "--epochs", "0"], "--epochs"),
        (["--out", "m.keras", "--dropout", "1.5"], "--dropout"),
        (["--out", "m.keras", "--min-len", "0"], "min_len"),
    ],
)
def test_invalid_options(corpus_file, tmp_path, args, fragment):
    args = [str(tmp_path / a) if a.startswith("m.") else a for a in args]
    result = CliRunner().invoke(main, ["fit", str(corpus_file), *args])
    assert_user_error(result, fragment)


def test_undecodable_corpus_names_file_and_line(tmp_path):
    corpus = tmp_path / "bad.txt"
    corpus.write_bytes("春晓:春眠不觉晓，处处闻啼鸟。\n".encode() + b"\xff\xfe broken\n")
    result = CliRunner().invoke(main, ["fit", str(corpus), "--out", str(tmp_path / "m.keras")])
    assert_user_error(result, "bad.txt:2", "UTF-8")


def test_eval_without_model_or_bundled_model_says_to_pass_one(corpus_file, tmp_path, monkeypatch):
    import tangpoet.pretrained

    monkeypatch.setattr(tangpoet.pretrained, "DEFAULT_MODEL", tmp_path / "none.keras")
    result = CliRunner().invoke(main, ["eval", str(corpus_file)])
    assert_user_error(result, "--model")


def test_info_describes_a_trained_model(trained):
    out, _ = trained
    result = CliRunner().invoke(main, ["info", "--model", str(out), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    from tangpoet.model.poem_model import load_model

    model = load_model(out)
    assert info["cell"] == model.cell_name and info["units"] == model.units and info["num_layers"] == model.num_layers
    assert info["vocab_size"] == len(model.vocab)
    assert info["parameters"] == model.count_params()
    assert info["val_nll"] == pytest.approx(model.metadata["training"]["val_nll"])
    assert info["corpus"]["kept"] == model.metadata["corpus"]["kept"]
    assert info["keras_version"] == keras.__version__
    text = CliRunner().invoke(main, ["info", "--model", str(out)])
    assert text.exit_code == 0
    for fragment in ("held-out   NLL", f"{info['vocab_size']:,} tokens", "keras " + keras.__version__):
        assert fragment in text.output, text.output


def test_info_on_a_damaged_or_missing_file_is_one_line(tmp_path):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    assert_user_error(CliRunner().invoke(main, ["info", "--model", str(bad)]), "damaged")
    assert_user_error(CliRunner().invoke(main, ["info", "--model", str(tmp_path / "gone.keras")]), "not found")


def test_python_dash_m_runs_with_the_backend_flag(trained, corpus_file, backend):
    out, _ = trained
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, "-m", "tangpoet", "eval", str(corpus_file), "--model", str(out), "--backend", backend, "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["poems"] == 8


def test_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0 and "tangpoet" in result.output
