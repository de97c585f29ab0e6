"""Reading files tangpoet did not necessarily write (checkpoints, theme tables) within bounds decided before reading.

A ``.npz`` member's ``.npy`` header declares its array's shape and dtype; numpy allocates that much before reading
the data, so a small file can ask for gigabytes. :func:`npz_arrays` reads each header first and refuses an archive
whose arrays, together, declare more than the caller's bound, whose member sizes disagree with their headers
(truncated or doctored), or that holds Python objects. :func:`read_json` refuses JSON nested past a depth. Every
refusal is the caller's one-line error class.
"""

from __future__ import annotations

import json
import math
import zipfile
import zlib
from typing import Any

import numpy as np

from tangpoet import limits


def json_depth(value: Any) -> int:
    """How deeply ``value`` (parsed JSON) nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def read_json(data: bytes | str, what: str, error, max_depth: int | None = None) -> Any:
    """``data`` parsed as JSON, or ``error(...)`` naming ``what`` (not JSON, or nested past ``max_depth``)."""
    max_depth = limits.MAX_CONFIG_DEPTH if max_depth is None else max_depth
    try:
        value = json.loads(data)
    except RecursionError:
        raise error(f"{what} nests too deeply") from None
    except (ValueError, TypeError) as exc:
        raise error(f"{what} is not JSON ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    if json_depth(value) > max_depth:
        raise error(f"{what} nests too deeply (more than {max_depth} levels)")
    return value


def _header(member) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    if version == (2, 0):
        return np.lib.format.read_array_header_2_0(member)
    raise ValueError(f"unsupported .npy version {version}")


def npz_arrays(source, what: str, error, *, max_bytes: int, max_arrays: int = 4096) -> dict[str, np.ndarray]:
    """The arrays of the ``.npz`` ``source`` (a path or a binary file object) by name (``arr_0`` …), after checking
    every header: at most ``max_arrays`` arrays declaring at most ``max_bytes`` together, no Python objects, each
    member exactly as long as its header says. Any problem is one ``error`` naming ``what``."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
            if len(infos) > max_arrays:
                raise error(f"{what} holds {len(infos):,} arrays, more than {max_arrays:,}")
            declared: dict[str, tuple[zipfile.ZipInfo, tuple[int, ...], bool, np.dtype, int]] = {}
            total = 0
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise error(f"{what} holds {info.filename!r}, which is not an array")
                with archive.open(info) as member:
                    shape, fortran, dtype = _header(member)
                    offset = member.tell()
                if dtype.hasobject:
                    raise error(f"{what} holds Python objects ({info.filename!r}), which tangpoet never writes")
                size = math.prod(shape) * dtype.itemsize
                total += size
                if total > max_bytes:
                    raise error(
                        f"{what} declares arrays of more than {max_bytes:,} bytes ({info.filename!r}: shape"
                        f" {tuple(shape)}, {dtype}); it was not read"
                    )
                if offset + size != info.file_size:
                    raise error(f"{what} is truncated or damaged: {info.filename!r} holds {info.file_size:,} bytes,"
                                f" its header says {offset + size:,}")
                declared[info.filename[: -len(".npy")]] = (info, shape, fortran, dtype, size)
            arrays = {}
            for name, (info, shape, fortran, dtype, size) in declared.items():
                with archive.open(info) as member:
                    _header(member)
                    data = member.read(size)
                if len(data) != size:
                    raise error(f"{what} is truncated: {info.filename!r} ends early")
                array = np.frombuffer(data, dtype=dtype)
                array = array.reshape(shape[::-1]).T if fortran else array.reshape(shape)
                arrays[name] = array.copy()
            return arrays
    except error:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError, KeyError,
            TypeError, NotImplementedError, RuntimeError) as exc:  # an untrusted archive: any of these, one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise error(f"{what} is damaged or not an array archive ({reason})") from None


def numbered(arrays: dict[str, np.ndarray], what: str, error) -> list[np.ndarray]:
    """``arr_0``, ``arr_1``, … of :func:`npz_arrays` (what ``np.savez(f, *arrays)`` writes) as a list."""
    names = [f"arr_{i}" for i in range(len(arrays))]
    if set(names) != set(arrays):
        raise error(f"{what} is damaged: its arrays are not arr_0 … arr_{len(arrays) - 1}")
    return [arrays[name] for name in names]
