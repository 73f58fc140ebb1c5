"""The command line: ``python -m mmcrnet <subcommand>`` (``--help`` on each).

Subcommands:
    phantom write     write a phantom cohort in the cohort format
    phantom validate  check the phantom world against cohort-spec section 6
    phantom examples  regenerate the bundled example cases (assets/examples)
    inspect           read image files and print what was read, as JSON
    cohort check      validate a cohort folder against the feature schema
    cohort import     a cohort folder from a DICOM tree, a clinical table and a mapping
    train             train MM-CRNet (or a baseline / ablation variant)
    evaluate          the paper's Tables 2 and 4, references, calibration, breakdowns
    benchmark         time one-case inference and explanation on this machine
    explain           one case's prediction with its reasons (maps, attributions, Shapley)
    report            one case's result as a PDF report
    predict           batch prediction over a cohort folder, to CSV or JSON lines
    evaluate-explanations
                      check the explanations against the phantom's truth
    guard fit         fit the out-of-distribution guard on the model's training split
    guard evaluate    measure what the guard flags (phantom, pydicom images, transforms)
    fuzz              mutation-fuzz the upload path; the readers' contract under hostile bytes
    teach prepare     a teaching cohort: phantom cases with images and the model's answers
    teach predict     another model's answers for a teaching cohort
    teach bench       time opening a teaching case and drawing a "what if" curve

Exit codes: 0 success, 1 a check failed, 2 bad input (one line on stderr naming it).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mmcrnet.errors import InvalidArgument, InvalidCohort, OncoPredictError
from mmcrnet.jobs import ProgressFile
from mmcrnet.jsonsafe import dumps

if TYPE_CHECKING:  # the subcommands import torch-heavy modules on first use
    import torch
    from tqdm import tqdm

    from mmcrnet.datasets import CaseSet
    from mmcrnet.distributed import Ranks

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
Subcommands = argparse._SubParsersAction  # what add_subparsers returns


@dataclass(frozen=True)
class Flags:
    """Parent parsers of the flags several subcommands share."""

    model: argparse.ArgumentParser  # --model
    device: argparse.ArgumentParser  # --device, --threads
    workers: argparse.ArgumentParser  # --workers
    json: argparse.ArgumentParser  # --json
    steps: argparse.ArgumentParser  # --steps (Integrated Gradients)
    progress: argparse.ArgumentParser  # --progress-file (how a background job hears from us)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _command(args: argparse.Namespace) -> str:
    """The command line that produced a report, to print and record beside its figures."""
    return shlex.join(["python", "-m", "mmcrnet", *args.argv])


def _progress_bar(total: int, description: str, quiet: bool = False) -> tqdm:
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=description,
        unit="case",
        file=sys.stderr,
        disable=quiet,
        dynamic_ncols=True,
    )


def cmd_phantom_write(args: argparse.Namespace) -> int:
    from mmcrnet.phantom.writer import write_cohort

    started = time.perf_counter()
    bar = _progress_bar(args.n, "rendering images") if not args.no_images else None

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    cohort = write_cohort(
        Path(args.out),
        args.n,
        args.seed,
        images=not args.no_images,
        workers=args.workers,
        progress=progress,
        command=_command(args),
    )
    if bar is not None:
        bar.close()
    counts = cohort.outcomes["response"].value_counts().to_dict()
    print(
        dumps(
            {
                "out": str(args.out),
                "n": cohort.n,
                "seed": args.seed,
                "images": not args.no_images,
                "outcomes": counts,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    )
    return EXIT_OK


def cmd_phantom_validate(args: argparse.Namespace) -> int:
    from mmcrnet.phantom.cohort import generate_cohort
    from mmcrnet.phantom.validate import validate_cohort

    started = time.perf_counter()
    report = validate_cohort(generate_cohort(args.n, args.seed))
    seconds = time.perf_counter() - started
    if args.json:
        print(dumps({**report.to_dict(), "seconds": round(seconds, 2)}, indent=2))
    else:
        print(f"phantom validate --n {args.n} --seed {args.seed} ({seconds:.1f} s)")
        for check in report.checks:
            mark = "pass" if check.passed else "FAIL"
            print(
                f"  {mark}  {check.name:<34} {check.measured:7.4f}   target "
                f"{check.target:.2f} +- {check.tolerance:.2f}"
            )
        print("all targets met" if report.passed else "some targets FAILED")
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_phantom_examples(args: argparse.Namespace) -> int:
    from mmcrnet.phantom.examples import write_examples

    chosen = write_examples(Path(args.out), seed=args.seed, command=_command(args))
    print(dumps({"out": str(args.out), "cases": chosen.case_ids}))
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    from mmcrnet.io import read_paths
    from mmcrnet.report import image_summary

    study = read_paths(args.files, modality=args.modality, slice_index=args.slice)
    # Files and folders as "file 1", "[folder]", no patient or study IDs: the output gets pasted
    # into tickets and mails, and file names often carry the patient's name.
    print(dumps(image_summary(study), indent=2))
    return EXIT_OK


def cmd_cohort_import(args: argparse.Namespace) -> int:
    from mmcrnet.cohort_import import import_cohort, mapping_template

    if args.template:
        print(dumps(mapping_template(), indent=2))
        return EXIT_OK
    missing = [f"--{n}" for n in ("dicom", "clinical", "mapping", "out") if not getattr(args, n)]
    if missing:
        raise InvalidArgument(f"cohort import needs {', '.join(missing)}")
    try:
        result = import_cohort(args.dicom, args.clinical, args.mapping, args.out)
    except InvalidCohort as exc:
        for problem in exc.problems:
            print(str(problem), file=sys.stderr)
        print(f"{len(exc.problems)} problem(s); nothing was written", file=sys.stderr)
        return EXIT_BAD_INPUT
    cohort = result.cohort
    print(
        dumps(
            {
                "out": str(args.out),
                "cases": len(cohort.cases),
                "with_mri": cohort.cases_with_image("mri"),
                "with_mammogram": cohort.cases_with_image("mammogram"),
                "outcomes": None
                if cohort.outcomes is None
                else cohort.outcomes["response"].value_counts().to_dict(),
                "left_out": list(result.left_out),
                "warnings": list(cohort.warnings),
            },
            indent=2,
        )
    )
    return EXIT_OK


def cmd_cohort_check(args: argparse.Namespace) -> int:
    from mmcrnet.cohort import load_cohort

    try:
        cohort = load_cohort(args.folder, require_outcomes=not args.no_outcomes)
    except InvalidCohort as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{args.folder}: {len(exc.problems)} problem(s)", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        dumps(
            {
                "folder": str(args.folder),
                "cases": len(cohort.cases),
                "timepoint_rows": len(cohort.timepoints),
                "outcomes": None
                if cohort.outcomes is None
                else cohort.outcomes["response"].value_counts().to_dict(),
                "has_truth": cohort.has_truth,
                "warnings": list(cohort.warnings),
            },
            indent=2,
        )
    )
    return EXIT_OK


def _training_cases(
    args: argparse.Namespace, report: ProgressFile | None = None, quiet: bool = False
) -> CaseSet:
    """The CaseSet named by --phantom N or --cohort DIR, with a progress bar while images load
    (unless ``quiet``) and its progress in ``report``."""
    from mmcrnet.datasets import cohort_case_set, default_cache, phantom_case_set

    total = args.phantom if args.phantom else None
    bar = _progress_bar(total or 0, "reading images", quiet)

    def progress(done: int, count: int) -> None:
        bar.total = count
        bar.update(done - bar.n)
        if report:
            report.update(stage="reading images", done=done, total=count, force=done == count)

    try:
        if args.phantom:
            cache = args.cache or default_cache(args.phantom, args.seed)
            return phantom_case_set(
                args.phantom, args.seed, cache=cache, workers=args.workers, progress=progress
            )
        return cohort_case_set(args.cohort, progress=progress)
    finally:
        bar.close()


def cmd_train(args: argparse.Namespace) -> int:
    from mmcrnet import distributed
    from mmcrnet.predict import compute_device

    device = compute_device(args.device)  # a bad name is one line, before any work
    ranks, device = distributed.start_from_environment(device)
    try:
        return _train(args, ranks, device)
    finally:
        distributed.stop()


def _train(args: argparse.Namespace, ranks: Ranks, device: torch.device) -> int:
    """``train`` in this process: alone, or as one of a torchrun's processes (``ranks``), where
    the first process of each machine reads the images first (filling the cache the others on
    that machine then read) and the main one alone reports progress and writes what follows
    training."""
    from tqdm import tqdm

    from mmcrnet.model import ModelConfig
    from mmcrnet.train import TrainConfig, train_model

    report = ProgressFile(args.progress_file if ranks.main else None)
    if not ranks.local_main:
        ranks.barrier()
    cases = _training_cases(args, report, quiet=not ranks.main)
    if ranks.local_main:
        ranks.barrier()
    config = TrainConfig(
        variant=args.variant,
        seed=args.seed,
        epochs=args.epochs,
        patience=args.patience,
        max_minutes=args.max_minutes,
        threads=args.threads,
        loader_workers=args.loader_workers,
        input_lasso=args.input_lasso,
        model_overrides=(
            {}
            if args.image_pooling == ModelConfig.image_pooling
            else {"image_pooling": args.image_pooling}
        ),
    )
    epochs = tqdm(
        total=args.epochs,
        desc=f"training {args.variant}",
        unit="epoch",
        file=sys.stderr,
        disable=not ranks.main,
        dynamic_ncols=True,
    )
    batches = tqdm(
        desc="  batches",
        unit="batch",
        file=sys.stderr,
        leave=False,
        disable=not ranks.main,
        dynamic_ncols=True,
    )

    history: list[dict] = []

    def on_batch(done: int, total: int) -> None:
        if batches.total != total or done == 1:
            batches.reset(total=total)
        batches.update(done - batches.n)
        report.update(stage="training", batch=done, batches=total)

    def on_epoch(record: dict) -> None:
        history.append(record)
        report.update(force=True, epoch=record["epoch"], epochs=args.epochs, history=history)
        epochs.n = record["epoch"]
        epochs.set_postfix(
            loss=record["train_loss"],
            val_loss=record["val_loss"],
            val_acc=record["val_accuracy"],
            val_auc=record["val_auc"],
        )
        epochs.refresh()

    card = train_model(
        cases, Path(args.out), config, on_epoch=on_epoch, on_batch=on_batch, device=device
    )
    batches.close()
    epochs.close()
    if not ranks.main:
        return EXIT_OK
    if args.fit_guard:
        from mmcrnet.guard import fit_guard

        report.update(force=True, stage="fitting the out-of-distribution guard")
        fit_guard(args.out, held_out=args.guard_held_out, workers=args.workers)
    if args.compare_with:
        from mmcrnet.compare import compare_models

        report.update(force=True, stage=f"comparing with {args.compare_with.name}")
        comparison = compare_models(Path(args.out), args.compare_with, cases).to_dict()
        (Path(args.out) / "comparison.json").write_text(dumps(comparison, indent=1) + "\n")
    report.update(
        force=True,
        stage="done",
        history=card["history"],
        validation=card["validation"]["calibrated"],
        warnings=card["warnings"],
    )
    print(
        dumps(
            {
                "out": str(args.out),
                "variant": args.variant,
                "epochs_run": card["epochs_run"],
                "best_epoch": card["best_epoch"],
                "temperature": round(card["temperature"], 4),
                "validation": card["validation"]["calibrated"],
                "training_seconds": card["training_seconds"],
                "calibrated": card["calibrated"],
                "warnings": card["warnings"],
            },
            indent=2,
        )
    )
    for warning in card["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _write_report(
    args: argparse.Namespace,
    report: dict,
    started: float,
    name: str | None,
    formatter: Callable[[dict], str],
) -> None:
    """Add the time and the command to a report, write it (``--out``, else MODEL/name unless
    ``name`` is None) and print it (as JSON with ``--json``, else as text)."""
    result = {
        **report,
        "seconds": round(time.perf_counter() - started, 1),
        "command": _command(args),
    }
    out: Path | None = args.out
    if out is None and name is not None:
        out = Path(args.model) / name
    if out is not None:
        out.write_text(dumps(result, indent=2) + "\n")
    if args.json:
        print(dumps(result, indent=2))
    else:
        print(formatter(result))
        if out is not None:
            print(f"written to {out}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from mmcrnet.checkpoint import read_card
    from mmcrnet.datasets import cohort_case_set, phantom_test_set, training_case_set
    from mmcrnet.evaluate import evaluate, format_report

    card = read_card(args.model)
    if args.phantom_test:
        print(
            f"building the test set: {args.phantom_test} phantom cases, seed {args.seed}",
            file=sys.stderr,
        )
        test = phantom_test_set(card, args.phantom_test, args.seed, args.workers)
    else:
        test = cohort_case_set(args.cohort_test)
    references = args.references if args.references is not None else bool(args.phantom_test)
    train_cases = None
    if references:
        print(
            "rebuilding the training cohort for the Random Forest and the latent reference",
            file=sys.stderr,
        )
        train_cases = training_case_set(card, args.workers)
    started = time.perf_counter()
    report = evaluate(
        args.model, test, train_cases, progress=lambda message: print(message, file=sys.stderr)
    )
    # a cohort's evaluation is not the model's own: written only where --out says
    name = "evaluation.json" if args.phantom_test else None
    _write_report(args, report.to_dict(), started, name, format_report)
    return EXIT_OK


def cmd_benchmark(args: argparse.Namespace) -> int:
    import dataclasses

    import torch

    from mmcrnet.benchmark import benchmark, summary

    if args.threads:
        torch.set_num_threads(args.threads)
    result = benchmark(
        args.model,
        args.examples,
        args.repeats,
        args.device,
        batch_cases=args.batch_cases,
        app_repeats=args.app_repeats,
    )
    result["command"] = _command(args)
    if args.json:
        print(json.dumps(result, indent=2, default=dataclasses.asdict))
    else:
        print(summary(result))
    return EXIT_OK


def cmd_explain(args: argparse.Namespace) -> int:
    import torch

    from mmcrnet.answer import answer_case

    if args.threads:
        torch.set_num_threads(args.threads)
    answer = answer_case(
        args.model,
        args.cohort,
        args.case,
        image=args.image,
        time_points=args.time_points,
        target=args.target,
        steps=args.steps,
        device=args.device,
    )
    if args.json:  # the same result document as the app's download
        # With maps (H x W numbers each), one line per number would run to megabytes.
        print(
            answer.report(include_maps=not args.no_maps).to_json(
                indent=None if not args.no_maps else 1
            )
        )
    else:
        print(answer.text(args.top))
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from mmcrnet.answer import answer_case
    from mmcrnet.pdf_report import build_pdf
    from mmcrnet.store.store import CaseNotFound, CaseStore, database_url

    if args.out.suffix.lower() != ".pdf":
        raise InvalidArgument(f"--out {args.out} does not end in .pdf")
    answer = answer_case(
        args.model,
        args.cohort,
        args.case,
        image=args.image,
        time_points=args.time_points,
        device=args.device,
    )
    visits: list[dict[str, object]] = []
    if args.label and args.with_visits:
        try:
            visits = CaseStore(database_url()).case(args.label).trajectory()
        except CaseNotFound:
            visits = []
    report = build_pdf(
        answer.explanation,
        answer.clinical.static,
        answer.clinical.timepoints,
        answer.study,
        answer.guard,
        list(answer.study.left_out) if answer.study else [],
        args.label,
        visits,
    )
    args.out.write_bytes(report.data)
    print(
        dumps(
            {
                "out": str(args.out),
                "pages": report.pages,
                "bytes": len(report.data),
                "seconds": round(report.seconds, 2),
            }
        )
    )
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from mmcrnet.answer import answer_case
    from mmcrnet.explain import Explainer
    from mmcrnet.interop.dicom_export import export_dicom
    from mmcrnet.interop.pacs import PacsTarget, send_stow
    from mmcrnet.predict import Predictor

    answer = answer_case(args.model, args.cohort, args.case, image=args.image, device=args.device)
    if answer.guard is None:
        raise InvalidArgument(f"{args.model}: {answer.unguarded}")
    exports = [
        export_dicom(
            answer.explanation,
            answer.study,
            answer.guard,
            left_out=list(answer.study.left_out) if answer.study else [],
            include_unreliable_maps=args.unreliable_maps,
        )
        for _ in range(args.repeats)
    ]
    export = exports[-1]
    args.out.mkdir(parents=True, exist_ok=True)
    files = {o.file_name: o.to_bytes() for o in export.objects}  # each encoded once
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    summary: dict[str, object] = {
        "out": str(args.out),
        "objects": [
            {"kind": o.kind, "file": o.file_name, "description": o.description}
            for o in export.objects
        ],
        "not_made": list(export.not_made),
        "export_seconds_first": round(exports[0].seconds, 3),
    }
    if len(exports) > 1:  # the first export pays highdicom's first use; the app's are warm
        warm = statistics.median(e.seconds for e in exports[1:])
        summary["export_seconds_warm_median"] = round(warm, 3)
        summary["bytes"] = sum(len(data) for data in files.values())
        # the peer in the same run: the explanation the objects carry, made again warm
        explainer = Explainer(Predictor(args.model, device=args.device))
        explainer.explain(answer.clinical, answer.study)  # warm-up
        times = []
        for _ in range(len(exports) - 1):
            started = time.perf_counter()
            explainer.explain(answer.clinical, answer.study)
            times.append(time.perf_counter() - started)
        summary["explain_seconds_warm_median"] = round(statistics.median(times), 3)
        summary["export_over_explain"] = round(warm / statistics.median(times), 2)
    failed = False
    if args.send:
        target = PacsTarget(args.send, args.user, os.environ.get(args.password_env))
        # the last export, sent as often as it was made (the same instances: no copies stored)
        sends = [send_stow(target, [o.dataset for o in export.objects]) for _ in exports]
        failed = not all(sent.ok for sent in sends)
        summary["sent"] = {
            "url": sends[-1].url,
            "stored": [len(sent.stored) for sent in sends],
            "failed": [f for sent in sends for f in sent.failed],
            "warnings": list(sends[-1].warnings),
            "seconds_median": round(statistics.median(sent.seconds for sent in sends), 3),
        }
    print(dumps(summary))
    return EXIT_FAILED if failed else EXIT_OK


def cmd_evaluate_explanations(args: argparse.Namespace) -> int:
    import torch

    from mmcrnet.checkpoint import read_card
    from mmcrnet.datasets import phantom_test_set
    from mmcrnet.explain import Explainer
    from mmcrnet.explain.evaluate import evaluate_explanations, format_explanation_report
    from mmcrnet.phantom.cohort import generate_cohort
    from mmcrnet.predict import Predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"building the test set: {args.phantom_test} phantom cases, seed {args.seed}",
        file=sys.stderr,
    )
    cases = phantom_test_set(read_card(args.model), args.phantom_test, args.seed, args.workers)
    explainer = Explainer(Predictor(args.model, device=args.device), steps=args.steps)
    bar = _progress_bar(args.phantom_test, "explaining")
    started = time.perf_counter()
    report = evaluate_explanations(
        explainer,
        cases,
        generate_cohort(args.phantom_test, args.seed),
        sanity_cases=args.sanity_cases,
        progress=lambda done, _total: bar.update(done - bar.n),
    )
    bar.close()
    _write_report(args, report.to_dict(), started, "explanations.json", format_explanation_report)
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_predict(args: argparse.Namespace) -> int:
    import torch

    from mmcrnet.batch_predict import predict_cohort

    # One thread by default: the reading thread and its decoding child use another core (on
    # 2 cores, 1 000 cases take 29 s so, 45 s with 2 threads; see the README).
    torch.set_num_threads(args.threads or 1)
    form = args.format or ("jsonl" if args.out.suffix.lower() in (".jsonl", ".json") else "csv")
    bar: tqdm | None = None
    report = ProgressFile(args.progress_file)

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = _progress_bar(total, "predicting")
        bar.update(done - bar.n)
        report.update(stage="predicting", done=done, total=total, force=done == total)

    result = predict_cohort(
        args.model,
        args.cohort,
        image=args.image,
        explain=args.explain,
        device=args.device,
        steps=args.steps,
        progress=progress,
        workers=args.workers or 1,
    )
    if bar is not None:
        bar.close()
    args.out.write_text(result.to_jsonl() if form == "jsonl" else result.to_csv())
    summary = {**result.summary(), "out": str(args.out), "format": form}
    report.update(force=True, stage="done", summary=summary)
    if args.json:
        print(dumps(summary, indent=2))
    else:
        counts = result.counts()
        print(
            f"{len(result.rows)} cases: {counts['predicted']} predicted, {counts['flagged']} "
            f"flagged by the guard (the model cannot judge them), {counts['not predicted']} "
            f"not predicted; written to {args.out} ({form})"
        )
        for row in result.rows:
            if row.problem:
                print(f"  {row.case_id}: not predicted: {row.problem}")
        metrics = summary.get("metrics")
        if metrics:
            print(
                f"on the {metrics['n']} predicted cases with an outcome (flagged ones left out): "
                f"accuracy {metrics['accuracy']}, macro AUC {metrics['auc']}, "
                f"ECE {metrics['ece']}"
            )
    return EXIT_OK


def cmd_guard_fit(args: argparse.Namespace) -> int:
    from mmcrnet.guard import fit_guard

    guard = fit_guard(
        args.model,
        held_out=args.held_out,
        seed=args.seed,
        quantile=args.quantile,
        workers=args.workers,
        progress=lambda message: print(message, file=sys.stderr),
        command=_command(args),
    )
    card = guard.card
    print(
        dumps(
            {
                "out": str(args.model),
                "thresholds": card["thresholds"],
                "quantile": card["quantile"],
                "training_cohort": card["training_cohort"],
                "held_out_cohort": card["held_out_cohort"],
                "fit_seconds": card["fit_seconds"],
            },
            indent=2,
        )
    )
    return EXIT_OK


def cmd_guard_evaluate(args: argparse.Namespace) -> int:
    from mmcrnet.guard import evaluate_guard, format_evaluation

    started = time.perf_counter()
    evaluation = evaluate_guard(
        args.model,
        test_n=args.phantom_test,
        seed=args.seed,
        transform_cases=args.transform_cases,
        workers=args.workers,
        progress=lambda message: print(message, file=sys.stderr),
    )
    result = {
        **evaluation.to_dict(),
        "seconds": round(time.perf_counter() - started, 1),
        "command": _command(args),
    }
    if args.json:
        print(dumps(result, indent=2))
    else:
        print(format_evaluation(result))
        print(f"({result['seconds']} s) {result['command']}")
    return EXIT_OK if evaluation.passed else EXIT_FAILED


def cmd_fuzz(args: argparse.Namespace) -> int:
    from mmcrnet.fuzz import run

    bar = _progress_bar(args.inputs, "fuzzing")
    report = run(
        args.inputs,
        args.seed,
        args.examples,
        args.max_minutes * 60 if args.max_minutes else None,
        progress=lambda done, _total: bar.update(done - bar.n),
    )
    bar.close()
    result = {**report.to_dict(), "command": _command(args)}
    print(dumps(result, indent=2))
    return EXIT_OK if not report.escapes else EXIT_FAILED


def _add_fuzz(commands: Subcommands, flags: Flags) -> None:
    """``fuzz``."""
    fuzz = commands.add_parser(
        "fuzz",
        help="mutation-fuzz the upload path",
        description="Read mutated copies of pydicom's test files and our own DICOM, PNG and zip "
        "files the way the Predict page reads an upload; print the outcomes, the slowest input, "
        "peak memory and every exception that is not ours (exit 1 if any).",
    )
    fuzz.add_argument("--inputs", type=_positive_int, default=10000, help="inputs to try")
    fuzz.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fuzz.add_argument("--max-minutes", type=float, default=None, help="stop after this long")
    fuzz.add_argument(
        "--examples",
        type=Path,
        default=Path("assets/examples"),
        help="our own seed files (default assets/examples)",
    )
    fuzz.set_defaults(func=cmd_fuzz)


def cmd_teach_prepare(args: argparse.Namespace) -> int:
    from mmcrnet.teach.gallery import folder_name, prepare

    folder_name(args.n, args.seed)  # bad n or seed: one line, before any work
    if args.out.exists() and any(args.out.iterdir()):
        raise InvalidArgument(f"{args.out} exists and is not empty")
    started = time.perf_counter()
    report = ProgressFile(args.progress_file)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, _progress_bar(total, stage))
        bar.update(done - bar.n)
        report.update(stage=stage, done=done, total=total, force=done == total)

    result = prepare(args.out, args.n, args.seed, args.model, progress, _command(args))
    for bar in bars.values():
        bar.close()
    summary = {
        "out": str(args.out),
        "n": args.n,
        "seed": args.seed,
        "counts": result.counts(),
        "seconds": round(time.perf_counter() - started, 2),
    }
    report.update(force=True, stage="done", summary=summary)
    print(dumps(summary, indent=2))
    return EXIT_OK


def cmd_teach_predict(args: argparse.Namespace) -> int:
    from mmcrnet.teach.gallery import predict

    report = ProgressFile(args.progress_file)
    bar: tqdm | None = None

    def progress(stage: str, done: int, total: int) -> None:
        nonlocal bar
        bar = bar or _progress_bar(total, stage)
        bar.update(done - bar.n)
        report.update(stage=stage, done=done, total=total, force=done == total)

    result = predict(args.cohort, args.model, progress=progress)
    if bar is not None:
        bar.close()
    summary = {"cohort": str(args.cohort), "counts": result.counts()}
    report.update(force=True, stage="done", summary=summary)
    print(dumps(summary, indent=2))
    return EXIT_OK


def cmd_teach_bench(args: argparse.Namespace) -> int:
    from mmcrnet.teach.bench import run_bench

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    figures = run_bench(args.model, args.cohort, args.repeats, args.device)
    figures["command"] = _command(args)
    print(dumps(figures, indent=2))
    return EXIT_OK


def _add_phantom(commands: Subcommands, flags: Flags) -> None:
    """``phantom write / validate / examples``."""
    phantom = commands.add_parser(
        "phantom",
        help="the synthetic phantom cohort",
        description="Generate and check the phantom cohort (shared/cohort-spec.md).",
    )
    phantom_commands = phantom.add_subparsers(
        dest="phantom_command", required=True, metavar="<action>"
    )
    write = phantom_commands.add_parser(
        "write",
        help="write a phantom cohort in the cohort format",
        description="Write N phantom cases (tables, DICOM images, truth) to DIR.",
    )
    write.add_argument("--n", type=_positive_int, required=True, help="number of cases")
    write.add_argument("--seed", type=int, required=True, help="random seed")
    write.add_argument("--out", type=Path, required=True, help="output folder")
    write.add_argument(
        "--no-images",
        action="store_true",
        help="write the tables and truth only (fast, for tabular studies)",
    )
    write.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="processes for rendering images (default: CPU count)",
    )
    write.set_defaults(func=cmd_phantom_write)

    validate = phantom_commands.add_parser(
        "validate",
        parents=[flags.json],
        help="check the validation targets of cohort-spec section 6",
        description="Generate a cohort and measure every validation target; exit 1 if any fails.",
    )
    validate.add_argument("--n", type=_positive_int, default=20000, help="cases (default 20000)")
    validate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    validate.set_defaults(func=cmd_phantom_validate)

    examples = phantom_commands.add_parser(
        "examples",
        help="regenerate the bundled example cases",
        description="Choose a dozen phantom cases covering every outcome and subtype and write "
        "them (DICOM, truth, one case as PNG) to DIR.",
    )
    examples.add_argument(
        "--out",
        type=Path,
        default=Path("assets/examples"),
        help="output folder (default assets/examples)",
    )
    examples.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    examples.set_defaults(func=cmd_phantom_examples)


def _add_inspect(commands: Subcommands, flags: Flags) -> None:
    """``inspect``."""
    inspect = commands.add_parser(
        "inspect",
        help="read images and print what was read (JSON)",
        description="Read DICOM files, folders, zips of a series, multi-frame DICOM or "
        "PNG/JPEG as one study and print modality, phases, shape, spacing and the "
        "chosen slice as JSON. Bad input: one line on stderr, exit 2.",
    )
    inspect.add_argument("files", nargs="+", type=Path, help="files or folders of one study")
    inspect.add_argument(
        "--modality",
        choices=["MR", "MG"],
        default=None,
        help="modality of PNG/JPEG input (DICOM carries its own)",
    )
    inspect.add_argument(
        "--slice", type=int, default=None, help="slice to choose (default: largest enhancement)"
    )
    inspect.set_defaults(func=cmd_inspect)


def _add_cohort(commands: Subcommands, flags: Flags) -> None:
    """``cohort check``."""
    cohort = commands.add_parser(
        "cohort",
        help="cohort folders",
        description="Work with cohort folders in the cohort format.",
    )
    cohort_commands = cohort.add_subparsers(
        dest="cohort_command", required=True, metavar="<action>"
    )
    check = cohort_commands.add_parser(
        "check",
        help="validate a cohort folder against the feature schema",
        description="List every problem (file, line, column) or print a summary.",
    )
    check.add_argument("folder", type=Path, help="the cohort folder")
    check.add_argument(
        "--no-outcomes",
        action="store_true",
        help="outcomes.csv is optional (inference-only cohort)",
    )
    check.set_defaults(func=cmd_cohort_check)
    imported = cohort_commands.add_parser(
        "import",
        help="make a cohort folder from a DICOM tree, a clinical table and a mapping",
        description="Import a cohort from a DICOM tree organised by patient / study / series "
        "(as the TCIA downloader writes it), a clinical table (CSV or XLSX, one row per "
        "patient) and a column-mapping file (JSON; --template prints one to start from). "
        "Every problem is listed with file, row and column.",
    )
    imported.add_argument("--dicom", type=Path, help="the DICOM tree (one folder per patient)")
    imported.add_argument("--clinical", type=Path, help="the clinical table (.csv or .xlsx)")
    imported.add_argument("--mapping", type=Path, help="the mapping file (JSON)")
    imported.add_argument("--out", type=Path, help="the cohort folder to write (must not exist)")
    imported.add_argument(
        "--template", action="store_true", help="print a mapping file to start from and exit"
    )
    imported.set_defaults(func=cmd_cohort_import)


def _add_train(commands: Subcommands, flags: Flags) -> None:
    """``train``."""
    from mmcrnet.model import IMAGE_POOLING, VARIANTS

    train = commands.add_parser(
        "train",
        parents=[flags.device, flags.progress],
        help="train MM-CRNet or a baseline/ablation variant",
        description="Train on a phantom cohort (--phantom N) or a cohort folder (--cohort DIR) "
        "with the paper's protocol: 70/15/15 split, Adam 1e-3, batch 32, up to 50 "
        "epochs, early stopping on validation loss; then temperature scaling. Writes "
        "OUT/model.safetensors and OUT/model.json; resumes from OUT/checkpoint/.",
    )
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--phantom", type=_positive_int, metavar="N", help="generate N phantom cases (seed --seed)"
    )
    source.add_argument("--cohort", type=Path, metavar="DIR", help="a cohort folder")
    train.add_argument("--seed", type=int, required=True, help="cohort, split and training seed")
    train.add_argument("--out", type=Path, required=True, help="model folder to write")
    train.add_argument(
        "--variant",
        choices=VARIANTS,
        default="mmcrnet",
        help="mmcrnet (default), a baseline (cnn-only, lstm-only) or an ablation "
        "(no-imaging, no-clinical, no-genomic)",
    )
    train.add_argument("--epochs", type=_positive_int, default=50, help="at most (default 50)")
    train.add_argument(
        "--patience",
        type=_positive_int,
        default=6,
        help="early-stopping patience in epochs (default 6)",
    )
    train.add_argument(
        "--image-pooling",
        choices=IMAGE_POOLING,
        default="avg",
        help="pooling of the image encoders' last feature maps: avg "
        "(default, the bundled model), max or attention (see the README's "
        "explanations section for what each changes)",
    )
    train.add_argument(
        "--input-lasso",
        type=float,
        default=0.0,
        help="group-lasso weight on the LSTM's input weights, one group per input "
        "column (default 0: off)",
    )
    train.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="stop training after this many minutes (then calibrate and save)",
    )
    train.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="processes for rendering phantom images (default: CPU count)",
    )
    train.add_argument(
        "--loader-workers",
        type=int,
        default=0,
        help="DataLoader processes reading each batch's images ahead of the training step "
        "(default 0: in the training process; the weights are the same with any number)",
    )
    train.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="image cache folder (default .cache/phantom-N-SEED)",
    )
    train.add_argument(
        "--fit-guard",
        action="store_true",
        help="then fit the out-of-distribution guard (phantom-trained models)",
    )
    train.add_argument(
        "--guard-held-out",
        type=_positive_int,
        default=1000,
        help="held-out phantom cases for the guard's thresholds (default 1000)",
    )
    train.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        metavar="DIR",
        help="then score this model and the one in DIR on the new model's test split "
        "(written to OUT/comparison.json)",
    )
    train.set_defaults(func=cmd_train)


def _add_evaluate(commands: Subcommands, flags: Flags) -> None:
    """``evaluate``."""
    evaluate = commands.add_parser(
        "evaluate",
        parents=[flags.model, flags.json, flags.workers],
        help="Tables 2 and 4, references, calibration and breakdowns",
        description="Score the model in MODEL (and its variants in MODEL/variants/) on a "
        "held-out test set; fit the Random Forest and the latent reference on the "
        "model's own training split. Prints; writes MODEL/evaluation.json for a phantom "
        "test, --out when given.",
    )
    test_source = evaluate.add_mutually_exclusive_group(required=True)
    test_source.add_argument(
        "--phantom-test",
        type=_positive_int,
        metavar="N",
        help="N new phantom cases as the test set",
    )
    test_source.add_argument(
        "--cohort-test", type=Path, metavar="DIR", help="a cohort folder as the test set"
    )
    evaluate.add_argument(
        "--seed",
        type=int,
        default=99,
        help="phantom test seed, never the training seed (default 99)",
    )
    evaluate.add_argument(
        "--references",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="fit the Random Forest and the latent reference on the model's training cohort, "
        "which rebuilds it (default: with --phantom-test only)",
    )
    evaluate.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the JSON (default MODEL/evaluation.json for --phantom-test; "
        "a cohort test is written only here)",
    )
    evaluate.set_defaults(func=cmd_evaluate)


def _add_benchmark(commands: Subcommands, flags: Flags) -> None:
    """``benchmark``."""
    benchmark = commands.add_parser(
        "benchmark",
        parents=[flags.model, flags.device, flags.json],
        help="time one-case inference, batches, the app, and the explanations' peers",
        description="Time the model's forward pass, a whole one-case prediction and its "
        "explanation (Grad-CAM, Integrated Gradients, everything) on a bundled "
        "example (median and 95th percentile, in ms).",
    )
    benchmark.add_argument(
        "--examples",
        type=Path,
        default=Path("assets/examples"),
        help="example cohort (default assets/examples)",
    )
    benchmark.add_argument("--repeats", type=_positive_int, default=100)
    benchmark.add_argument(
        "--batch-cases",
        type=int,
        default=1000,
        metavar="N",
        help="also predict a phantom cohort folder of N cases end to end (default 1000; 0: no)",
    )
    benchmark.add_argument(
        "--app-repeats",
        type=int,
        default=5,
        metavar="N",
        help="also time the app's Predict in Debian's chromium N times (default 5; 0: no)",
    )
    benchmark.set_defaults(func=cmd_benchmark)


def _add_scale(commands: Subcommands, flags: Flags) -> None:
    """``scale``."""
    scale = commands.add_parser(
        "scale",
        parents=[flags.device, flags.workers, flags.json],
        help="measure how training and prediction time grow with the cohort",
        description="For phantom cohorts of each --sizes (MM-CRNet, images streamed from the "
        "disk cache) and each --tabular size (the lstm-only model, no images): the time to "
        "render the cohort, to train one epoch and to predict every case, the peak memory, "
        "and how each time grows with the cases.",
    )
    scale.add_argument(
        "--sizes", type=_positive_int, nargs="*", default=[1000, 5000, 20000], metavar="N"
    )
    scale.add_argument("--tabular", type=_positive_int, nargs="*", default=[], metavar="N")
    scale.add_argument("--seed", type=int, default=11)
    scale.add_argument(
        "--cache-root",
        type=Path,
        default=Path(".cache"),
        help="where the image caches are written (default .cache; 20 000 cases take 2.6 GB)",
    )
    scale.add_argument(
        "--loader-workers",
        type=int,
        default=1,
        help="DataLoader processes reading training batches (default 1)",
    )
    scale.set_defaults(func=cmd_scale)


def cmd_scale(args: argparse.Namespace) -> int:
    import torch

    from mmcrnet.predict import compute_device
    from mmcrnet.scale import scale, table

    if args.threads:
        torch.set_num_threads(args.threads)
    device = str(compute_device(args.device))
    result = scale(
        args.sizes,
        args.seed,
        args.cache_root,
        tabular=args.tabular,
        workers=args.workers,
        loader_workers=args.loader_workers,
        device=device,
        report=lambda line: print(line, file=sys.stderr, flush=True),
    )
    result["command"] = _command(args)
    print(dumps(result, indent=2) if args.json else table(result))
    return EXIT_OK


def _add_explain(commands: Subcommands, flags: Flags) -> None:
    """``explain``."""
    explain = commands.add_parser(
        "explain",
        parents=[flags.model, flags.json, flags.device, flags.steps],
        help="one case's prediction with its reasons",
        description="Predict one case of a cohort folder and explain it: Grad-CAM and HiResCAM "
        "maps over the image, Integrated Gradients (and occlusion) for every "
        "clinical and genomic feature at every time point, Shapley values of the "
        "three modalities, and the prediction after each time point.",
    )
    explain.add_argument("case", help="case_id in the cohort folder")
    explain.add_argument(
        "--cohort",
        type=Path,
        default=Path("assets/examples"),
        help="cohort folder (default assets/examples)",
    )
    explain.add_argument(
        "--image",
        choices=["mri", "mammogram", "none"],
        default="mri",
        help="which image to use (default mri)",
    )
    explain.add_argument(
        "--time-points", type=_positive_int, default=None, help="use only the first N time points"
    )
    explain.add_argument(
        "--target", default=None, help="outcome to explain (default: the predicted one)"
    )
    explain.add_argument("--top", type=_positive_int, default=8, help="reasons to print")
    explain.add_argument("--no-maps", action="store_true", help="leave the maps out of the JSON")
    explain.set_defaults(func=cmd_explain)


def _add_report(commands: Subcommands, flags: Flags) -> None:
    """``report``."""
    report = commands.add_parser(
        "report",
        parents=[flags.model, flags.device],
        help="one case's result as a PDF report",
        description="Predict and explain one case of a cohort folder and write the PDF the "
        "Predict page gives: the inputs read and left out, the calibrated probabilities, the "
        "maps over each phase with a colour bar, the attributions, the modality contributions, "
        "the trajectory, the model and its weights hash; research use only on every page.",
    )
    report.add_argument("case", help="case_id in the cohort folder")
    report.add_argument("--out", type=Path, required=True, help="the PDF to write")
    report.add_argument(
        "--cohort", type=Path, default=Path("assets/examples"), help="cohort folder"
    )
    report.add_argument(
        "--image", choices=["mri", "mammogram", "none"], default="mri", help="image to use"
    )
    report.add_argument(
        "--time-points", type=_positive_int, default=None, help="use only the first N time points"
    )
    report.add_argument("--label", default=None, help="the case's pseudonymous label")
    report.add_argument(
        "--with-visits",
        action="store_true",
        help="draw the trajectory across the visits saved under --label (ONCOPREDICT_DB)",
    )
    report.set_defaults(func=cmd_report)


def _add_export(commands: Subcommands, flags: Flags) -> None:
    """``export``."""
    export = commands.add_parser(
        "export",
        parents=[flags.model, flags.device],
        help="one case's result as DICOM objects; optionally sent to a PACS",
        description="Predict and explain one case of a cohort folder and write the DICOM "
        "objects the Predict page makes: a Parametric Map of the response-axis map (DCE-MRI), "
        "a binary Segmentation of the strongest evidence, a TID 1500 Structured Report of the "
        "probabilities; with --send, POST them to a DICOMweb root by STOW-RS. Prints what was "
        "made, what was not and why, and the times.",
    )
    export.add_argument("case", help="case_id in the cohort folder")
    export.add_argument("--out", type=Path, required=True, help="folder for the .dcm files")
    export.add_argument(
        "--cohort", type=Path, default=Path("assets/examples"), help="cohort folder"
    )
    export.add_argument("--image", choices=["mri", "mammogram"], default="mri", help="image to use")
    export.add_argument(
        "--unreliable-maps",
        action="store_true",
        help="also export a mammogram's map (not reliable yet)",
    )
    export.add_argument(
        "--repeats",
        type=_positive_int,
        default=1,
        help="export (and send) this many times and report the first and the warm median",
    )
    export.add_argument("--send", default=None, help="DICOMweb root URL to send the objects to")
    export.add_argument("--user", default=None, help="user for the PACS (basic auth)")
    export.add_argument(
        "--password-env",
        default="ONCOPREDICT_PACS_PASSWORD",
        help="environment variable holding the PACS password",
    )
    export.set_defaults(func=cmd_export)


def _add_predict(commands: Subcommands, flags: Flags) -> None:
    """``predict``."""
    from mmcrnet.batch_predict import IMAGE_CHOICES

    predict = commands.add_parser(
        "predict",
        parents=[flags.model, flags.json, flags.device, flags.steps, flags.progress],
        help="batch prediction over a cohort folder",
        description="Predict every case of a cohort folder as the Predict page would (the "
        "same readers, sandbox and guard): one row per case with its calibrated "
        "probabilities, what the guard flags and why a case could not be predicted. "
        "CSV (safe to open in a spreadsheet) or JSON lines.",
    )
    predict.add_argument("--cohort", type=Path, required=True, help="cohort folder")
    predict.add_argument("--out", type=Path, required=True, help="file to write")
    predict.add_argument(
        "--format",
        choices=["csv", "jsonl"],
        default=None,
        help="default: from --out's suffix (.jsonl or .json: JSON lines, else CSV)",
    )
    predict.add_argument(
        "--image",
        choices=IMAGE_CHOICES,
        default="auto",
        help="image per case (default auto: the MRI, else the mammogram, else none)",
    )
    predict.add_argument(
        "--explain",
        action="store_true",
        help="explain each case too (reasons in the CSV, the explanation in JSON lines)",
    )
    predict.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="processes predicting, one torch thread each (default 1: this process, with "
        "--threads, default 1, while a thread and its decoding child read the next cases)",
    )
    predict.set_defaults(func=cmd_predict)


def _add_evaluate_explanations(commands: Subcommands, flags: Flags) -> None:
    """``evaluate-explanations``."""
    check_explanations = commands.add_parser(
        "evaluate-explanations",
        parents=[flags.model, flags.json, flags.workers, flags.device, flags.steps],
        help="check the explanations against the phantom's truth",
        description="On held-out phantom cases: Grad-CAM pointing game and energy in the "
        "tumour mask, null features' share, agreement with the true contributions, "
        "cascading-randomisation sanity check, IG completeness. Writes "
        "MODEL/explanations.json; exit 1 if a target is missed.",
    )
    check_explanations.add_argument(
        "--phantom-test", type=_positive_int, required=True, metavar="N", help="N new phantom cases"
    )
    check_explanations.add_argument(
        "--seed",
        type=int,
        default=99,
        help="phantom test seed, never the training seed (default 99)",
    )
    check_explanations.add_argument(
        "--sanity-cases",
        type=_positive_int,
        default=50,
        help="cases for the randomisation check (default 50)",
    )
    check_explanations.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write the JSON (default MODEL/explanations.json)",
    )
    check_explanations.set_defaults(func=cmd_evaluate_explanations)


def _add_guard(commands: Subcommands, flags: Flags) -> None:
    """``guard fit / evaluate``."""
    guard = commands.add_parser(
        "guard",
        help="the out-of-distribution guard",
        description="Fit and measure the guard that flags images and values the model cannot "
        "judge (header checks, image-embedding distance, training ranges).",
    )
    guard_commands = guard.add_subparsers(dest="guard_command", required=True, metavar="<action>")
    guard_fit = guard_commands.add_parser(
        "fit",
        parents=[flags.model, flags.workers],
        help="fit the guard on the model's training split",
        description="Rebuild the model's phantom training split (from model.json), fit the "
        "image-embedding Gaussians and the feature ranges on it, set thresholds on "
        "held-out phantom cases. Writes MODEL/guard.safetensors and MODEL/guard.json.",
    )
    guard_fit.add_argument(
        "--held-out",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="held-out phantom cases for the thresholds (default 1000)",
    )
    guard_fit.add_argument(
        "--seed",
        type=int,
        default=8,
        help="held-out seed, neither the training nor the test seed (default 8)",
    )
    guard_fit.add_argument(
        "--quantile",
        type=float,
        default=0.99,
        help="threshold quantile of the held-out distances (default 0.99)",
    )
    guard_fit.set_defaults(func=cmd_guard_fit)
    guard_evaluate = guard_commands.add_parser(
        "evaluate",
        parents=[flags.model, flags.json, flags.workers],
        help="measure what the guard flags",
        description="Share flagged of phantom test cases, of pydicom's bundled non-breast test "
        "images and of transformed phantom images; exit 1 if a target is missed.",
    )
    guard_evaluate.add_argument(
        "--phantom-test",
        type=_positive_int,
        default=1000,
        metavar="N",
        help="phantom test cases (default 1000)",
    )
    guard_evaluate.add_argument(
        "--seed", type=int, default=99, help="phantom test seed (default 99)"
    )
    guard_evaluate.add_argument(
        "--transform-cases",
        type=_positive_int,
        default=100,
        metavar="N",
        help="test cases per transform (default 100)",
    )
    guard_evaluate.set_defaults(func=cmd_guard_evaluate)


def _add_teach(commands: Subcommands, flags: Flags) -> None:
    """``teach prepare``, ``teach bench``."""
    teach = commands.add_parser(
        "teach",
        help="teaching cohorts and their timings",
        description="Phantom cohorts for the teaching pages (Gallery, Case and truth, Quiz, "
        "What if).",
    )
    teach_commands = teach.add_subparsers(dest="teach_command", required=True, metavar="<action>")
    prepared = teach_commands.add_parser(
        "prepare",
        parents=[flags.model, flags.progress],
        help="write a phantom cohort with images and the model's answer for every case",
        description="Write a phantom cohort of N cases (images included) to OUT and predict "
        "every case on its MRI, keeping the answers beside the cohort "
        "(predictions-<weights>.jsonl) for the Gallery's filters.",
    )
    prepared.add_argument("--n", type=_positive_int, required=True, help="cases (at most 2000)")
    prepared.add_argument("--seed", type=int, required=True, help="generator seed")
    prepared.add_argument("--out", type=Path, required=True, help="folder to write (new)")
    prepared.set_defaults(func=cmd_teach_prepare)
    answered = teach_commands.add_parser(
        "predict",
        parents=[flags.model, flags.progress],
        help="let another model answer a teaching cohort",
        description="Predict every case of a teaching cohort on its MRI and keep the answers "
        "beside it (predictions-<weights>.jsonl).",
    )
    answered.add_argument("--cohort", type=Path, required=True, help="the teaching cohort")
    answered.set_defaults(func=cmd_teach_predict)
    bench = teach_commands.add_parser(
        "bench",
        parents=[flags.model, flags.device],
        help='time opening a teaching case and drawing a "what if" curve',
        description="Median and p95 over the cohort's cases of opening a case with its truth "
        '(read, predict, explain, compare) and of each "what if" curve, with the Predict '
        "page's read-and-explain on the same cases as the peer (ratios).",
    )
    bench.add_argument(
        "--cohort",
        type=Path,
        default=Path("assets/examples"),
        help="a phantom cohort folder (default: the bundled examples)",
    )
    bench.add_argument(
        "--repeats", type=_positive_int, default=1, help="passes over the cases (default 1)"
    )
    bench.set_defaults(func=cmd_teach_bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmcrnet",
        description="OncoPredict engine: phantom cohorts, image reading, MM-CRNet. "
        "Research use only, not for clinical decisions.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="<subcommand>")
    flags = _shared_flags()
    for add in (
        _add_phantom,
        _add_inspect,
        _add_cohort,
        _add_train,
        _add_evaluate,
        _add_benchmark,
        _add_scale,
        _add_explain,
        _add_report,
        _add_export,
        _add_predict,
        _add_evaluate_explanations,
        _add_guard,
        _add_fuzz,
        _add_teach,
    ):
        add(commands, flags)
    return parser


def _shared_flags() -> Flags:
    """Flags several subcommands share, declared once (argparse parents)."""
    model_flag = argparse.ArgumentParser(add_help=False)
    model_flag.add_argument(
        "--model", type=Path, default=Path("models"), help="model folder (default models/)"
    )
    device_flags = argparse.ArgumentParser(add_help=False)
    device_flags.add_argument(
        "--device", default=None, help="cpu or cuda (default: cuda if present)"
    )
    device_flags.add_argument(
        "--threads", type=_positive_int, default=None, help="torch CPU threads"
    )
    workers_flag = argparse.ArgumentParser(add_help=False)
    workers_flag.add_argument(
        "--workers", type=_positive_int, default=None, help="processes for rendering phantom images"
    )
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON")
    steps_flag = argparse.ArgumentParser(add_help=False)
    steps_flag.add_argument(
        "--steps", type=_positive_int, default=64, help="Integrated Gradients steps (default 64)"
    )
    progress_flag = argparse.ArgumentParser(add_help=False)
    progress_flag.add_argument(
        "--progress-file",
        type=Path,
        default=None,
        help="write progress as JSON to this file (for background jobs)",
    )
    return Flags(model_flag, device_flags, workers_flag, json_flag, steps_flag, progress_flag)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except OncoPredictError as exc:  # the user's input, in one line; our bugs stay tracebacks
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
