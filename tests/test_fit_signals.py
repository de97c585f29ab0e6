"""Ctrl-C stops `fit` at once, on every backend, with a real signal (issue 23, defect 1).

Before the fix a SIGINT during a JAX epoch was lost: Keras' ``pythonify_logs`` converts each batch's loss inside
``try: ... except: pass``, and on JAX the main thread waits there for the asynchronously dispatched train step, so
the ``KeyboardInterrupt`` was swallowed and the run trained every epoch and exited 0 (tangpoet/interrupts.py).

- The subprocess tests send a real SIGINT (``os.kill``) to a real ``tangpoet fit`` at three moments: during the first
  compilation of the train step, in the middle of epoch 1 and in the middle of epoch 2. The moment is known from the
  lines the run prints: ``TANGPOET_TEST_BATCH_MARKS=1`` (tangpoet/interrupts.py) marks each batch's start, and on JAX
  ``JAX_LOG_COMPILES=1`` logs the start of the train step's XLA compilation. They check the exit status (130), that it
  comes within seconds, the files left and the messages.
- A run whose main thread got stuck in a library call after the SIGINT (seen once in CI: TensorFlow, the first-compile
  test, no output for 120 s) is ended by the command line's watchdog (tangpoet/training/watchdog.py) after
  ``GRACE_SECONDS``, with every thread's stack on stderr. The nothing-written tests accept that ending, as a warning
  carrying the stacks, if it wrote nothing and no batch began after the signal (a lost interrupt keeps training, so it
  still fails them); tests/test_watchdog.py tests the watchdog itself.
- The in-process tests reproduce the lost interrupt deterministically: a real SIGINT sent to this process from inside
  the conversion Keras guards with its bare ``except`` (on every backend), then check what ``fit`` does.

The corpus is 256 made-up quatrains of one length (one batch shape: no recompilation mid-epoch), eight batches of 32
an epoch, no validation split; the model is one LSTM layer of 256 units: a step long enough (JAX: ~0.1-0.3 s on CPU)
that a signal sent a moment into a batch finds JAX's main thread waiting for the step (where the interrupt was lost),
and a compilation of a few seconds.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tangpoet.backend import ensure_backend
from tangpoet.cli import main
from tangpoet.training.interrupts import REPEAT_SECONDS, TEST_MARKS_ENV, StopOnInterrupt
from tangpoet.training.watchdog import GRACE_SECONDS, STUCK

BACKEND = ensure_backend()  # the backend in use (KERAS_BACKEND), passed on to the subprocesses as --backend
EPOCHS = 3
POEMS = 256
BATCHES = 8  # per epoch: 256 poems, --batch-size 32, no validation split
MODEL = ["--layers", "1", "--units", "256", "--embedding-dim", "32", "--batch-size", "32", "--val-split", "0"]
ARGS = [*MODEL, "--epochs", str(EPOCHS), "--patience", "0", "--backend", BACKEND]
EXIT_SECONDS = 5.0  # "exit 130 within a few seconds" (measured: 0.2-0.6 s on a loaded 2-core machine)
START_SECONDS = 240.0  # until the moment to interrupt: imports, model building and compilation on a slow machine
NOTHING_WRITTEN = "interrupted before the first epoch finished: nothing was written"
# JAX logs this (JAX_LOG_COMPILES=1) when the train step's XLA compilation starts, after tracing and lowering
JAX_COMPILE_STARTS = "Finished jaxpr to MLIR module conversion jit(train_step)"
# made-up quatrains (4 × 5 characters + punctuation: 24 characters) from the characters of a few Tang poems
CHARACTERS = sorted(set("床前明月光疑是地上霜举头望明月低头思故乡春眠不觉晓处处闻啼鸟夜来风雨声花落知多少白日依山尽黄河入海流"
                        "欲穷千里目更上一层楼红豆生南国春来发几枝愿君多采撷此物最相思千山鸟飞绝万径人踪灭孤舟蓑笠翁独钓寒江雪"))


def mark(epoch: int, batch: int) -> str:
    return f"tangpoet-test: epoch {epoch} batch {batch} begins"


@pytest.fixture(scope="module")
def quatrains(tmp_path_factory) -> Path:
    rng = random.Random(23)
    lines = []
    for number in range(POEMS):
        verses = ["".join(rng.choice(CHARACTERS) for _ in range(5)) for _ in range(4)]
        lines.append(f"题{number}:{verses[0]}，{verses[1]}。{verses[2]}，{verses[3]}。")
    path = tmp_path_factory.mktemp("signals") / "quatrains.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def compile_cache(tmp_path_factory) -> Path:
    """JAX's compilation cache for these runs only (the second run loads the step the first one compiled)."""
    return tmp_path_factory.mktemp("jax-cache")


def _tangpoet() -> list[str]:
    script = Path(sys.executable).with_name("tangpoet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tangpoet"]


def _child_environment(cache: Path, *, compile_cache: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_COMPILATION_CACHE", "JAX_PERSISTENT_CACHE"))}
    env.update({TEST_MARKS_ENV: "1", "PYTHONUNBUFFERED": "1", "TANGPOET_CACHE_DIR": str(cache)})
    env.pop("TANGPOET_NO_COMPILE_CACHE", None)
    if not compile_cache:  # the compilation must really happen
        env["TANGPOET_NO_COMPILE_CACHE"] = "1"
        if BACKEND == "jax":
            env["JAX_LOG_COMPILES"] = "1"  # to see the train step's compilation start
    return env


@pytest.fixture(autouse=True)
def _pythons_sigint_handler():
    """The in-process tests, as a user's terminal runs them: Python's own SIGINT handler installed. A test run started
    in the background without job control (a CI script's `tox &`, `nohup`) inherits SIGINT ignored, and Python then
    installs none — which StopOnInterrupt rightly leaves alone (tested below with SIG_IGN on purpose)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def _default_sigint():
    """In the child, before exec: SIGINT as a terminal gives it. A test run started in the background without job
    control ignores SIGINT, the child would inherit that, and Python installs no KeyboardInterrupt handler then."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Run:
    """A real ``tangpoet fit`` in a subprocess; its output (stdout and stderr together) read line by line."""

    def __init__(self, corpus: Path, out: Path, env: dict[str, str]):
        self.out = out
        self.process = subprocess.Popen(
            [*_tangpoet(), "fit", str(corpus), "--out", str(out), *ARGS],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env,
            preexec_fn=_default_sigint,
        )
        self.lines: list[str] = []
        self.signalled_at = 0
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with self.process.stdout:
            for line in self.process.stdout:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = START_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                pytest.fail(f"no line with {text!r} within {timeout:.0f} s:\n{self.output}")
            if line is None:
                pytest.fail(f"fit ended (status {self.process.wait()}) before {text!r}:\n{self.output}")
            self.lines.append(line)
            if text in line:
                return

    def interrupt_and_wait(self, after: float = 0.0, repeat: bool = False) -> tuple[int, float]:
        """Send SIGINT ``after`` seconds from now (``repeat``: twice, as ``timeout -s INT`` sends it to the process and
        then to its group); return the exit status and the seconds it took to come."""
        time.sleep(after)
        self.signalled_at = len(self.lines)  # the lines read before the signal
        sent = time.monotonic()
        self.process.send_signal(signal.SIGINT)
        if repeat:
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"fit did not end within 120 s of SIGINT (the interrupt was lost):\n{self.output}")
        seconds = time.monotonic() - sent
        while (line := self._queue.get(timeout=30)) is not None:  # the rest of the output, up to end of file
            self.lines.append(line)
        return status, seconds

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def output(self) -> str:
        """What fit printed, without JAX's compilation log (JAX_LOG_COMPILES)."""
        return "\n".join(line for line in self.lines if not line.startswith(("Finished ", "Compiling ")))


@pytest.fixture
def start_fit(quatrains, compile_cache, tmp_path):
    """Start a real ``tangpoet fit`` writing ``tmp_path/out/m.keras``; a run a failed test leaves is killed."""
    runs: list[Run] = []

    def start(*, cached: bool) -> Run:
        run = Run(quatrains, tmp_path / "out" / "m.keras", _child_environment(compile_cache, compile_cache=cached))
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.kill()


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _checkpoint_epoch(path: Path) -> int:
    import json

    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("state.json"))["epoch"]


def _assert_nothing_written(run: Run, status: int, seconds: float, folder: Path) -> None:
    assert status == 130, run.output
    stuck = STUCK.format(seconds=GRACE_SECONDS)
    if stuck in run.output:  # the main thread got stuck in a library call; the watchdog ended the process
        after = run.lines[run.signalled_at:]
        assert not any("batch" in line and "begins" in line for line in after), run.output  # not a lost interrupt
        assert seconds < GRACE_SECONDS + 15, f"exit {seconds:.1f} s after SIGINT\n{run.output}"
        assert _files(folder) == [], _files(folder)
        warnings.warn(f"fit got stuck after SIGINT and the watchdog ended it:\n{run.output}", stacklevel=2)
        return
    assert seconds < EXIT_SECONDS, f"exit {seconds:.1f} s after SIGINT\n{run.output}"
    assert NOTHING_WRITTEN in run.output, run.output
    for absent in ("saved", "--resume", "Traceback", "Epoch 2/"):
        assert absent not in run.output, run.output
    assert _files(folder) == [], _files(folder)  # no model, no checkpoint, no lock, no temporary file


# ------------------------------------------------------------------------- a real SIGINT to a real `tangpoet fit`
def test_sigint_during_the_first_compile_writes_nothing(start_fit):
    """JAX: while XLA compiles the train step; TensorFlow: while the first step is traced; torch (no compilation):
    during the first step."""
    run = start_fit(cached=False)
    out = run.out
    run.wait_for(JAX_COMPILE_STARTS if BACKEND == "jax" else mark(1, 1))
    status, seconds = run.interrupt_and_wait()
    assert mark(1, 2) not in run.output, run.output  # the first step never finished
    _assert_nothing_written(run, status, seconds, out.parent)


def test_sigint_in_the_middle_of_epoch_1_writes_nothing(start_fit):
    run = start_fit(cached=True)
    out = run.out
    run.wait_for(mark(1, 4))
    status, seconds = run.interrupt_and_wait(after=0.05)  # JAX: past the step's dispatch, waiting for its result
    _assert_nothing_written(run, status, seconds, out.parent)


@pytest.mark.parametrize("repeat", [False, True], ids=["once", "twice like timeout"])
def test_sigint_in_the_middle_of_epoch_2_keeps_epoch_1(start_fit, quatrains, repeat):
    """``twice like timeout``: ``timeout -s INT`` signals the process and then its group, so the SIGINT comes twice,
    back to back; the second is the same interrupt and must not abort the save the first one started."""
    run = start_fit(cached=True)
    out = run.out
    ckpt = Path(str(out) + ".ckpt")
    run.wait_for(mark(2, 4))
    status, seconds = run.interrupt_and_wait(after=0.05, repeat=repeat)
    assert status == 130, run.output
    assert seconds < EXIT_SECONDS, f"exit {seconds:.1f} s after SIGINT\n{run.output}"
    assert f"saved {out}" in run.output, run.output
    assert f"interrupted: checkpoint {ckpt} of epoch 1 is kept; continue with --resume" in run.output, run.output
    assert mark(3, 1) not in run.output and "Traceback" not in run.output, run.output
    assert _files(out.parent) == ["m.keras", "m.keras.ckpt"]  # no lock, no temporary file
    assert _checkpoint_epoch(ckpt) == 1
    _assert_best_weights_of_epoch_1(out, ckpt)
    # the message is true: --resume continues after epoch 1 (in this process: no second start-up)
    resumed = CliRunner().invoke(main, ["fit", str(quatrains), "--out", str(out), "--resume", "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert "resuming after epoch 1" in resumed.output and "Epoch 2/2" in resumed.output, resumed.output
    assert _checkpoint_epoch(ckpt) == 2


def _assert_best_weights_of_epoch_1(out: Path, ckpt: Path) -> None:
    """The model file holds the checkpoint's best weights (epoch 1's), not the half-trained weights of epoch 2."""
    from tangpoet.model.poem_model import load_model
    from tangpoet.training.trainer import read_checkpoint

    model = load_model(out)
    assert model.metadata["training"]["epochs"] == 1
    checkpoint_model, _, state = read_checkpoint(ckpt)
    assert state["best_epoch"] == 1
    for saved, best, at_epoch_end in zip(model.get_weights(), state["best_weights"], checkpoint_model.get_weights()):
        np.testing.assert_array_equal(saved, best)
        np.testing.assert_array_equal(saved, at_epoch_end)


def test_a_repeated_delivery_is_ignored_and_a_later_ctrl_c_is_not():
    """In this process, real signals: within REPEAT_SECONDS of the first SIGINT another is the same interrupt (ignored,
    also after the armed block, while fit saves); later, one raises as Python's own handler does; restore() puts
    Python's handler back."""
    stop = StopOnInterrupt()
    with pytest.raises(KeyboardInterrupt):
        with stop.armed():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler raises here
    assert stop.requested
    os.kill(os.getpid(), signal.SIGINT)  # the repeated delivery: nothing happens
    time.sleep(0.05)
    time.sleep(REPEAT_SECONDS)
    with pytest.raises(KeyboardInterrupt):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)
    stop.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_first_ctrl_c_during_the_final_save_lets_it_finish(quatrains, tmp_path, monkeypatch):
    """Training ended by itself; a real SIGINT comes while the model is saved (as a time limit's did under
    ``timeout -s INT``): the save finishes, the file is whole, and fit ends with 130 saying so."""
    import tangpoet.training.trainer as trainer_module
    from tangpoet.model.poem_model import load_model

    original = trainer_module.save_model
    sent = []

    def save_model(model, path):
        sent.append(path)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler runs here, in the save: before the fix it raised and the save was lost
        original(model, path)

    monkeypatch.setattr(trainer_module, "save_model", save_model)
    out = tmp_path / "m.keras"
    result = CliRunner().invoke(main, ["fit", str(quatrains), "--out", str(out), *MODEL, "--epochs", "1",
                                       "--patience", "0"])
    assert sent, result.output
    assert result.exit_code == 130, result.output
    assert f"saved {out}" in result.output, result.output
    assert "interrupted after training had ended: the save finished first" in result.output, result.output
    assert load_model(out).metadata["training"]["epochs"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored when train returned


# ------------------------------------------------------ the lost interrupt, reproduced in this process, every backend
class _SignalInsideKerasConversion:
    """Sends this process a real SIGINT from inside ``convert_to_numpy`` as Keras' ``pythonify_logs`` calls it for
    the ``at``-th training batch (counted over the run, from 1), and lets the handler run there: inside Keras'
    ``try: ... except: pass``, where the main thread of a JAX run waits for each step."""

    def __init__(self, monkeypatch, at: int):
        import keras.src.backend as keras_backend

        original = keras_backend.convert_to_numpy
        self.batches = 0
        self.sent = False

        def convert_to_numpy(x):
            caller = sys._getframe(1)
            if caller.f_code.co_name == "pythonify_logs" and caller.f_back.f_code.co_name == "_on_train_batch_end":
                self.batches += 1
                if self.batches == at:
                    self.sent = True
                    os.kill(os.getpid(), signal.SIGINT)
                    time.sleep(0.2)  # the Python-level handler runs here, at the latest when the sleep ends
            return original(x)

        monkeypatch.setattr(keras_backend, "convert_to_numpy", convert_to_numpy)


def _fit_in_process(corpus: Path, out: Path):
    return CliRunner().invoke(main, ["fit", str(corpus), "--out", str(out), *MODEL, "--epochs", str(EPOCHS),
                                     "--patience", "0"])


def test_an_interrupt_keras_swallows_in_epoch_1_still_stops_the_run(quatrains, tmp_path, monkeypatch):
    signal_at = _SignalInsideKerasConversion(monkeypatch, at=4)
    result = _fit_in_process(quatrains, tmp_path / "m.keras")
    assert signal_at.sent
    assert result.exit_code == 130, result.output  # before the fix: every epoch trained, exit 0
    assert NOTHING_WRITTEN in result.output and "Epoch 2/" not in result.output, result.output
    assert signal_at.batches == 4  # it stopped in the batch it was interrupted in
    assert _files(tmp_path) == []


def test_an_interrupt_keras_swallows_in_epoch_2_keeps_epoch_1(quatrains, tmp_path, monkeypatch):
    out = tmp_path / "m.keras"
    signal_at = _SignalInsideKerasConversion(monkeypatch, at=BATCHES + 4)
    result = _fit_in_process(quatrains, out)
    assert signal_at.sent
    assert result.exit_code == 130, result.output
    assert f"interrupted: checkpoint {out}.ckpt of epoch 1 is kept; continue with --resume" in result.output
    assert signal_at.batches == BATCHES + 4 and "Epoch 3/" not in result.output, result.output
    assert _files(tmp_path) == ["m.keras", "m.keras.ckpt"]
    assert _checkpoint_epoch(Path(str(out) + ".ckpt")) == 1
    _assert_best_weights_of_epoch_1(out, Path(str(out) + ".ckpt"))


# ------------------------------------------------------------------------------------ StopOnInterrupt itself
def test_armed_installs_its_handler_and_restores_pythons():
    stop = StopOnInterrupt()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with stop.armed():
        assert signal.getsignal(signal.SIGINT) == stop._handle
    assert signal.getsignal(signal.SIGINT) == stop._after  # for the save that follows the epochs
    stop.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_the_caller_chose_is_left_alone():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # e.g. a background job without job control
    try:
        stop = StopOnInterrupt()
        with stop.armed():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)


def _swallowed_sigint():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.2)  # the handler raises here
    except BaseException:  # what Keras' bare `except:` does
        return True
    return False


def test_a_swallowed_interrupt_is_raised_again_at_the_next_batch():
    stop = StopOnInterrupt()
    with pytest.raises(KeyboardInterrupt):
        with stop.armed():
            assert _swallowed_sigint()
            assert stop.requested
            stop.on_train_batch_end(0)
            pytest.fail("on_train_batch_end did not raise")  # pragma: no cover


def test_a_swallowed_interrupt_is_raised_when_the_armed_block_ends():
    stop = StopOnInterrupt()
    with pytest.raises(KeyboardInterrupt):
        with stop.armed():
            assert _swallowed_sigint()
    stop.restore()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_second_ctrl_c_raises_at_once():
    """A second Ctrl-C of a person (later than REPEAT_SECONDS: not the same one delivered twice)."""
    stop = StopOnInterrupt()
    with stop.armed():
        for press in range(2):
            if press:
                time.sleep(REPEAT_SECONDS)
            with pytest.raises(KeyboardInterrupt):
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(0.2)
        stop.requested = False  # handled: leave the block quietly
