"""Pixel decoding of untrusted DICOM in a separate, resource-limited process.

The decoder plugins are C, C++ and Rust libraries. Some abort the whole process on hostile input
(GDCM's ``gdcmBitmap.cxx`` assertion on a 644-byte JPEG-LS file), hang, or ask for gigabytes.
In the Streamlit server that would take every user's session down, so uploads are decoded in a
child process (``python -m mmcrnet.io.sandbox``) with an address-space and CPU-time limit and a
wall-clock timeout per file: a decoder that crashes or hangs costs that file one message, never
the server.

Each child decodes one series and exits; a spare child is started ahead so that its Python start
(about 0.7 s) is not waited for. A batch over a researcher's own cohort may instead keep one
child for many series (:func:`reused_child`): the same limits, the same refusals, without a
Python start per case. When a child dies on a file, that file is refused and a new
child takes the rest. Nothing crosses the boundary as pickle: both directions are a JSON header
and raw bytes, and the parent checks every array's dtype and size, so a decoder subverted by a
hostile file cannot hand the server an object to run.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import json
import os
import resource
import select
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

import numpy as np

import mmcrnet.errors as errors
from mmcrnet.errors import CorruptDicom, ImageTooLarge, UnreadableImage
from mmcrnet.io.dicom import DecodedDicom, DicomHeader, decode, read_header
from mmcrnet.io.sources import Limits, RawFile


@dataclass(frozen=True)
class SandboxLimits:
    """What one decoding child may use."""

    memory_bytes: int = 3 * 2**30  # address space on top of the child's own after start-up
    cpu_seconds: int = 120  # CPU time for all the files of one child
    wall_seconds: float = 60.0  # per file, counted from the previous file's result


DEFAULT_SANDBOX = SandboxLimits()
_DTYPES = ("float32", "float64", "uint8", "uint16", "int16", "int32")
_HEADER = struct.Struct("<Q")  # length of the JSON header that starts every message
_MAX_HEADER = 1 << 20

_SPARE_LOCK = threading.Lock()
_spare: subprocess.Popen[bytes] | None = None
#: The largest peak resident memory (VmHWM, KiB) of any decoding child so far (the fuzzer and
#: the benchmarks report it; a child's rusage would count the parent it was forked from).
peak_child_kib = 0


# ---------------------------------------------------------------- framing (both directions)


def _write_message(out: IO[bytes], header: dict[str, Any], blobs: Sequence[bytes]) -> None:
    text = json.dumps(header).encode()
    out.write(_HEADER.pack(len(text)))
    out.write(text)
    for blob in blobs:
        out.write(blob)
    out.flush()


class _Timeout(Exception):
    pass


def _read_exact(fd: int, n: int, deadline: float) -> bytes:
    """``n`` bytes from ``fd``; EOFError when the writer is gone, _Timeout after the deadline."""
    chunks: list[bytes] = []
    left = n
    while left:
        wait = deadline - time.monotonic()
        if wait <= 0 or not select.select([fd], [], [], wait)[0]:
            raise _Timeout
        chunk = os.read(fd, min(left, 1 << 22))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_message(fd: int, deadline: float, max_body: int) -> tuple[dict[str, Any], bytes]:
    """One message; a header or body larger than the child could honestly send ends the talk
    (EOFError), so a subverted child cannot make the server allocate what it likes."""
    (length,) = _HEADER.unpack(_read_exact(fd, _HEADER.size, deadline))
    if length > _MAX_HEADER:
        raise EOFError
    header = json.loads(_read_exact(fd, length, deadline))
    body_bytes = int(header.get("body_bytes", 0))
    if not 0 <= body_bytes <= max_body:
        raise EOFError
    return header, _read_exact(fd, body_bytes, deadline)


# ---------------------------------------------------------------- the child


def _limit_self(limits: SandboxLimits) -> None:
    with open("/proc/self/status") as status:
        size_kb = next(int(line.split()[1]) for line in status if line.startswith("VmSize:"))
    cap = size_kb * 1024 + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind


def _array_entry(name: str, array: np.ndarray) -> dict[str, Any]:
    return {"name": name, "dtype": str(array.dtype), "shape": list(array.shape)}


def _child_main() -> None:
    """Read jobs from stdin until it closes, answer one message per file on stdout, in order;
    the limits are set once, before the first file is decoded."""
    limited = False
    while True:
        stdin = sys.stdin.buffer
        start = stdin.read(_HEADER.size)
        if len(start) < _HEADER.size:
            return  # no more jobs (or a spare child whose parent has gone)
        (length,) = _HEADER.unpack(start)
        job = json.loads(stdin.read(length))
        limits = SandboxLimits(**job["sandbox"])
        raws = [RawFile(name, stdin.read(size)) for name, size in job["files"]]
        if not limited:
            _limit_self(limits)
            limited = True
        if not _decode_job(raws, job, limits):
            return


def _decode_job(raws: list[RawFile], job: dict[str, Any], limits: SandboxLimits) -> bool:
    """Answer one job's files; False after a bug (the child then exits)."""
    stdout = sys.stdout.buffer
    read_limits = Limits(**job["read_limits"])
    for raw in raws:
        try:
            decoded = decode(read_header(raw, read_limits), want_voi=job["want_voi"])
        except UnreadableImage as exc:
            _write_message(stdout, _refusal(exc), [])
            continue
        except MemoryError:
            too_large = ImageTooLarge(
                f"{raw.name}: decoding needs more than {limits.memory_bytes // 2**20} MiB"
            )
            _write_message(stdout, _refusal(too_large), [])
            continue
        except Exception:  # a bug, ours or a library's: the parent raises it as one
            _write_message(stdout, {"status": "bug", "traceback": traceback.format_exc()}, [])
            return False
        arrays = [("values", np.ascontiguousarray(decoded.values))]
        if decoded.voi is not None:
            arrays.append(("voi", np.ascontiguousarray(decoded.voi)))
        blobs = [a.tobytes() for _, a in arrays]
        header = {
            "status": "ok",
            "arrays": [_array_entry(n, a) for n, a in arrays],
            "voi_range": decoded.voi_range,
            "colour_range": decoded.colour_range,
            "warnings": list(decoded.warnings),
            "body_bytes": sum(len(b) for b in blobs),
        }
        _write_message(stdout, header, blobs)
    return True


def _refusal(exc: UnreadableImage) -> dict[str, Any]:
    return {"status": "refused", "error": type(exc).__name__, "message": str(exc)}


# ---------------------------------------------------------------- the parent


def _start_child() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "mmcrnet.io.sandbox"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # decoders print what they choke on; nothing of it is ours
        close_fds=True,
    )


@atexit.register
def _stop_spare() -> None:
    if _spare is not None:
        _end(_spare)


@dataclass
class _Reuse:
    """A child kept for the reads of one :func:`reused_child` block."""

    max_jobs: int
    child: subprocess.Popen[bytes] | None = None
    jobs: int = 0


_reuse: contextvars.ContextVar[_Reuse | None] = contextvars.ContextVar(
    "sandbox_reuse", default=None
)


@contextlib.contextmanager
def reused_child(max_jobs: int = 256) -> Iterator[None]:
    """Within the block, this thread's reads share one decoding child, replaced after
    ``max_jobs`` series (its CPU-time limit counts them all) or when it dies on a file.

    For many series of one source (a batch over a cohort folder): a hostile file still costs
    only itself, but the child that decoded it may go on to decode the next case.
    """
    reuse = _Reuse(max_jobs)
    token = _reuse.set(reuse)
    try:
        yield
    finally:
        _reuse.reset(token)
        if reuse.child is not None:
            _end(reuse.child)


def _end(child: subprocess.Popen[bytes]) -> None:
    """Stop ``child`` and note its peak memory."""
    _note_peak(child.pid)
    child.kill()
    child.wait()
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            stream.close()


def _take_child() -> subprocess.Popen[bytes]:
    """A started child: the block's reused one, else the spare when there is one (and a new
    spare starts for the next read)."""
    global _spare
    reuse = _reuse.get()
    if reuse is not None:
        if reuse.child is not None and (
            reuse.child.poll() is not None or reuse.jobs >= reuse.max_jobs
        ):
            _end(reuse.child)
            reuse.child = None
        if reuse.child is None:
            reuse.child, reuse.jobs = _start_child(), 0
        reuse.jobs += 1
        return reuse.child
    with _SPARE_LOCK:
        child = _spare if _spare is not None and _spare.poll() is None else _start_child()
        _spare = _start_child()
    return child


def _send_job(
    child: subprocess.Popen[bytes],
    raws: Sequence[RawFile],
    read_limits: Limits,
    want_voi: bool,
    limits: SandboxLimits,
) -> None:
    job = {
        "sandbox": asdict(limits),
        "read_limits": asdict(read_limits),
        "want_voi": want_voi,
        "files": [[raw.name, len(raw.data)] for raw in raws],
    }
    assert child.stdin is not None
    try:
        _write_message(child.stdin, job, [raw.data for raw in raws])
        if _reuse.get() is None:
            child.stdin.close()  # the child's only job: it exits after it
    except BrokenPipeError:
        pass  # the child died before reading; the first read below says so


def _result(
    header: dict[str, Any], body: bytes, dicom: DicomHeader, name: str
) -> DecodedDicom | UnreadableImage:
    """The child's answer for one file, checked (dtype, shape and size of every array)."""
    if header.get("status") == "bug":
        raise RuntimeError(f"decoding {name} failed in the sandbox:\n{header.get('traceback')}")
    if header.get("status") == "refused":
        error = getattr(errors, str(header.get("error")), None)
        kind = error if isinstance(error, type) and issubclass(error, UnreadableImage) else None
        return (kind or CorruptDicom)(str(header.get("message", f"{name}: refused")))
    arrays: dict[str, np.ndarray] = {}
    offset = 0
    for entry in header["arrays"]:
        dtype = str(entry["dtype"])
        if dtype not in _DTYPES:
            raise RuntimeError(f"the decoding child sent an array of dtype {dtype!r}")
        shape = tuple(int(s) for s in entry["shape"])
        size = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if offset + size > len(body):
            raise RuntimeError("the decoding child sent less data than it declared")
        arrays[str(entry["name"])] = (
            np.frombuffer(body, dtype=dtype, count=int(np.prod(shape)), offset=offset)
            .reshape(shape)
            .copy()
        )
        offset += size

    def pair(value: object) -> tuple[float, float] | None:
        if isinstance(value, list) and len(value) == 2:
            return float(value[0]), float(value[1])
        return None

    return DecodedDicom(
        header=dicom,
        values=arrays["values"],
        voi=arrays.get("voi"),
        voi_range=pair(header.get("voi_range")),
        colour_range=pair(header.get("colour_range")),
        warnings=tuple(str(w) for w in header.get("warnings", [])),
    )


def decode_isolated(
    headers: Sequence[DicomHeader],
    raws: Sequence[RawFile],
    *,
    read_limits: Limits,
    want_voi: bool,
    limits: SandboxLimits = DEFAULT_SANDBOX,
) -> list[DecodedDicom | UnreadableImage]:
    """:func:`mmcrnet.io.dicom.decode` of each file in a child process.

    Args:
        headers: the files' headers, read in this process (the results carry them).
        raws: the same files' bytes, in the same order.
        read_limits: the reader's limits (the child checks each header again).
        want_voi: also apply the VOI LUT Sequence.
        limits: what a child may use.

    Returns:
        Per file, the decoded frames or the error that refuses it: a crash, a timeout, too much
        memory, or the reader's own error.
    """
    results: list[DecodedDicom | UnreadableImage] = []
    pending = list(range(len(raws)))
    while pending:
        child = _take_child()
        _send_job(child, [raws[i] for i in pending], read_limits, want_voi, limits)
        assert child.stdout is not None
        fd = child.stdout.fileno()
        done, whole = 0, False
        try:
            for index in pending:
                deadline = time.monotonic() + limits.wall_seconds
                header, body = _read_message(fd, deadline, limits.memory_bytes)
                results.append(_result(header, body, headers[index], raws[index].name))
                done += 1
            whole = True
        except _Timeout:
            results.append(
                CorruptDicom(
                    f"{raws[pending[done]].name}: decoding took longer than "
                    f"{limits.wall_seconds:g} s and was stopped"
                )
            )
            done += 1
        except (EOFError, OSError, ValueError):  # the child died on this file
            child.kill()
            reason = _exit_reason(child.wait())
            results.append(
                CorruptDicom(
                    f"{raws[pending[done]].name}: the pixel data decoder crashed on this file "
                    f"({reason})"
                )
            )
            done += 1
        finally:
            reuse = _reuse.get()
            if reuse is None or reuse.child is not child:
                _end(child)
            elif not whole:  # a block's child that answered every file is kept for the next
                reuse.child = None
                _end(child)
        pending = pending[done:]
    return results


def _note_peak(pid: int) -> None:
    global peak_child_kib
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    peak_child_kib = max(peak_child_kib, int(line.split()[1]))
    except OSError:
        pass  # the child has gone (it crashed): nothing to read


def _exit_reason(code: int) -> str:
    if code < 0:
        names = {6: "aborted", 9: "stopped", 11: "segmentation fault", 24: "CPU time limit"}
        return names.get(-code, f"signal {-code}")
    return f"exit status {code}"


if __name__ == "__main__":
    _child_main()
