"""What ``fit`` writes is never lost: the output is checked before any work, one run at a time writes it, and a
write that fails says what is intact and how to go on.

- :func:`prepare_output` runs before the corpus is read: it creates missing folders and proves the folder can be
  written (by creating and removing a file there, which is the only test that holds for root, ACLs and read-only
  mounts alike).
- :class:`OutputLock` is an exclusive ``fcntl.flock`` on ``OUT.lock`` held for the whole run. The kernel releases
  a flock when its process ends, however it ends (``kill -9`` included), so a lock file left behind never blocks the
  next run. Where ``fcntl`` does not exist (Windows) no lock is taken.
- :class:`SaveGuard` turns an ``OSError`` while saving (disk full, permissions changed) into one line naming the
  checkpoint that is still intact. The saves themselves are atomic (written beside, then ``os.replace``), so a failed
  save leaves the previous file as it was.

No Keras here: the CLI calls this before the backend is imported.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tangpoet.errors import OutputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def lock_path(out: str | os.PathLike) -> Path:
    return Path(str(out) + ".lock")


def prepare_output(out: str | os.PathLike, *others: str | os.PathLike) -> None:
    """Fail in one line, before any work, unless ``out`` (and ``others`` beside it) can be written."""
    out = Path(out)
    for path in (out, *map(Path, others)):
        if path.is_dir():
            raise OutputError(f"{path} is a directory: --out names the model file to write (ending in .keras)")
    folder = out.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"cannot create the folder {folder}: a file of that name is in the way") from None
    except OSError as exc:
        raise OutputError(f"cannot create the folder {folder}: {_reason(exc)}") from None
    try:
        handle, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=folder)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to the folder {folder}: {_reason(exc)}") from None


class OutputLock:
    """An exclusive lock on ``OUT.lock`` (a context manager); a second holder gets :class:`OutputError`."""

    def __init__(self, out: str | os.PathLike):
        self.out = Path(out)
        self.path = lock_path(out)
        self._fd: int | None = None

    def acquire(self) -> None:
        if fcntl is None:  # pragma: no cover - Windows
            return
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputError(f"cannot create the lock file {self.path}: {_reason(exc)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = self._holder(fd)
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    by = f" (process {holder})" if holder else ""
                    raise OutputError(
                        f"{self.out} is being written by another tangpoet fit{by}: wait for it to finish or choose"
                        " another --out"
                    ) from None
                return  # a filesystem without locks (ENOLCK, EOPNOTSUPP): go on unlocked, as before locks existed
            # The holder before us may have removed the file between our open and our flock: then we hold a lock on
            # a file nobody else can find, and must lock the one that is there now.
            try:
                if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the pid is only a courtesy for the message above (a full disk may refuse it)
        self._fd = fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        except OSError:
            return ""
        return text if text.isdigit() else ""

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still locked, so no one can lock the file being removed
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


class SaveGuard:
    """Turns a failed save into one :class:`OutputError` line that names what is intact and how to continue.

    ``checkpoint_epoch`` is the epoch of the checkpoint this run may be continued from: the one it resumed from, then
    the last one it wrote; ``None`` while this run has none (a checkpoint on disk from an earlier run does not count).
    """

    def __init__(self, checkpoint: str | os.PathLike, checkpoint_epoch: int | None = None):
        self.checkpoint = Path(checkpoint)
        self.checkpoint_epoch = checkpoint_epoch

    @contextmanager
    def saving(self, path: str | os.PathLike, *, epoch: int | None = None) -> Iterator[None]:
        """Save ``path`` inside this block; ``epoch``: ``path`` is the checkpoint after that epoch."""
        try:
            yield
        except OSError as exc:
            raise OutputError(self.failure(Path(path), exc)) from None
        if epoch is not None:
            self.checkpoint_epoch = epoch

    def failure(self, path: Path, exc: OSError) -> str:
        full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))
        fix = "free some space" if full else "fix the cause"
        if path == self.checkpoint:
            head = f"could not write the checkpoint {path}: {_reason(exc)}"
            intact = f"the previous one, of epoch {self.checkpoint_epoch}, is intact there"
        else:
            head = f"could not write {path}: {_reason(exc)} (the file there, if any, is unchanged)"
            intact = f"the checkpoint {self.checkpoint} of epoch {self.checkpoint_epoch} is intact"
        if self.checkpoint_epoch:
            return f"{head}; {intact}: {fix} and run the same command with --resume"
        return f"{head}; no epoch of this run was saved: {fix} and run the command again"
