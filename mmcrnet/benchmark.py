"""How fast one case goes through the model on this machine: loading, reading a DICOM series,
the forward pass, a whole prediction, and a whole explanation with each of its steps; batches,
a 1 000-case cohort folder end to end, and the app in a real browser; Grad-CAM and Integrated
Gradients against their peers in the same run.

The explanation's steps are timed by the explainer itself (:attr:`Explanation.timings_ms`),
so a change in the pipeline shows up here as it is, never as a re-creation of it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import torch
from pydicom.uid import generate_uid

from mmcrnet.bench_peers import gradcam_against_peer, integrated_gradients_against_peer
from mmcrnet.case import ClinicalCase
from mmcrnet.checkpoint import InvalidModel
from mmcrnet.cohort import load_cohort
from mmcrnet.errors import CohortProblem, InvalidCohort
from mmcrnet.explain import Explainer
from mmcrnet.explain.sequence import baseline_for
from mmcrnet.io import read_paths, sandbox
from mmcrnet.predict import Predictor, PreparedInput
from mmcrnet.preprocess import model_image
from mmcrnet.timing import Timing, timed

#: What each timed step covers (the explainer's own step names).
EXPLAIN_STEPS = {
    "predict": "image and sequence embeddings, head, calibration",
    "image_maps": "Grad-CAM + HiResCAM (one backward pass through the image branch), upsampled",
    "integrated_gradients": "IG over the sequence, image embedding held fixed",
    "occlusion": "feature occlusion over the sequence",
    "modalities": "exact Shapley values of image, clinical and genomic data",
    "trajectory": "the prediction with each prefix of the time points",
    "total": "the whole explanation",
}


def benchmark(
    model_dir: Path | str,
    examples: Path | str,
    repeats: int = 50,
    device: str | None = None,
    throughput_sizes: tuple[int, ...] = (32, 256),
    volume_slices: int = 60,
    batch_cases: int = 0,
    app_repeats: int = 0,
) -> dict[str, Any]:
    """Time the first bundled example (with its DCE-MRI) through ``model_dir``: loading, the
    forward pass, a prediction, the explanation's steps, batch throughput at
    ``throughput_sizes`` against one case at a time, decoding and preprocessing the 3-phase
    series and a ``volume_slices``-slice volume made from it (with peak memory), and Grad-CAM
    and Integrated Gradients
    against their peers (:mod:`mmcrnet.bench_peers`), outputs checked equal; with
    ``batch_cases``, batch prediction of a phantom cohort folder of that many cases end to end
    (:func:`batch_evaluation`); with ``app_repeats``, the app's Predict in a browser
    (:func:`app_predict`).

    Raises:
        InvalidModel: the model cannot be loaded; InvalidCohort: the examples have no images.
    """
    predictor = Predictor(model_dir, device=device)
    load_ms = timed(
        lambda: Predictor(model_dir, device=device),
        max(3, repeats // 10),
        predictor.device,
        warmup=0,
    )
    cohort = load_cohort(examples)
    case_id = cohort.case_ids[0]
    clinical = ClinicalCase.from_tables(cohort.cases, cohort.timepoints, case_id)
    folder = cohort.image_folder(case_id)
    if folder is None:
        raise InvalidCohort(
            [CohortProblem(str(cohort.root), None, None, f"case {case_id} has no images/ folder")]
        )
    study = read_paths([folder / "mri"], isolate=False)
    prepared = predictor.prepare(clinical, study)
    run = predictor.device
    result: dict[str, Any] = {
        "device": str(predictor.device),
        "threads": torch.get_num_threads(),
        "model_load_ms": Timing.of(load_ms, "weights (hash checked) and card"),
        "forward_ms": Timing.of(timed(lambda: predictor.logits(prepared), repeats, run)),
        "predict_case_ms": Timing.of(
            timed(lambda: predictor.predict(clinical, study), repeats, run),
            "validate + encode + preprocess the image + forward + calibrate",
        ),
        "read_dicom_series_ms": Timing.of(
            timed(lambda: read_paths([folder / "mri"], isolate=False), max(5, repeats // 5), run)
        ),
        "repeats": repeats,
    }
    try:
        explainer = Explainer(predictor)
    except InvalidModel as exc:
        result["explanation"] = {"skipped": str(exc)}
        return result
    steps: dict[str, list[float]] = {}

    def explain() -> None:
        for step, ms in explainer.explain(clinical, study, prepared=prepared).timings_ms.items():
            steps.setdefault(step, []).append(ms)

    timed(explain, repeats, run)
    result["explanation_ms"] = {
        step: Timing.of(values[3:], EXPLAIN_STEPS.get(step, step))  # after the warm-up calls
        for step, values in steps.items()
    }
    with tempfile.TemporaryDirectory(prefix="oncopredict-volume-") as scratch:
        result["decode_and_preprocess"] = {
            "3-phase series": decode_and_preprocess([folder / "mri"], max(3, repeats // 10)),
            f"{volume_slices}-slice volume": decode_and_preprocess(
                [write_volume(folder / "mri", Path(scratch), volume_slices)],
                max(2, repeats // 50),
            ),
        }
    result["batch_throughput"] = {
        str(size): batch_throughput(predictor, prepared, size, max(3, repeats // 10))
        for size in throughput_sizes
    }
    model = predictor.model.eval()
    result["peers"] = {
        "gradcam": gradcam_against_peer(model, prepared, predictor.temperature, repeats),
        "integrated_gradients": integrated_gradients_against_peer(
            model,
            prepared,
            _reference_baseline(explainer, prepared),
            predictor.temperature,
            max(5, repeats // 5),
            steps=explainer.steps,
        ),
    }
    if batch_cases:
        result["batch_evaluation"] = batch_evaluation(model_dir, batch_cases, device)
    if app_repeats:
        result["app"] = app_predict(app_repeats)
    return result


def batch_evaluation(
    model_dir: Path | str, cases: int, device: str | None = None
) -> dict[str, Any]:
    """A phantom cohort folder of ``cases`` cases (DICOM DCE-MRI, tables, outcomes) predicted
    end to end as ``python -m mmcrnet predict`` does it: the model and guard loaded, every
    file decoded in the sandbox, prepared, guarded, predicted and scored."""
    from mmcrnet.batch_predict import predict_cohort
    from mmcrnet.phantom.writer import write_cohort

    with tempfile.TemporaryDirectory(prefix="oncopredict-batch-") as scratch:
        folder = Path(scratch) / "cohort"
        write_cohort(folder, cases, seed=4242, images=True)
        files = sum(1 for _ in (folder / "images").rglob("*.dcm"))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # as the predict command: the reading thread takes the other
        try:
            started = time.perf_counter()
            result = predict_cohort(model_dir, folder, device=device)
            summary = result.summary()
            seconds = time.perf_counter() - started
        finally:
            torch.set_num_threads(threads)
    return {
        "cases": cases,
        "files": files,
        "seconds": round(seconds, 1),
        "cases_per_s": round(cases / seconds, 1),
        "threads": 1,
        "predicted": result.counts(),
        "accuracy": (summary.get("metrics") or {}).get("accuracy"),
        "what": "load model and guard, decode every file in the sandbox, prepare, guard, "
        "predict and score (python -m mmcrnet predict)",
    }


def app_predict(repeats: int) -> dict[str, Any]:
    """The app in Debian's chromium (``scripts/benchmark_app.py``, run from a checkout): a
    warm server, Predict pressed on a bundled example to the full result drawn, ``repeats``
    times; skipped where the checkout's script or the browser is missing."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "benchmark_app.py"
    if not script.is_file():
        return {"skipped": f"{script} is not here (the app is timed from a checkout)"}
    done = subprocess.run(
        [sys.executable, str(script), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=script.parent.parent,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"the browser benchmark failed: {last}"}
    return dict(json.loads(done.stdout))


def write_volume(phases: Path, out: Path, slices: int) -> Path:
    """A ``slices``-slice DCE volume: each phase file of ``phases`` written again at every
    slice position (3 mm apart, new SOP instances); returns its folder."""
    for k, source in enumerate(sorted(phases.glob("*.dcm"))):
        dataset = pydicom.dcmread(source)
        for s in range(slices):
            dataset.SOPInstanceUID = generate_uid()
            dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
            dataset.ImagePositionPatient = [-78.4, -78.4, 3.0 * s]
            dataset.SliceLocation = 3.0 * s
            dataset.InstanceNumber = k * slices + s + 1
            dataset.save_as(out / f"p{k}s{s:03d}.dcm", enforce_file_format=False)
    return out


def decode_and_preprocess(paths: list[Path], repeats: int) -> dict[str, Any]:
    """Read a DICOM series the way an upload is read (the decoding sandbox included) and make
    the model's image input; the time, and the peak of Python-tracked memory (numpy included)
    during one read, and the decoding child's peak resident memory (its Python included)."""

    def step() -> None:
        model_image(read_paths(paths))

    times = timed(step, repeats, torch.device("cpu"))
    tracemalloc.start()
    sandbox.peak_child_kib = 0
    try:
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    files = sum(1 for p in paths for _ in (p.glob("*.dcm") if p.is_dir() else [p]))
    return {
        "files": files,
        "ms": Timing.of(times),
        "peak_mb": round(peak / 2**20, 1),
        "decoding_child_peak_rss_mb": round(sandbox.peak_child_kib / 1024, 1),
    }


def _reference_baseline(explainer: Explainer, prepared: PreparedInput) -> torch.Tensor:
    """The explainer's IG baseline for the case: the reference patient, (1, T, F)."""
    length = int(prepared.length[0])
    base = baseline_for(
        prepared.sequence[0].cpu().numpy(), length, explainer.reference, list(range(length))
    )
    return torch.from_numpy(base)[None].to(prepared.sequence.device)


@torch.no_grad()
def batch_throughput(
    predictor: Predictor, prepared: PreparedInput, size: int, repeats: int
) -> dict[str, Any]:
    """Cases a second through the model in batches of ``size`` (the case repeated), against
    the same cases one at a time in the same run; the batch's logits checked equal to the
    single case's."""
    model, device = predictor.model.eval(), predictor.device
    image = prepared.image.expand(size, -1, -1, -1).contiguous(memory_format=torch.channels_last)
    kinds, lengths = prepared.kind.expand(size), prepared.length.expand(size)
    sequence = prepared.sequence.expand(size, -1, -1).contiguous()
    single = model(prepared.image, prepared.kind, prepared.sequence, prepared.length)
    batched = model(image, kinds, sequence, lengths)
    difference = float((batched - single).abs().max())
    batch_ms = timed(lambda: model(image, kinds, sequence, lengths), repeats, device)
    one_ms = timed(
        lambda: [
            model(prepared.image, prepared.kind, prepared.sequence, prepared.length)
            for _ in range(size)
        ],
        max(2, repeats // 2),
        device,
    )
    batch_rate = size / (float(np.median(batch_ms)) / 1000)
    one_rate = size / (float(np.median(one_ms)) / 1000)
    return {
        "cases_per_s": round(batch_rate, 1),
        "one_at_a_time_cases_per_s": round(one_rate, 1),
        "speedup": round(batch_rate / one_rate, 2),
        "max_abs_logit_difference": difference,
        "batch_ms": Timing.of(batch_ms),
    }


def summary(result: dict[str, Any]) -> str:
    """The figures with their peers and targets, one line each (what ``--json`` prints whole)."""

    def ms(timing: Timing) -> str:
        return f"{timing.median:.1f} ms (p95 {timing.p95:.1f})"

    lines = [f"device {result['device']}, {result['threads']} threads, {result['repeats']} repeats"]
    lines.append(f"model load                     {ms(result['model_load_ms'])}")
    lines.append(f"one-case prediction            {ms(result['predict_case_ms'])}")
    for size, rate in result.get("batch_throughput", {}).items():
        lines.append(
            f"batch {size:>4} throughput          {rate['cases_per_s']} cases/s, "
            f"{rate['speedup']}x one case at a time ({rate['one_at_a_time_cases_per_s']}/s)"
        )
    peers = result.get("peers", {})
    cam = peers.get("gradcam", {})
    if "ours_ms" in cam:
        lines.append(
            f"Grad-CAM                       {ms(cam['ours_ms'])} vs pytorch-grad-cam "
            f"{ms(cam['peer_ms'])}: {cam['speedup']}x (target >= 3x), r = {cam['pearson_r']}"
        )
    ig = peers.get("integrated_gradients", {})
    if "ours_ms" in ig:
        lines.append(
            f"Integrated Gradients ({ig['steps']} steps) {ms(ig['ours_ms'])} vs Captum "
            f"{ms(ig['peer_ms'])}: {ig['speedup']}x (target >= 50x), "
            f"max diff {ig['max_abs_difference']:.1e}"
        )
    total = result.get("explanation_ms", {}).get("total")
    if total is not None:
        lines.append(f"whole explanation              {ms(total)} (target <= 40 ms median)")
    for name, read in result.get("decode_and_preprocess", {}).items():
        lines.append(
            f"decode + preprocess {name:<11}{ms(read['ms'])}, {read['files']} files, "
            f"peak {read['peak_mb']} MB here, {read['decoding_child_peak_rss_mb']} MB "
            "in the decoding child"
        )
    batch = result.get("batch_evaluation")
    if batch:
        lines.append(
            f"batch evaluation               {batch['cases']} cases in {batch['seconds']} s "
            f"({batch['cases_per_s']} cases/s; target <= 30 s)"
        )
    app = result.get("app")
    if app and "submit_to_full_result_s" in app:
        submit = app["submit_to_full_result_s"]
        lines.append(
            f"app Predict -> result drawn    median {submit['median']} s, max {submit['max']} s "
            f"over {submit['repeats']} fresh sessions (target <= 1.0 s median)"
        )
        again = app.get("same_session_next_case_s")
        if again:
            lines.append(
                f"  the next case, same session  median {again['median']} s, max {again['max']} s"
            )
    elif app:
        lines.append(f"app                            skipped: {app.get('skipped')}")
    return "\n".join(lines)
