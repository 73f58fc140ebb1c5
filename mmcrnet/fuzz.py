"""Mutation fuzzing of the upload path: the readers' contract under hostile bytes.

The contract: an upload is read the way the Predict page reads it (``read_study`` on the bytes,
then the model's image from the study), and either that works or our own exception
(:class:`mmcrnet.errors.OncoPredictError`) says why in one line. Anything else escaping is a
broken contract; a crash of this process would end the run (the decoder sandbox exists so it
cannot).

Seeds are pydicom's bundled test files and our own DICOM, PNG and zip files; mutations are byte
flips, interesting values written over integers, cut and repeated chunks, truncation, and
header edits that make a file declare what it does not hold (rows, frames, lengths).
``python -m mmcrnet fuzz`` runs it and prints the figures the README quotes.
"""

from __future__ import annotations

import io
import random
import resource
import struct
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mmcrnet.errors import OncoPredictError
from mmcrnet.io import RawFile, read_study, sandbox
from mmcrnet.preprocess import model_image

_INTERESTING_16 = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 4095, 4096)
_INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFF0, 1 << 20, 30_000_000)
# (group, element) of the header values whose lies hurt most
_TAGS = {
    "Rows": (0x0028, 0x0010),
    "Columns": (0x0028, 0x0011),
    "BitsAllocated": (0x0028, 0x0100),
    "SamplesPerPixel": (0x0028, 0x0002),
}


@dataclass(frozen=True)
class Seed:
    name: str
    data: bytes


@dataclass(frozen=True)
class Escape:
    """A broken contract: an exception that is not ours."""

    seed: str
    mutation: str
    error: str  # "TypeName: message"


@dataclass
class FuzzReport:
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # "read" or the error class
    escapes: list[Escape] = field(default_factory=list)
    slowest_s: float = 0.0
    slowest: str = ""
    seconds: float = 0.0
    peak_rss_mb: float = 0.0  # this process
    peak_child_rss_mb: float = 0.0  # the largest decoding child

    def to_dict(self) -> dict[str, object]:
        return {
            "inputs": self.inputs,
            "outcomes": dict(self.outcomes.most_common()),
            "escapes": [e.__dict__ for e in self.escapes],
            "slowest_s": round(self.slowest_s, 3),
            "slowest": self.slowest,
            "seconds": round(self.seconds, 1),
            "inputs_per_s": round(self.inputs / self.seconds, 1) if self.seconds else 0.0,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "peak_child_rss_mb": round(self.peak_child_rss_mb, 1),
        }


def seeds(examples_dir: Path | None = None) -> list[Seed]:
    """pydicom's bundled test files (those on disk; nothing is downloaded) and our own DICOM,
    PNG and a zip of a DCE series from ``examples_dir``."""
    from pydicom.data import get_testdata_file

    found: list[Seed] = []
    mr_small = get_testdata_file("MR_small.dcm")
    if mr_small is not None:
        folder = Path(str(mr_small)).parent
        for path in sorted(folder.glob("*.dcm")):
            if path.stat().st_size <= 2 * 2**20:
                found.append(Seed(path.name, path.read_bytes()))
    if examples_dir is not None:
        images = sorted((examples_dir / "images").iterdir())[:2]
        for case in images:
            for path in sorted(case.rglob("*.dcm")):
                found.append(Seed(f"{case.name}/{path.name}", path.read_bytes()))
        for path in sorted((examples_dir / "png").rglob("*.png"))[:4]:
            found.append(Seed(f"png/{path.name}", path.read_bytes()))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted((images[0] / "mri").glob("*.dcm")):
                zf.write(path, f"series/{path.name}")
        found.append(Seed("series.zip", buf.getvalue()))
    return found


def _flip(data: bytearray, rng: random.Random) -> str:
    at = rng.randrange(len(data))
    data[at] ^= 1 << rng.randrange(8)
    return f"flip@{at}"


def _interesting(data: bytearray, rng: random.Random) -> str:
    wide = rng.random() < 0.5 and len(data) >= 4
    at = rng.randrange(len(data) - (3 if wide else 1))
    if wide:
        data[at : at + 4] = struct.pack("<I", rng.choice(_INTERESTING_32))
    else:
        data[at : at + 2] = struct.pack("<H", rng.choice(_INTERESTING_16))
    return f"int@{at}"


def _chunk(data: bytearray, rng: random.Random) -> str:
    start = rng.randrange(len(data))
    length = rng.randint(1, min(512, len(data) - start))
    if rng.random() < 0.5:
        del data[start : start + length]
        return f"cut@{start}+{length}"
    data[start:start] = data[start : start + length] * rng.randint(1, 8)
    return f"repeat@{start}+{length}"


def _truncate(data: bytearray, rng: random.Random) -> str:
    keep = rng.randrange(1, len(data))
    del data[keep:]
    return f"truncate@{keep}"


def _header_lie(data: bytearray, rng: random.Random) -> str:
    """Overwrite the value of Rows, Columns, BitsAllocated or SamplesPerPixel (explicit VR
    little endian 'US') with an interesting value."""
    name, (group, element) = rng.choice(sorted(_TAGS.items()))
    tag = struct.pack("<HH", group, element) + b"US\x02\x00"
    at = data.find(tag)
    if at < 0:
        return _interesting(data, rng)
    data[at + 8 : at + 10] = struct.pack("<H", rng.choice(_INTERESTING_16))
    return f"{name}@{at}"


MUTATIONS: tuple[Callable[[bytearray, random.Random], str], ...] = (
    _flip,
    _interesting,
    _chunk,
    _truncate,
    _header_lie,
)


def mutate(data: bytes, rng: random.Random, rounds: int) -> tuple[bytes, str]:
    """``data`` after ``rounds`` random mutations, and what they were."""
    out = bytearray(data)
    done = []
    for _ in range(rounds):
        if not out:
            break
        # a few bytes left: only flips (the other mutations need room to cut and overwrite)
        mutation = rng.choice(MUTATIONS) if len(out) >= 8 else _flip
        done.append(mutation(out, rng))
    return bytes(out), " ".join(done)


def read_like_the_page(raw: RawFile) -> str:
    """Read an upload as the Predict page does; "read" or the name of our error.

    Raises:
        Exception: anything that is not ours (the broken contract the fuzzer looks for).
    """
    try:
        study = read_study([raw])
        model_image(study)
    except OncoPredictError as exc:
        text = str(exc)
        if "\n" in text or not text.strip():
            raise AssertionError(f"not one line: {text!r}") from exc
        text.encode("utf-8")  # a lone surrogate would break the page that shows it
        return type(exc).__name__
    return "read"


def run(
    n: int,
    seed: int = 0,
    examples_dir: Path | None = None,
    max_seconds: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FuzzReport:
    """Try ``n`` mutated inputs (or as many as ``max_seconds`` allows)."""
    rng = random.Random(seed)
    pool = seeds(examples_dir)
    report = FuzzReport()
    started = time.perf_counter()
    for i in range(n):
        if max_seconds is not None and time.perf_counter() - started > max_seconds:
            break
        source = rng.choice(pool)
        data, mutation = mutate(source.data, rng, rng.choice((1, 1, 2, 4, 8)))
        t0 = time.perf_counter()
        try:
            outcome = read_like_the_page(RawFile(f"fuzz{i}{Path(source.name).suffix}", data))
        except Exception as exc:  # the contract is broken: record it, go on
            outcome = f"ESCAPED {type(exc).__name__}"
            report.escapes.append(
                Escape(source.name, mutation, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
            )
        took = time.perf_counter() - t0
        if took > report.slowest_s:
            report.slowest_s, report.slowest = took, f"{source.name} {mutation} -> {outcome}"
        report.outcomes[outcome] += 1
        report.inputs += 1
        if progress is not None:
            progress(report.inputs, n)
    report.seconds = time.perf_counter() - started
    report.peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report.peak_child_rss_mb = sandbox.peak_child_kib / 1024
    return report
