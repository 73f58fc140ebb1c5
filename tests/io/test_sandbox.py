"""The decoding sandbox: a decoder that aborts, hangs or asks for too much memory costs one file
one message, never this process; what it decodes is what in-process decoding gives."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO

import numpy as np
import pytest
from pydicom import dcmread

from mmcrnet.errors import CorruptDicom, ImageTooLarge
from mmcrnet.io import RawFile, read_study
from mmcrnet.io.dicom import DecodedDicom, read_header
from mmcrnet.io.sandbox import SandboxLimits, decode_isolated
from mmcrnet.io.sources import DEFAULT_LIMITS


@pytest.fixture
def aborting(testdata: Callable[[str], RawFile]) -> RawFile:
    """pydicom's 644-byte JPEG-LS file with Rows set to 4095: GDCM aborts the process on it
    (``gdcmBitmap.cxx:737``, an uncaught C++ exception)."""
    ds = dcmread(BytesIO(testdata("JPEGLSNearLossless_08.dcm").data))
    ds.Rows = 4095
    out = BytesIO()
    ds.save_as(out)
    return RawFile("hostile.dcm", out.getvalue())


def test_a_decoder_that_aborts_costs_one_message(aborting: RawFile) -> None:
    with pytest.raises(CorruptDicom, match=r"hostile.dcm: .*decoder crashed.*\(aborted\)"):
        read_study([aborting])
    # ... and this process is still here to read the next upload.
    with pytest.raises(CorruptDicom, match="crashed"):
        read_study([aborting])


def test_the_files_after_a_crash_are_read_by_a_new_child(
    aborting: RawFile, make_dicom: Callable[..., RawFile]
) -> None:
    good = [make_dicom(f"good{i}.dcm", np.full((16, 16), 100 + i, np.uint16)) for i in range(2)]
    headers = [read_header(f, DEFAULT_LIMITS) for f in good]
    raws = [good[0], aborting, good[1]]
    outcomes = decode_isolated(
        [headers[0], headers[0], headers[1]], raws, read_limits=DEFAULT_LIMITS, want_voi=False
    )
    first, crashed, last = outcomes
    assert isinstance(crashed, CorruptDicom)
    assert isinstance(first, DecodedDicom) and isinstance(last, DecodedDicom)
    assert [float(first.values.max()), float(last.values.max())] == [100.0, 101.0]


def test_isolated_decoding_gives_what_in_process_decoding_gives(
    testdata: Callable[[str], RawFile],
) -> None:
    for name in (
        "MR_small.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "JPEG2000.dcm",
        "SC_rgb_rle_2frame.dcm",
    ):
        raw = testdata(name)
        here = read_study([raw], isolate=False)
        there = read_study([raw])
        np.testing.assert_array_equal(here.image, there.image)
        assert here.window == there.window and here.warnings == there.warnings


def test_a_decoder_that_takes_too_long_is_stopped(testdata: Callable[[str], RawFile]) -> None:
    raw = testdata("MR_small.dcm")
    header = read_header(raw, DEFAULT_LIMITS)
    (outcome,) = decode_isolated(
        [header],
        [raw],
        read_limits=DEFAULT_LIMITS,
        want_voi=False,
        limits=SandboxLimits(wall_seconds=0.0),
    )
    assert isinstance(outcome, CorruptDicom) and "took longer than 0 s" in str(outcome)


def test_a_decoder_that_asks_for_too_much_memory_is_refused(
    make_dicom: Callable[..., RawFile],
) -> None:
    raw = make_dicom("big.dcm", np.ones((8, 1024, 1024), np.uint16))  # 64 MiB as float32
    header = read_header(raw, DEFAULT_LIMITS)
    (outcome,) = decode_isolated(
        [header],
        [raw],
        read_limits=DEFAULT_LIMITS,
        want_voi=False,
        limits=SandboxLimits(memory_bytes=48 * 2**20),
    )
    assert isinstance(outcome, ImageTooLarge | CorruptDicom), outcome
    assert "big.dcm" in str(outcome)


def test_a_reused_child_decodes_many_reads_and_is_replaced_after_a_crash(
    aborting: RawFile, make_dicom: Callable[..., RawFile]
) -> None:
    from mmcrnet.io import sandbox

    good = [make_dicom(f"good{i}.dcm", np.full((16, 16), 100 + i, np.uint16)) for i in range(3)]

    def decoded(raw: RawFile) -> DecodedDicom | Exception:
        header = read_header(good[0] if raw is aborting else raw, DEFAULT_LIMITS)
        return decode_isolated([header], [raw], read_limits=DEFAULT_LIMITS, want_voi=False)[0]

    def child_pid() -> int:
        reuse = sandbox._reuse.get()
        assert reuse is not None and reuse.child is not None
        return reuse.child.pid

    with sandbox.reused_child(max_jobs=3):
        pids = []
        for i, raw in enumerate(good[:2]):
            result = decoded(raw)
            assert isinstance(result, DecodedDicom) and float(result.values.max()) == 100 + i
            pids.append(child_pid())
        assert pids[0] == pids[1]  # one child for both reads
        assert isinstance(decoded(aborting), CorruptDicom)
        result = decoded(good[2])  # a new child reads on
        assert isinstance(result, DecodedDicom) and float(result.values.max()) == 102.0
        assert child_pid() != pids[0]
        reuse = sandbox._reuse.get()
        assert reuse is not None and reuse.child is not None
        kept = reuse.child
    assert kept.poll() is not None  # the block's child is stopped when it ends
