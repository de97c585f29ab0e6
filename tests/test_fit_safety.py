"""`fit` never loses work: Ctrl-C in the first epoch writes nothing, --out is checked before any work, a failed save
is one line that names the intact checkpoint, one run at a time per output, --resume refuses options it would
ignore, and the progress output counts the run's real epochs (issue 11, defects 2-4 and item 8)."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from tangpoet.cli import main
from tangpoet.training.output_guard import OutputLock, SaveGuard, lock_path, prepare_output
from tangpoet.training.resume_check import check_resume_options, checkpoint_settings

TINY = ["--layers", "1", "--units", "8", "--embedding-dim", "4", "--batch-size", "4", "--val-split", "0.25"]


def fit(corpus, out, *args):
    return CliRunner().invoke(main, ["fit", str(corpus), "--out", str(out), *TINY, *args])


def error_lines(result):
    assert "Traceback" not in result.output, result.output
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def assert_one_error(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def checkpoint_epoch(path: Path) -> int:
    import json

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("state.json"))["epoch"]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus_file):
    """A two-epoch run (and its output): the model, its checkpoint and what fit printed."""
    out = tmp_path_factory.mktemp("safety") / "new" / "folder" / "m.keras"  # missing folders: fit makes them
    result = fit(corpus_file, out, "--epochs", "2", "--patience", "0")
    assert result.exit_code == 0, result.output
    return out, result


def copy_of(trained, tmp_path) -> Path:
    out, _ = trained
    shutil.copy(out, tmp_path / "m.keras")
    shutil.copy(str(out) + ".ckpt", tmp_path / "m.keras.ckpt")
    return tmp_path / "m.keras"


# --------------------------------------------------------------------- progress labels (item 8), missing folders
def test_progress_counts_the_runs_epochs_and_missing_folders_are_made(trained):
    out, result = trained
    epochs = [line for line in result.output.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"], result.output
    assert out.is_file() and Path(str(out) + ".ckpt").is_file()
    assert not lock_path(out).exists()  # the lock is taken away when the run ends
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.keras", "m.keras.ckpt"]  # no temporary files left


# --------------------------------------------------------------------------------- Ctrl-C (defect 2)
class _Interrupt:
    """Ctrl-C arriving during the ``epoch``-th epoch (from 1), after its first batch.

    A ``KeyboardInterrupt`` raised by a callback: what ``fit`` does once the interrupt reaches it. Whether a real
    SIGINT reaches it (issue 23: on JAX, Keras swallowed it) is tested with real signals in test_fit_signals.py."""

    def __init__(self, monkeypatch, epoch):
        import tangpoet.training.progress

        self.epoch = epoch
        original = tangpoet.training.progress.EpochProgress.on_train_batch_end
        interrupt = self

        def on_train_batch_end(self, batch, logs=None):
            original(self, batch, logs)
            if interrupt.current == interrupt.epoch:
                raise KeyboardInterrupt

        def on_epoch_begin(self, epoch, logs=None):
            interrupt.current = epoch + 1
            return original_begin(self, epoch, logs)

        original_begin = tangpoet.training.progress.EpochProgress.on_epoch_begin
        monkeypatch.setattr(tangpoet.training.progress.EpochProgress, "on_train_batch_end", on_train_batch_end)
        monkeypatch.setattr(tangpoet.training.progress.EpochProgress, "on_epoch_begin", on_epoch_begin)
        self.current = 0


def test_ctrl_c_in_the_first_epoch_writes_and_overwrites_nothing_even_with_force(trained, corpus_file, tmp_path, monkeypatch):
    out = copy_of(trained, tmp_path)
    before = snapshot(tmp_path)
    _Interrupt(monkeypatch, epoch=1)
    result = fit(corpus_file, out, "--epochs", "3", "--force")
    assert result.exit_code == 130, result.output
    assert "interrupted before the first epoch finished: nothing was written" in result.output
    assert "saved" not in result.output and "--resume" not in result.output and "Traceback" not in result.output
    assert snapshot(tmp_path) == before  # the trained model and its checkpoint are untouched, nothing added


def test_ctrl_c_in_the_first_epoch_of_a_fresh_run_leaves_no_file(corpus_file, tmp_path, monkeypatch):
    _Interrupt(monkeypatch, epoch=1)
    result = fit(corpus_file, tmp_path / "m.keras", "--epochs", "2")
    assert result.exit_code == 130, result.output
    assert "nothing was written" in result.output
    assert list(tmp_path.iterdir()) == []
    rerun_refused = fit(corpus_file, tmp_path / "m.keras", "--resume", "--epochs", "2")
    assert_one_error(rerun_refused, "no checkpoint")  # and a plain rerun is not refused: nothing exists


def test_ctrl_c_after_an_epoch_saves_the_best_weights_and_keeps_the_checkpoint(corpus_file, tmp_path, monkeypatch):
    out = tmp_path / "m.keras"
    _Interrupt(monkeypatch, epoch=2)
    result = fit(corpus_file, out, "--epochs", "3")
    assert result.exit_code == 130, result.output
    assert f"saved {out} (epoch 1 of 1 run, of 3 asked, validation NLL" in result.output  # not "1 of 1" (issue 37)
    assert f"checkpoint {out}.ckpt of epoch 1 is kept; continue with --resume" in result.output
    assert checkpoint_epoch(Path(str(out) + ".ckpt")) == 1
    monkeypatch.undo()
    resumed = fit(corpus_file, out, "--resume", "--epochs", "2")  # the message is true: --resume continues
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1" in resumed.output and "Epoch 2/2" in resumed.output


# ------------------------------------------------------------------------ --out checked first (defect 3)
def test_out_that_is_a_directory_is_one_line_before_reading_the_corpus(corpus_file, tmp_path):
    (tmp_path / "m.keras").mkdir()
    result = fit(corpus_file, tmp_path / "m.keras", "--epochs", "1")
    assert_one_error(result, "is a directory")
    assert "read 8 poems" not in result.output


def test_out_under_a_file_is_one_line(corpus_file, tmp_path):
    (tmp_path / "plain").write_text("x")
    result = fit(corpus_file, tmp_path / "plain" / "m.keras", "--epochs", "1")
    assert_one_error(result, "cannot create the folder")
    assert "read 8 poems" not in result.output


def test_read_only_folder_is_one_line_before_reading_the_corpus(corpus_file, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root writes anyway: the injected PermissionError below covers it
            pytest.skip("this user can write a read-only folder (root)")
        result = fit(corpus_file, folder / "m.keras", "--epochs", "1")
        assert_one_error(result, "cannot write to the folder", "Permission denied")
        assert "read 8 poems" not in result.output
    finally:
        folder.chmod(0o755)


def test_unwritable_folder_injected_is_one_line_before_reading_the_corpus(corpus_file, tmp_path, monkeypatch):
    import tangpoet.training.output_guard

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tangpoet.training.output_guard.tempfile, "mkstemp", refuse)
    result = fit(corpus_file, tmp_path / "m.keras", "--epochs", "1")
    assert_one_error(result, "cannot write to the folder", "Permission denied")
    assert "read 8 poems" not in result.output and list(tmp_path.iterdir()) == []


def _disk_full_on_save(monkeypatch, failing_call: int):
    """Every ``PoemModel.save`` after the ``failing_call - 1``-th writes half a file and fails: No space left."""
    from tangpoet.model.poem_model import PoemModel

    original = PoemModel.save
    calls = []

    def save(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) >= failing_call:
            Path(path).write_bytes(b"PK\x03\x04 half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(PoemModel, "save", save)
    return calls


def test_disk_full_at_a_checkpoint_keeps_the_previous_one_and_says_how_to_resume(corpus_file, tmp_path, monkeypatch):
    out = tmp_path / "m.keras"
    ckpt = Path(str(out) + ".ckpt")
    _disk_full_on_save(monkeypatch, failing_call=2)  # epoch 1's checkpoint is saved, epoch 2's is not
    result = fit(corpus_file, out, "--epochs", "3")
    line = assert_one_error(result, f"could not write the checkpoint {ckpt}: No space left on device",
                            "the previous one, of epoch 1, is intact there", "--resume")
    assert "free some space" in line
    assert checkpoint_epoch(ckpt) == 1  # intact and readable
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.keras.ckpt"]  # no half-written file left
    monkeypatch.undo()
    resumed = fit(corpus_file, out, "--resume", "--epochs", "2")
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1" in resumed.output and out.is_file()


def test_disk_full_at_the_first_checkpoint_under_force_changes_nothing(trained, corpus_file, tmp_path, monkeypatch):
    out = copy_of(trained, tmp_path)
    before = snapshot(tmp_path)
    _disk_full_on_save(monkeypatch, failing_call=1)
    result = fit(corpus_file, out, "--epochs", "2", "--force")
    assert_one_error(result, "No space left on device", "no epoch of this run was saved", "run the command again")
    assert snapshot(tmp_path) == before  # the earlier model and checkpoint are as they were


def test_disk_full_at_the_final_save_keeps_the_checkpoint(corpus_file, tmp_path, monkeypatch):
    out = tmp_path / "m.keras"
    _disk_full_on_save(monkeypatch, failing_call=2)  # the checkpoint of epoch 1, then the model file fails
    result = fit(corpus_file, out, "--epochs", "1")
    assert_one_error(result, f"could not write {out}", "of epoch 1 is intact", "--resume")
    assert not out.exists()
    monkeypatch.undo()
    resumed = fit(corpus_file, out, "--resume", "--epochs", "1")  # nothing left to train: it writes the model
    assert resumed.exit_code == 0, resumed.output
    assert out.is_file()


def test_save_guard_only_offers_resume_for_a_checkpoint_of_this_run(tmp_path):
    guard = SaveGuard(tmp_path / "m.keras.ckpt")
    with pytest.raises(Exception, match="no epoch of this run was saved") as caught:
        with guard.saving(tmp_path / "m.keras.ckpt", epoch=1):
            raise PermissionError(errno.EACCES, "Permission denied")
    assert "fix the cause" in str(caught.value) and guard.checkpoint_epoch is None
    with guard.saving(tmp_path / "m.keras.ckpt", epoch=1):
        pass
    assert guard.checkpoint_epoch == 1


def test_prepare_output_makes_missing_folders(tmp_path):
    out = tmp_path / "a" / "b" / "m.keras"
    prepare_output(out)
    assert out.parent.is_dir() and list(out.parent.iterdir()) == []  # the probe file is gone


# ------------------------------------------------------------------------------------- the lock (defect 4)
def test_a_second_fit_to_a_locked_output_is_one_line(trained, corpus_file, tmp_path):
    out = copy_of(trained, tmp_path)
    before = snapshot(tmp_path)
    with OutputLock(out):  # another file description: flock conflicts even within one process
        result = fit(corpus_file, out, "--epochs", "1", "--force")
    assert_one_error(result, "is being written by another tangpoet fit", f"process {os.getpid()}")
    assert "read 8 poems" not in result.output
    after = snapshot(tmp_path)
    assert after == before  # the lock file went with the lock


def test_lock_is_reentrant_after_release_and_removes_its_file(tmp_path):
    out = tmp_path / "m.keras"
    with OutputLock(out) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
    assert not lock_path(out).exists()
    with OutputLock(out):
        pass


def _tangpoet() -> list[str]:
    script = Path(sys.executable).with_name("tangpoet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tangpoet"]


def test_two_real_processes_and_kill_9_leaves_no_stale_lock(corpus_file, tmp_path):
    out = tmp_path / "m.keras"
    args = ["fit", str(corpus_file), "--out", str(out), *TINY, "--patience", "0"]
    first = subprocess.Popen(
        [*_tangpoet(), *args, "--epochs", "100000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        seen = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:  # the corpus report is printed once the lock is held
            line = first.stdout.readline()
            seen.append(line)
            if line.startswith("read 8 poems") or not line:
                break
        assert seen and seen[-1].startswith("read 8 poems"), "".join(seen)
        second = subprocess.run([*_tangpoet(), *args, "--epochs", "1", "--force"], capture_output=True, text=True, timeout=240)
        assert second.returncode == 2, second.stdout + second.stderr
        assert "Traceback" not in second.stderr
        assert second.stderr.strip().splitlines() == [
            (
                f"error: {out} is being written by another tangpoet fit (process {first.pid}): wait for it to finish"
                " or choose another --out"
            )
        ]
        assert "read 8 poems" not in second.stdout
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
        first.stdout.close()
    assert lock_path(out).exists()  # kill -9 leaves the file, but the kernel released the lock
    third = subprocess.run([*_tangpoet(), *args, "--epochs", "1", "--force"], capture_output=True, text=True, timeout=240)
    assert third.returncode == 0, third.stdout + third.stderr
    assert f"saved {out}" in third.stdout and not lock_path(out).exists()


# ------------------------------------------------------------------------------------- --resume (item 8)
def test_resume_refuses_typed_options_that_differ_from_the_checkpoint(trained, corpus_file, tmp_path):
    out = copy_of(trained, tmp_path)
    before = snapshot(tmp_path)
    result = CliRunner().invoke(
        main,
        ["fit", str(corpus_file), "--out", str(out), "--resume", "--epochs", "3", "--units", "32", "--cell", "gru",
         "--tie-embeddings", "--layers", "1"],
    )
    line = assert_one_error(result, "--units 32 (the checkpoint has --units 8)", "--cell gru (the checkpoint has --cell lstm)",
                            "--tie-embeddings (the checkpoint has no --tie-embeddings)", "--force")
    assert "--layers" not in line  # typed, but the same as the checkpoint's
    assert "read 8 poems" not in result.output
    assert snapshot(tmp_path) == before


def test_resume_ignores_options_left_at_their_defaults(trained, corpus_file, tmp_path):
    out = copy_of(trained, tmp_path)  # trained with --units 8 --layers 1: the defaults (256, 2) are not typed
    result = CliRunner().invoke(main, ["fit", str(corpus_file), "--out", str(out), "--resume", "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert "resuming after epoch 2" in result.output
    assert [line for line in result.output.splitlines() if line.startswith("Epoch ")] == ["Epoch 3/3"]


def test_checkpoint_settings_are_read_without_building_the_model(trained, tmp_path):
    out, _ = trained
    settings = checkpoint_settings(str(out) + ".ckpt")
    assert settings == {
        "cell": "lstm", "num_layers": 1, "units": 8, "embedding_dim": 4, "dropout": 0.0, "embedding_dropout": 0.0,
        "tie_embeddings": False, "seed": 0, "val_split": 0.25, "optimizer": "adam", "steps_per_epoch": None, "ema": 0.0,
        "titles": False, "untitled_fraction": 0.3,
    }
    check_resume_options(str(out) + ".ckpt", {"val_split": 0.25, "dropout": 0.0, "seed": 0})  # equal: no error
    (tmp_path / "bad.ckpt").write_bytes(b"not a zip")
    assert checkpoint_settings(tmp_path / "bad.ckpt") is None
    check_resume_options(tmp_path / "bad.ckpt", {"units": 3})  # unreadable: train() reports the damage
