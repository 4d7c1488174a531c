"""Safe reading and writing of the files of a results store, which may come from someone else.

* `load_npz` / `decode_arrays` parse .npz archives themselves: members must be plain .npy arrays without
  Python objects (nothing is ever unpickled), complete (CRC checked), and no larger in total than
  max(MAX_EXPANSION x the stored size, MIN_DECODE_CAP) bytes, so a decompression bomb or a header that
  claims a huge shape is refused before anything is allocated;
* `refuse_link` and `check_inside` keep every path inside the store folder: a symbolic link inside the
  store is refused, and a resolved path must lie below the folder.

Anything that cannot be decoded raises `CorruptRecord` (a ValueError) naming what it was.
"""

from __future__ import annotations

import io
import math
import os
import zipfile

import numpy as np

MAX_EXPANSION = 64  # a blob or side file may decompress to at most this many times its stored size ...
MIN_DECODE_CAP = 16 << 20  # ... or this many bytes, whichever is larger


class CorruptRecord(ValueError):
    """A stored record (row, trajectory blob or side file) that cannot be decoded safely."""


class CorruptRecordWarning(UserWarning):
    """A row of the store was skipped because it cannot be decoded (the message names its run id)."""


def refuse_link(path: str, what: str) -> None:
    """Raise if `path` (inside a store folder) is a symbolic link."""
    if os.path.islink(path):
        raise ValueError(f"{what}: {path} is a symbolic link; a wideflow store refuses links inside its folder")


def check_inside(root: str, path: str, what: str) -> str:
    """`path` with every link resolved, which must lie inside the folder `root`."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        raise ValueError(f"{what}: {path} resolves to {real}, outside the store folder {real_root}")
    return real


def replace_atomically(path: str, write, *, binary: bool = True, prefix: str = ".", fsync: bool = False) -> str:
    """Write `path` by calling write(fh) on a temporary file created exclusively in the same folder, then
    os.replace it over `path` (so a link planted at `path` is replaced, not followed, and a reader never
    sees a half-written file). The temporary file is removed if anything fails."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as fh:
            write(fh)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def encode_arrays(arrays: dict) -> bytes:
    """Compressed .npz bytes of {name: array} (numeric arrays only)."""
    buf = io.BytesIO()
    clean = {}
    for name, arr in arrays.items():
        a = np.asarray(arr)
        if a.dtype == object:
            raise TypeError(f"trajectory: array {name!r} has dtype object; only numeric arrays are stored")
        clean[name] = a
    np.savez_compressed(buf, **clean)  # type: ignore[arg-type]  # NumPy's stub types **kwds as allow_pickle
    return buf.getvalue()


def load_npz(fh, size: int, what: str = "blob") -> dict:
    """{name: array} from an .npz archive in the binary file `fh` of `size` bytes, parsed here: members
    must be .npy arrays without Python objects (nothing is ever unpickled), their total size must not
    exceed max(MAX_EXPANSION * size, MIN_DECODE_CAP), and every member must be complete (CRC checked).
    Raises CorruptRecord naming `what` otherwise."""
    cap = max(MAX_EXPANSION * int(size), MIN_DECODE_CAP)
    try:
        with zipfile.ZipFile(fh) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > cap:
                raise CorruptRecord(
                    f"{what}: would decompress to {total} bytes, more than the cap of {cap} "
                    f"({MAX_EXPANSION} x its {size} bytes)"
                )
            out = {}
            for info in infos:
                if not info.filename.endswith(".npy"):
                    raise CorruptRecord(f"{what}: member {info.filename!r} is not a .npy array")
                with zf.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
                    else:
                        raise CorruptRecord(f"{what}: unsupported .npy version {version}")
                    if dtype.hasobject:
                        raise CorruptRecord(f"{what}: member {info.filename!r} holds Python objects (never unpickled)")
                    nbytes = math.prod(shape) * dtype.itemsize
                    if nbytes > info.file_size:
                        raise CorruptRecord(
                            f"{what}: member {info.filename!r} claims {nbytes} bytes of data in {info.file_size}"
                        )
                    raw = member.read()  # to the end, so that zipfile checks the CRC
                if len(raw) != nbytes:
                    raise CorruptRecord(
                        f"{what}: member {info.filename!r} has {len(raw)} bytes of data, its header says {nbytes}"
                    )
                arr = np.frombuffer(raw, dtype=dtype).reshape(shape, order="F" if fortran else "C")
                out[info.filename[:-4]] = arr.copy()
            return out
    except CorruptRecord:
        raise
    except MemoryError:
        raise
    except Exception as exc:
        raise CorruptRecord(f"{what}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None


def decode_arrays(blob, what: str = "blob") -> dict:
    """{name: array} from .npz bytes (see load_npz), never unpickling."""
    data = bytes(blob)
    return load_npz(io.BytesIO(data), len(data), what)
