"""The command line: ``python -m mmcrnet <subcommand>`` (``--help`` on each).

Subcommands:
    phantom write     write a phantom cohort in the cohort format
    phantom validate  check the phantom world against cohort-spec section 6
    phantom examples  regenerate the bundled example cases (assets/examples)
    inspect           read image files and print what was read, as JSON
    cohort check      validate a cohort folder against the feature schema

Exit codes: 0 success, 1 a check failed, 2 bad input (one line on stderr naming it).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from mmcrnet.errors import InvalidCohort, OncoPredictError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _progress_bar(total: int, description: str):  # noqa: ANN202 - tqdm's type is private
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="case", file=sys.stderr,
                disable=None, dynamic_ncols=True)


def cmd_phantom_write(args: argparse.Namespace) -> int:
    from mmcrnet.phantom.writer import write_cohort

    started = time.perf_counter()
    bar = _progress_bar(args.n, "rendering images") if not args.no_images else None

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    cohort = write_cohort(Path(args.out), args.n, args.seed, images=not args.no_images,
                          workers=args.workers, progress=progress,
                          command=shlex.join(["python", "-m", "mmcrnet", *args.argv]))
    if bar is not None:
        bar.close()
    counts = cohort.outcomes["response"].value_counts().to_dict()
    print(json.dumps({"out": str(args.out), "n": cohort.n, "seed": args.seed,
                      "images": not args.no_images, "outcomes": counts,
                      "seconds": round(time.perf_counter() - started, 2)}))
    return EXIT_OK


def cmd_phantom_validate(args: argparse.Namespace) -> int:
    from mmcrnet.phantom.cohort import generate_cohort
    from mmcrnet.phantom.validate import validate_cohort

    started = time.perf_counter()
    report = validate_cohort(generate_cohort(args.n, args.seed))
    seconds = time.perf_counter() - started
    if args.json:
        print(json.dumps({**report.to_dict(), "seconds": round(seconds, 2)}, indent=2))
    else:
        print(f"phantom validate --n {args.n} --seed {args.seed} ({seconds:.1f} s)")
        for check in report.checks:
            mark = "pass" if check.passed else "FAIL"
            print(f"  {mark}  {check.name:<34} {check.measured:7.4f}   target "
                  f"{check.target:.2f} +- {check.tolerance:.2f}")
        print("all targets met" if report.passed else "some targets FAILED")
    return EXIT_OK if report.passed else EXIT_FAILED


def cmd_phantom_examples(args: argparse.Namespace) -> int:
    from mmcrnet.phantom.examples import write_examples

    chosen = write_examples(Path(args.out), seed=args.seed,
                            command=shlex.join(["python", "-m", "mmcrnet", *args.argv]))
    print(json.dumps({"out": str(args.out), "cases": chosen.case_ids}))
    return EXIT_OK


def cmd_inspect(args: argparse.Namespace) -> int:
    from mmcrnet.io import read_paths

    study = read_paths(args.files, modality=args.modality, slice_index=args.slice)
    print(json.dumps(study.summary(), indent=2))
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
    print(json.dumps({"folder": str(args.folder), "cases": len(cohort.cases),
                      "timepoint_rows": len(cohort.timepoints),
                      "outcomes": None if cohort.outcomes is None else
                      cohort.outcomes["response"].value_counts().to_dict(),
                      "has_truth": cohort.has_truth, "warnings": list(cohort.warnings)},
                     indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mmcrnet",
        description="OncoPredict engine: phantom cohorts, image reading, MM-CRNet. "
                    "Research use only, not for clinical decisions.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="<subcommand>")

    phantom = commands.add_parser("phantom", help="the synthetic phantom cohort",
                                  description="Generate and check the phantom cohort "
                                              "(shared/cohort-spec.md).")
    phantom_commands = phantom.add_subparsers(dest="phantom_command", required=True,
                                              metavar="<action>")
    write = phantom_commands.add_parser(
        "write", help="write a phantom cohort in the cohort format",
        description="Write N phantom cases (tables, DICOM images, truth) to DIR.")
    write.add_argument("--n", type=_positive_int, required=True, help="number of cases")
    write.add_argument("--seed", type=int, required=True, help="random seed")
    write.add_argument("--out", type=Path, required=True, help="output folder")
    write.add_argument("--no-images", action="store_true",
                       help="write the tables and truth only (fast, for tabular studies)")
    write.add_argument("--workers", type=_positive_int, default=None,
                       help="processes for rendering images (default: CPU count)")
    write.set_defaults(func=cmd_phantom_write)

    validate = phantom_commands.add_parser(
        "validate", help="check the validation targets of cohort-spec section 6",
        description="Generate a cohort and measure every validation target; exit 1 if any "
                    "fails.")
    validate.add_argument("--n", type=_positive_int, default=20000, help="cases (default 20000)")
    validate.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(func=cmd_phantom_validate)

    examples = phantom_commands.add_parser(
        "examples", help="regenerate the bundled example cases",
        description="Choose a dozen phantom cases covering every outcome and subtype and write "
                    "them (DICOM, truth, one case as PNG) to DIR.")
    examples.add_argument("--out", type=Path, default=Path("assets/examples"),
                          help="output folder (default assets/examples)")
    examples.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    examples.set_defaults(func=cmd_phantom_examples)

    inspect = commands.add_parser(
        "inspect", help="read images and print what was read (JSON)",
        description="Read DICOM files, folders, zips of a series, multi-frame DICOM or "
                    "PNG/JPEG as one study and print modality, phases, shape, spacing and the "
                    "chosen slice as JSON. Bad input: one line on stderr, exit 2.")
    inspect.add_argument("files", nargs="+", type=Path, help="files or folders of one study")
    inspect.add_argument("--modality", choices=["MR", "MG"], default=None,
                         help="modality of PNG/JPEG input (DICOM carries its own)")
    inspect.add_argument("--slice", type=int, default=None,
                         help="slice to choose (default: largest enhancement)")
    inspect.set_defaults(func=cmd_inspect)

    cohort = commands.add_parser("cohort", help="cohort folders",
                                 description="Work with cohort folders in the cohort format.")
    cohort_commands = cohort.add_subparsers(dest="cohort_command", required=True,
                                            metavar="<action>")
    check = cohort_commands.add_parser(
        "check", help="validate a cohort folder against the feature schema",
        description="List every problem (file, line, column) or print a summary.")
    check.add_argument("folder", type=Path, help="the cohort folder")
    check.add_argument("--no-outcomes", action="store_true",
                       help="outcomes.csv is optional (inference-only cohort)")
    check.set_defaults(func=cmd_cohort_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args))
    except OncoPredictError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as exc:  # e.g. a slice index out of range
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
