"""Training: the paper's protocol (70/15/15 split, Adam 1e-3, batch 32, up to 50 epochs, early
stopping on validation loss, dropout and L2), trained for missing modalities, then temperature
scaling on the validation split.

Missing modalities are part of training: each step draws, per case, which image the model gets
(MRI, mammogram or none), how many time points it sees (1 to 4) and whether its genomic data
is withheld. Validation and early stopping use the full sequence with the MRI (the condition of
the paper's tables). Every epoch writes a resumable checkpoint,
OUT/checkpoint/checkpoint.safetensors: one file, replaced atomically, so a run killed at any
moment resumes from its last whole epoch and ends exactly where an uninterrupted run would.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from mmcrnet.batch import main_condition_kinds, predict_logits
from mmcrnet.checkpoint import save_model
from mmcrnet.data import (
    LAYOUT,
    MAMMOGRAM,
    MRI,
    NO_IMAGE,
    EncodedSequences,
    ImageArrays,
    batch_image_array,
    encode_sequences,
    model_config,
    truncate,
)
from mmcrnet.datasets import CaseSet, split_rows, subset
from mmcrnet.distributed import Ranks, current
from mmcrnet.errors import CorruptCheckpoint, InvalidArgument
from mmcrnet.features import OUTCOMES
from mmcrnet.metrics import fit_temperature, scores, softmax
from mmcrnet.model import MMCRNet, ModelConfig
from mmcrnet.phantom.cohort import SPEC_VERSION
from mmcrnet.reference import reference_patient

EpochCallback = Callable[[dict[str, Any]], None]

CHECKPOINT = "checkpoint.safetensors"  # in OUT/checkpoint/
CHECKPOINT_FORMAT = 1  # bump when the checkpoint's layout changes


@dataclass(frozen=True)
class TrainConfig:
    """How to train; saved in the model card."""

    variant: str = "mmcrnet"
    seed: int = 0
    epochs: int = 50  # upper bound; early stopping usually ends sooner
    batch_size: int = 32
    learning_rate: float = 1e-3  # Adam
    weight_decay: float = 1e-4  # L2 penalty (Adam weight_decay)
    patience: int = 6  # epochs without a better validation loss before stopping
    lr_factor: float = 0.3  # multiply the learning rate by this on a validation plateau ...
    lr_patience: int = 2  # ... of this many epochs (ReduceLROnPlateau)
    min_learning_rate: float = 1e-5
    split: tuple[float, float, float] = (0.70, 0.15, 0.15)
    # Missing-modality training: probabilities per case and step.
    image_kind_p: tuple[float, float, float] = (0.2, 0.6, 0.2)  # none, MRI, mammogram
    length_p: tuple[float, float, float, float] = (0.15, 0.15, 0.15, 0.55)  # 1..4 time points
    genomic_drop_p: float = 0.15  # withhold all genomic data
    # Withhold all clinical data, so that the modality Shapley values (which withhold it) ask
    # the model something it has seen in training.
    clinical_drop_p: float = 0.15
    # Withhold the tumour-diameter measurements, so that the image must carry the tumour's size
    # when the form does not (the maps then have a reason to look at the tumour).
    diameter_drop_p: float = 0.25
    flip_p: float = 0.5  # horizontal flip of the image
    # Group lasso on the LSTM's input weights, one group per input column: a feature the data
    # does not need is pushed towards no weight at all (0: off, the bundled model).
    input_lasso: float = 0.0
    max_minutes: float | None = None  # stop after this wall time (still calibrates and saves)
    threads: int | None = None  # torch CPU threads (default: torch's choice)
    # DataLoader worker processes reading the batches' images (0: in the training process);
    # the draws are made before them, so the result is the same with any number
    loader_workers: int = 0
    model_overrides: dict[str, Any] = field(default_factory=dict)  # ModelConfig fields


#: below this many validation cases, early stopping and calibration are noise: warned, and the
#: temperature stays 1
MIN_VALIDATION = 30
#: fewer training cases than this is refused
MIN_TRAIN = 10


def split_warnings(labels: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray) -> list[str]:
    """What makes a split unfit to train on: refused when the training split lacks an outcome
    or there is no validation case; warnings for a small validation split.

    Raises:
        InvalidArgument: the cohort is too small to split (says how many cases it has).
    """
    n = len(labels)
    absent = [c for k, c in enumerate(OUTCOMES) if not (labels[train_rows] == k).any()]
    why = None
    if len(train_rows) < MIN_TRAIN:
        why = f"the training split would have {len(train_rows)} cases (at least {MIN_TRAIN})"
    elif len(val_rows) < 2:
        why = f"the validation split would have {len(val_rows)} (at least 2)"
    elif absent:
        why = f"the training split has no '{absent[0]}' case"
    if why:
        raise InvalidArgument(f"a cohort of {n} cases is too small to train on: {why}")
    warnings = []
    if len(val_rows) < MIN_VALIDATION:
        warnings.append(
            f"the validation split has {len(val_rows)} cases (of {n}): early stopping and "
            f"its metrics are noise below {MIN_VALIDATION}, and the probabilities are not "
            "calibrated (temperature 1)"
        )
    missing = [c for k, c in enumerate(OUTCOMES) if not (labels[val_rows] == k).any()]
    if missing:
        warnings.append(f"the validation split has no '{missing[0]}' case: its AUC is undefined")
    return warnings


def withhold(
    sequences: np.ndarray, config: ModelConfig, train: TrainConfig, rng: np.random.Generator
) -> None:
    """Withhold at random, per case, in place on (B, T, F) encoded sequences: all genomic data,
    all clinical data, the tumour-diameter measurements (each with its ``TrainConfig``
    probability; only groups the variant reads). Zeros in values and present flags are what
    missing looks like to the model."""
    diameter = np.isin(np.arange(LAYOUT.width), LAYOUT.columns_of("tumor_diameter_cm"))
    draws = (
        ("genomic", LAYOUT.group_mask("genomic"), train.genomic_drop_p),
        ("clinical", LAYOUT.group_mask("clinical"), train.clinical_drop_p),
        ("clinical", diameter, train.diameter_drop_p),
    )
    steps = np.arange(sequences.shape[1])
    for group, columns, p in draws:
        if p > 0 and group in config.groups:
            drop = rng.random(len(sequences)) < p
            sequences[np.ix_(drop, steps, columns)] = 0.0


def image_kind_probabilities(config: ModelConfig, train: TrainConfig) -> np.ndarray:
    """(3,) probabilities of none / MRI / mammogram for this variant."""
    if not config.uses_image:
        return np.array([1.0, 0.0, 0.0])
    p = np.array(train.image_kind_p, dtype=float)
    if not config.uses_sequence:  # an image-only model always gets an image
        p[0] = 0.0
    return p / p.sum()


def _state_to_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The optimizer's per-parameter state as ``{"INDEX.KEY": tensor}`` (Adam: step, moments)."""
    tensors: dict[str, torch.Tensor] = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            tensors[f"{index}.{key}"] = torch.as_tensor(value).detach().clone().contiguous()
    return tensors


def _tensors_to_state(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    """Load what :func:`_state_to_tensors` returned; the hyperparameters stay the optimizer's."""
    state_dict = optimizer.state_dict()
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


@dataclass
class _Progress:
    """Where training stands after an epoch; saved (as JSON) in every checkpoint."""

    epoch: int = 0
    best_loss: float = float("inf")
    best_epoch: int = -1
    stale: int = 0  # epochs since the best validation loss (early-stopping counter)
    history: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # training wall time so far, over every run that contributed
    resumed_at_epochs: list[int] = field(default_factory=list)  # one entry per resume


@dataclass
class _Checkpoint:
    """Everything an epoch's end leaves behind that the next epoch depends on.

    Tensors (weights, Adam moments, torch RNG state as uint8) go in the safetensors body; the
    rest, JSON, in its metadata. Training draws randomness from exactly two sources, both seeded
    from ``TrainConfig.seed`` and both saved: torch's generator (initialisation, dropout) and the
    numpy Generator ``rng`` (data order, missing-modality draws, flips). Python's ``random`` and
    numpy's global generator are neither seeded nor used, so there is nothing of theirs to keep.
    """

    fingerprint: dict[str, Any]  # what must match for a resume (JSON-normalised)
    model: dict[str, torch.Tensor]  # the last epoch's weights
    best: dict[str, torch.Tensor]  # the weights of the best validation loss so far
    optimizer: dict[str, torch.Tensor]  # Adam's per-parameter state
    scheduler: dict[str, Any]  # ReduceLROnPlateau's state (its learning rate included)
    numpy_rng: dict[str, Any]  # rng.bit_generator.state
    torch_rng: dict[str, torch.Tensor]  # "cpu" and, when training on a GPU, "cuda"
    progress: _Progress


def _save_checkpoint(folder: Path, saved: _Checkpoint) -> None:
    """Write ``folder/checkpoint.safetensors`` atomically: into a temporary file in the same
    folder, flushed to disk, then ``os.replace``d over the old one. A kill at any moment leaves
    either the previous checkpoint or the new one, never a mixture or a torn file."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {
        **{f"model.{k}": v.detach().cpu().contiguous() for k, v in saved.model.items()},
        **{f"best.{k}": v.detach().cpu().contiguous() for k, v in saved.best.items()},
        **{f"optim.{k}": v.detach().cpu().contiguous() for k, v in saved.optimizer.items()},
        **{f"rng.{k}": v.detach().cpu().contiguous() for k, v in saved.torch_rng.items()},
    }
    state = {
        "format": CHECKPOINT_FORMAT,
        "fingerprint": saved.fingerprint,
        "scheduler": saved.scheduler,
        "numpy_rng": saved.numpy_rng,
        "progress": asdict(saved.progress),
    }
    partial = folder / (CHECKPOINT + ".partial")  # a fixed name: a killed write leaves one
    save_file(tensors, str(partial), metadata={"format": "pt", "state": json.dumps(state)})
    with open(partial, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(partial, folder / CHECKPOINT)


def _load_checkpoint(path: Path) -> _Checkpoint:
    """Read a checkpoint written by :func:`_save_checkpoint`.

    Raises:
        CorruptCheckpoint: the file is truncated, damaged or of another format. We refuse
            rather than start over: the writes are atomic, so a damaged file means something
            outside training went wrong (disk, a partial copy), and starting over would quietly
            throw away the epochs already trained and overwrite the evidence with epoch 1.
    """
    advice = f"delete {path.parent} to train from scratch"
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except SafetensorError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptCheckpoint(f"{path}: unreadable checkpoint ({first_line}); {advice}") from None
    try:
        state = json.loads(metadata.get("state", ""))
    except json.JSONDecodeError:
        raise CorruptCheckpoint(f"{path}: checkpoint without a readable state; {advice}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        found = state.get("format") if isinstance(state, dict) else None
        raise CorruptCheckpoint(
            f"{path}: checkpoint format {found!r}, expected {CHECKPOINT_FORMAT}; {advice}"
        )

    def part(prefix: str) -> dict[str, torch.Tensor]:
        return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}

    return _Checkpoint(
        fingerprint=state["fingerprint"],
        model=part("model."),
        best=part("best."),
        optimizer=part("optim."),
        scheduler=state["scheduler"],
        numpy_rng=state["numpy_rng"],
        torch_rng=part("rng."),
        progress=_Progress(**state["progress"]),
    )


def _training_reference(cases: CaseSet, rows: np.ndarray, config: ModelConfig) -> dict[str, object]:
    """The training split's reference patient (the baseline of sequence attributions), as the
    model sees it: its feature groups, over every time point of the training cases."""
    ids = set(cases.cases["case_id"].iloc[rows])
    return reference_patient(
        cases.cases.iloc[rows],
        cases.timepoints[cases.timepoints["case_id"].isin(ids)],
        config.groups,
    )


def train_model(
    cases: CaseSet,
    out: Path,
    train: TrainConfig,
    on_epoch: EpochCallback | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    device: str | torch.device | None = None,
) -> dict[str, Any]:
    """Train one model on ``cases`` and write ``out/model.safetensors`` + ``out/model.json``.

    Resumes from ``out/checkpoint/`` when a checkpoint of the same configuration is there (any
    ``epochs``, ``max_minutes`` or ``threads``), and then ends exactly as an uninterrupted run.

    In a ``torch.distributed`` run (:mod:`mmcrnet.distributed`, started by ``torchrun``) every
    process calls this with the same arguments: each trains on its share of every batch and
    validates on its share of the validation split, and only the main process writes the
    checkpoint and the model and calls ``on_epoch`` / ``on_batch``.

    Args:
        cases: the whole cohort; it is split 70/15/15 with ``train.seed``.
        on_epoch: called after each epoch with its metrics (for progress bars, live curves).
        on_batch: called with (batch, batches) within an epoch.
    Returns:
        the model card written.
    Raises:
        InvalidArgument: ``cases`` has no outcomes.
        CorruptCheckpoint: ``out/checkpoint/checkpoint.safetensors`` cannot be read.
    """
    if cases.labels is None:
        raise InvalidArgument("training needs outcomes (outcomes.csv)")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ranks = current()
    if train.threads:
        torch.set_num_threads(train.threads)
    torch.manual_seed(train.seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True)
    config = model_config(train.variant, **train.model_overrides)
    sequences = encode_sequences(cases.cases, cases.timepoints, config.groups)
    train_rows, val_rows, test_rows = split_rows(cases.n, train.seed, train.split)
    warnings = split_warnings(cases.labels, train_rows, val_rows)
    model = MMCRNet(config).to(device)
    trained = _data_parallel(model, device, ranks)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer,
        mode="min",
        factor=train.lr_factor,
        patience=train.lr_patience,
        min_lr=train.min_learning_rate,
    )
    rng = np.random.default_rng([train.seed, 1])
    progress = _Progress()
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    checkpoint = Path(out) / "checkpoint"
    # Through JSON, as the saved one was: tuples become lists, so equal settings compare equal.
    fingerprint = json.loads(
        json.dumps(
            {
                "train": {
                    k: v
                    for k, v in asdict(train).items()
                    if k not in ("max_minutes", "threads", "epochs", "loader_workers")
                },
                "config": config.to_dict(),
                "n": cases.n,
                "cases": cases.description,
            }
        )
    )
    if (checkpoint / CHECKPOINT).is_file():
        saved = _load_checkpoint(checkpoint / CHECKPOINT)
        if saved.fingerprint == fingerprint:  # else: other settings, train afresh over it
            model.load_state_dict(saved.model)
            best_state = saved.best
            _tensors_to_state(optimizer, saved.optimizer)
            scheduler.load_state_dict(saved.scheduler)
            for group, lr in zip(optimizer.param_groups, saved.scheduler["_last_lr"]):
                group["lr"] = lr
            rng.bit_generator.state = saved.numpy_rng
            torch.set_rng_state(saved.torch_rng["cpu"])
            if device.type == "cuda" and "cuda" in saved.torch_rng:
                torch.cuda.set_rng_state(saved.torch_rng["cuda"], device)
            progress = saved.progress
            progress.resumed_at_epochs.append(progress.epoch)

    val = subset(cases, val_rows)
    val_seq, val_len = sequences.values[val_rows], sequences.lengths[val_rows]
    val_kinds = main_condition_kinds(config, val.n)
    y_train = torch.from_numpy(cases.labels)
    started = time.perf_counter() - progress.seconds

    while progress.epoch < train.epochs and progress.stale < train.patience:
        elapsed_min = (time.perf_counter() - started) / 60
        if ranks.agree(train.max_minutes is not None and elapsed_min > train.max_minutes):
            break
        model.train()
        drawn = _draw_epoch(cases, sequences, train_rows, config, train, rng, ranks)
        total_loss = 0.0
        images = _batch_images(cases.images, drawn, train.loader_workers)
        for b, (batch, image) in enumerate(zip(drawn, images, strict=True)):
            logits = trained(
                image.to(device),
                torch.from_numpy(batch.kinds).to(device),
                torch.from_numpy(batch.sequences).to(device),
                torch.from_numpy(batch.lengths).to(device),
            )
            # The batch's mean loss, as each process's sum over the batch size; the processes'
            # gradients are averaged, hence the factor world.
            loss_sum = nn.functional.cross_entropy(
                logits, y_train[batch.rows].to(device), reduction="sum"
            )
            loss = loss_sum * (ranks.world / batch.size)
            if train.input_lasso and config.uses_sequence:
                weights = model.lstm.get_parameter("weight_ih_l0")  # (4 H, F)
                loss = loss + train.input_lasso * torch.linalg.vector_norm(weights, dim=0).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += loss_sum.item()
            if on_batch and ranks.main:
                on_batch(b + 1, len(drawn))
        total_loss = ranks.total(total_loss)
        val_logits = _validation_logits(model, val, val_seq, val_len, val_kinds, device, ranks)
        val_scores = scores(val.outcomes, softmax(val_logits))
        progress.epoch += 1
        record = {
            "epoch": progress.epoch,
            "train_loss": round(total_loss / len(train_rows), 4),
            "val_loss": round(val_scores.nll, 4),
            "val_accuracy": round(val_scores.accuracy, 4),
            "val_auc": round(val_scores.auc, 4),
            "learning_rate": optimizer.param_groups[0]["lr"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        progress.history.append(record)
        if val_scores.nll < progress.best_loss - 1e-4:
            progress.best_loss, progress.best_epoch = val_scores.nll, progress.epoch
            progress.stale = 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            progress.stale += 1
        scheduler.step(val_scores.nll)
        progress.seconds = time.perf_counter() - started
        torch_rng = {"cpu": torch.get_rng_state()}
        if device.type == "cuda":
            torch_rng["cuda"] = torch.cuda.get_rng_state(device)
        if not ranks.main:
            continue
        _save_checkpoint(
            checkpoint,
            _Checkpoint(
                fingerprint=fingerprint,
                model=model.state_dict(),
                best=best_state,
                optimizer=_state_to_tensors(optimizer),
                scheduler=scheduler.state_dict(),
                numpy_rng=dict(rng.bit_generator.state),
                torch_rng=torch_rng,
                progress=progress,
            ),
        )
        if on_epoch:
            on_epoch(record)

    model.load_state_dict(best_state)
    val_logits = _validation_logits(model, val, val_seq, val_len, val_kinds, device, ranks)
    # a handful of validation cases cannot set a temperature (it runs to its bound): say so
    calibrated = len(val_rows) >= MIN_VALIDATION
    temperature = fit_temperature(val_logits, val.outcomes) if calibrated else 1.0
    before = scores(val.outcomes, softmax(val_logits))
    after = scores(val.outcomes, softmax(val_logits, temperature))
    card = {
        "name": f"MM-CRNet ({config.variant})",
        "intended_use": "Research use only — not for clinical decisions.",
        "training_data": cases.description,
        "training_source": cases.source,
        "synthetic": cases.truth is not None,
        "cohort_spec_version": SPEC_VERSION if cases.truth is not None else None,
        "split": {
            "train": len(train_rows),
            "validation": len(val_rows),
            "test": len(test_rows),
            "seed": train.seed,
            "fractions": list(train.split),
        },
        "train_config": asdict(train),
        "temperature": temperature,
        "calibrated": calibrated,
        "warnings": list(warnings),
        "reference_patient": _training_reference(cases, train_rows, config),
        "validation": {
            "condition": "full sequence, " + ("MRI" if config.uses_image else "no image"),
            "uncalibrated": before.to_dict(),
            "calibrated": after.to_dict(),
        },
        "epochs_run": progress.epoch,
        "best_epoch": progress.best_epoch,
        "resumed_at_epochs": progress.resumed_at_epochs,  # [] for an uninterrupted run
        "history": progress.history,
        "training_seconds": round(progress.seconds, 1),
        "hardware": {
            "device": str(device),
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "processes": ranks.world,  # torch.distributed processes (torchrun), 1 alone
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
        },
    }
    if not ranks.main:
        return card
    return save_model(Path(out), model, card)


@dataclass(frozen=True)
class _Batch:
    """One training step's inputs in this process, all drawn: its share of the batch."""

    rows: np.ndarray  # (b,) case rows
    size: int  # cases in the whole batch (over every process)
    kinds: np.ndarray  # (b,) image kind
    sequences: np.ndarray  # (b, T, F) truncated, with withheld groups zeroed
    lengths: np.ndarray  # (b,)
    flip: np.ndarray  # (b,) bool: mirror the image


def _draw_epoch(
    cases: CaseSet,
    sequences: EncodedSequences,
    train_rows: np.ndarray,
    config: ModelConfig,
    train: TrainConfig,
    rng: np.random.Generator,
    ranks: Ranks,
) -> list[_Batch]:
    """An epoch's batches: the order, and per case the image kind, the time points seen, the
    groups withheld and the flip. Every process draws the whole batches (the same numbers) and
    keeps its share; a last batch too small to share among the processes is left out by all."""
    kind_p = image_kind_probabilities(config, train)
    order = rng.permutation(train_rows)
    drawn = []
    for start in range(0, len(order), train.batch_size):
        rows = order[start : start + train.batch_size]
        kinds = rng.choice(3, size=len(rows), p=kind_p)
        kinds[(kinds == MRI) & ~cases.images.has_mri[rows]] = NO_IMAGE
        kinds[(kinds == MAMMOGRAM) & ~cases.images.has_mammogram[rows]] = NO_IMAGE
        seq, lengths = truncate(
            sequences.values[rows],
            sequences.lengths[rows],
            rng.choice(4, size=len(rows), p=train.length_p) + 1,
        )
        withhold(seq, config, train, rng)
        flip = rng.random(len(rows)) < train.flip_p
        if len(rows) < ranks.world:
            continue
        mine = ranks.share(rows)
        drawn.append(
            _Batch(rows[mine], len(rows), kinds[mine], seq[mine], lengths[mine], flip[mine])
        )
    return drawn


class _BatchImages(torch.utils.data.Dataset):
    """The image tensor of each drawn batch, read from the cohort's images (memory-mapped for a
    cached phantom cohort, so only the batch's rows are read from disk)."""

    def __init__(self, images: ImageArrays, batches: list[_Batch]) -> None:
        self.images, self.batches = images, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int) -> np.ndarray:
        batch = self.batches[index]
        return batch_image_array(self.images, batch.rows, batch.kinds, batch.flip)


def _batch_images(
    images: ImageArrays, batches: list[_Batch], workers: int
) -> Iterator[torch.Tensor]:
    """The batches' image tensors in order: read here, or by ``workers`` DataLoader processes
    ahead of the training step (forked: they run numpy only, never torch's thread pool)."""
    dataset = _BatchImages(images, batches)
    if workers == 0:
        return (torch.from_numpy(dataset[b]) for b in range(len(dataset)))
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=None,
        num_workers=workers,
        multiprocessing_context="fork",
        prefetch_factor=4,
        # its own generator: seeding the workers from torch's would shift the dropout masks
        generator=torch.Generator().manual_seed(0),
    )
    return iter(loader)


def _data_parallel(model: MMCRNet, device: torch.device, ranks: Ranks) -> nn.Module:
    """What the training step calls: ``model`` alone, or wrapped in DistributedDataParallel
    when several processes train it (the wrapper averages their gradients in backward)."""
    if ranks.world == 1:
        return model
    # Not every encoder runs in every step (a share without a mammogram, say).
    return nn.parallel.DistributedDataParallel(
        model,
        device_ids=[device] if device.type == "cuda" else None,
        find_unused_parameters=True,
    )


def _validation_logits(
    model: MMCRNet,
    val: CaseSet,
    sequences: np.ndarray,
    lengths: np.ndarray,
    kinds: np.ndarray,
    device: torch.device,
    ranks: Ranks,
) -> np.ndarray:
    """The validation split's logits, each process computing its share."""
    if ranks.world == 1:
        return predict_logits(model, val, sequences, lengths, kinds, device=device)
    mine = ranks.share(np.arange(val.n))
    logits = predict_logits(
        model, subset(val, mine), sequences[mine], lengths[mine], kinds[mine], device=device
    )
    return ranks.gather(logits)
