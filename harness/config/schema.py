"""The recipe's core sections. Plugin sections (loss, sampler, ...) are typed by each plugin's own
options dataclass and resolved in `harness.config.recipe`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from harness.config.typed import require


@dataclass(frozen=True)
class DataConfig:
    root: str = ""  # the competition folder (relative paths are relative to where the command runs)
    layout: Literal["auto", "kaggle", "imagefolder"] = "auto"  # auto: kaggle when `train_csv` exists, else imagefolder
    image_size: int = 224  # side of the square training and prediction images, in pixels
    train_csv: str = "train.csv"  # Kaggle layout: the CSV of training ids and labels
    id_column: str = "id"  # Kaggle layout: the id column of train_csv and sample_submission
    label_column: str = "label"  # Kaggle layout: the label column of train_csv
    train_dir: str = "train"  # Kaggle layout: the training images, ID + extension; ImageFolder: train/CLASS/*
    test_dir: str = "test"  # Kaggle layout: the test images named by sample_submission's ids
    # Kaggle layout: the image files' suffix, such as ".jpg"; empty: found from the files of the
    # first ids (the ids may also be whole file names). A value given is used strictly.
    extension: str = ""
    sample_submission: str = "sample_submission.csv"  # Kaggle layout: its ids and columns make submission.csv
    # Explicit class list; empty means the sorted labels found in the training data.
    classes: tuple[str, ...] = ()
    num_workers: int = 2  # data-loader worker processes (0: load in the main process)
    pin_memory: bool = True  # with a GPU: page-locked batches, copied without blocking the host
    normalize_on_device: bool = True  # with a GPU: uint8 batches, normalized there rather than in the workers
    max_bad_fraction: float = 0.02  # the run stops when more than this share of training images is unreadable
    cache: bool = False  # decode and resize each image once into a uint8 .npy cache shared by folds and epochs
    cache_dir: str = ""  # the cache's folder; empty: $HARNESS_CACHE/images, else ~/.cache/harness/images
    # The cache stores the shorter side at image_size * this (never above the photo's own), room for
    # random crops. With random-resized crops, 1 / sqrt(augment.scale_min) keeps even the smallest
    # crop at full detail (2.0 for scale_min 0.25); below that, small crops are upscaled patches
    # and the run warns. The default spares disk: 2.0 stores 3x the pixels of 1.15.
    cache_oversize: float = 1.15
    # Decode every image once into one memory-mapped uint8 array at image_size (shorter side
    # resized, centre kept), read by whole batches with no per-image Python: for sets of small
    # images of one shape (CIFAR). The augment must then treat every image alike (a resize); random
    # augmentation goes in [batch_transforms] (crop_flip, batch_affine, mixup_cutmix). Its folder
    # is data.cache_dir's (default $HARNESS_CACHE/arrays, else ~/.cache/harness/arrays).
    array: bool = False
    # Where the array's batches come from: "auto" keeps the whole array in a GPU's memory when it
    # takes at most a quarter of what is free there (a batch is one gather on the device, nothing to
    # pin or copy), else reads the memory-mapped file; "yes" keeps it on the device whatever it is
    # (on a CPU: a copy in RAM) and stops when it cannot fit; "no" always reads the file.
    array_on_device: Literal["auto", "yes", "no"] = "auto"
    # Train on a stratified, seeded subset (by cv.seed) of this share of the training set; the
    # folds are made on that subset. Recorded in run.json, so a fractional run is never taken
    # for a full one. 1.0 is the whole set.
    fraction: float = 1.0
    # A gate run's out-of-domain photos: a folder of images (any nesting) that the competition's
    # own training images are told apart from. Set, the run trains a two-class gate, "known"
    # (every training image of data.root) against "unknown" (these), whose test and holdout sets
    # are the competition's; `harness gate MAIN --by GATE_RUN` attaches it to a main run.
    outliers: str = ""
    # A label hierarchy: a CSV of child,parent rows (any depth) whose leaves are the classes, or
    # "folders" (ImageFolder nesting: train/vehicle/ship/*.jpg). Set, the run writes each level's
    # accuracy (metrics.json's level_accuracy) and `harness hierarchy` reads any level off it.
    hierarchy: str = ""
    level: int = 0  # train on the nodes of this level of data.hierarchy instead of the leaves (1: the trunk)
    branch: str = ""  # train on the images under this node of data.hierarchy, labelled by their leaves
    # Further label sets of the same images, each with its own head (multi-task): a column of the
    # Kaggle train.csv (an empty cell: no label for that task), or "level_K" of data.hierarchy.
    # The run's own task stays label_column's; `model.task_bn` branches the last stage's BatchNorm.
    tasks: tuple[str, ...] = ()
    task_weights: tuple[float, ...] = ()  # each further task's loss weight (default 1.0 each)

    @property
    def cache_side(self) -> int:
        """The shorter side the image cache stores (a photo smaller than that keeps its own)."""
        return round(self.image_size * self.cache_oversize)

    def validate(self, where: str) -> None:
        require(0.0 < self.fraction <= 1.0, f"{where}.fraction", f"must be in (0, 1], got {self.fraction}")
        require(self.image_size >= 8, f"{where}.image_size", "must be at least 8")
        require(self.num_workers >= 0, f"{where}.num_workers", "must be >= 0")
        require(0.0 <= self.max_bad_fraction <= 1.0, f"{where}.max_bad_fraction", "must be in [0, 1]")
        require(self.cache_oversize >= 1.0, f"{where}.cache_oversize", "must be >= 1")
        require(self.level >= 0, f"{where}.level", "must be >= 0 (0: the leaves, 1: the trunk)")
        require(not self.task_weights or len(self.task_weights) == len(self.tasks), f"{where}.task_weights",
                f"needs one weight per task of data.tasks ({len(self.tasks)}), got {len(self.task_weights)}")
        require(len(set(self.tasks)) == len(self.tasks), f"{where}.tasks", "names a task twice")
        require(not (self.cache and self.array), f"{where}.array", "reads images from one array: drop data.cache "
                "(the per-image cache) or set data.array = false")
        ext = self.extension
        require(
            not ext or ext.startswith("."), f"{where}.extension", f"must start with a dot, such as '.{ext}'"
        )


@dataclass(frozen=True)
class ModelConfig:
    source: str = "timm"  # a `harness_models` component: `harness plugins models:` lists them
    name: str = "resnet18"  # the model's name for its source (any timm model name for "timm")
    pretrained: bool = False  # true: pretrained weights (timm: the local hub cache, else a download)
    weights: str = ""  # a local .safetensors or .pth state dict to start from (the head may differ)
    drop_rate: float = 0.0  # dropout before the classifier
    channels_last: bool = True  # the channels_last memory format for the model and its inputs
    freeze_bn: bool = False  # keep pretrained BatchNorm statistics (small-data fine-tuning)
    # With data.tasks: each task its own BatchNorm statistics and affine parameters in the last
    # stage (ResNet's layer4), the convolutions shared; false: the tasks' heads share the stage.
    task_bn: bool = True

    def validate(self, where: str) -> None:
        require(0.0 <= self.drop_rate < 1.0, f"{where}.drop_rate", "must be in [0, 1)")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # training epochs per fold
    # The global batch: one optimizer update sees batch_size * grad_accum images, however many
    # processes share them. Each of N processes takes batch_size / N of every batch (an error
    # when N does not divide it), so a recipe trains the same model on 1 or 8 GPUs. `lr` is the
    # rate for this global batch; `scale_lr` multiplies it by batch_size * grad_accum / 256.
    batch_size: int = 32
    lr: float = 1e-3  # the learning rate of the global batch (the head's; see backbone_lr_mult)
    weight_decay: float = 0.01  # decoupled weight decay; biases and norm weights get none
    optimizer: Literal["adamw", "sgd"] = "adamw"  # the torch optimizer
    momentum: float = 0.9  # SGD momentum
    seed: int = 42  # seed of the weights, augmentation and sampling (fold k adds 1000 * k); folds use cv.seed
    # auto: bf16 on a GPU or an AMX CPU, else fp32 (HARNESS_AUTO_PRECISION overrides); on a CPU, bf16 runs the
    # strided convolutions with a 1-pixel output side in fp32 (a oneDNN kernel bug; docs/precision.md)
    precision: Literal["auto", "bf16", "fp16", "fp32"] = "auto"
    grad_accum: int = 1  # batches whose gradients are summed per optimizer update
    clip_grad: float = 0.0  # clip the gradient norm to this (0: off)
    compile: bool = False  # torch.compile the model
    cudnn_benchmark: bool = True  # with a GPU: cuDNN times its kernels once per input shape and keeps the fastest
    # Deterministic kernels only (an error names any op without one), so that a resumed run is
    # bitwise the uninterrupted one on a GPU too; slower there. A CPU run is deterministic anyway.
    deterministic: bool = False
    keep_freed_memory: bool = True  # glibc keeps freed memory for reuse: fewer page faults a step on a CPU
    backbone_lr_mult: float = 1.0  # the backbone's learning rate is lr times this (0: frozen backbone)
    # The learning rate of normalization layers' parameters (BatchNorm, LayerNorm, GroupNorm) is
    # their group's rate times this; airbench trains its BatchNorm shifts at 64x. Not with layer_decay.
    norm_lr_mult: float = 1.0
    # Layer-wise learning-rate decay (BEiT; timm's param_groups_layer_decay): the head learns at
    # lr, and each layer group below it (timm's group_matcher: blocks, then the stem) at this
    # factor times the rate of the group above. 0 turns it off; 1.0 gives every layer lr.
    # backbone_lr_mult still multiplies the backbone's groups (0 still freezes them).
    layer_decay: float = 0.0
    scale_lr: bool = False  # the linear rule (Goyal et al. 2017): lr * global batch / 256
    # The weights each fold predicts with: "best", the epoch with the best cv.metric on the fold's
    # validation split (a fold of a few dozen images ties often, and ties keep the earliest);
    # "last", the final epoch's, as a schedule that anneals to zero intends. Either way a callback's
    # candidate (an EMA) replaces the raw weights only when it scores better.
    keep: Literal["best", "last"] = "best"
    eval_batch_size: int = 0  # 0 means twice the training batch
    log_every: int = 25  # steps between reads of the loss on the host (progress, non-finite checks)
    max_nonfinite: int = 5  # stop after this many non-finite losses in a row
    checkpoint_every: int = 100  # optimizer updates between mid-epoch checkpoints (0: epoch ends only)
    # Checkpoints at all (`--resume` continues from the newest). A tuning trial sets it false: a trial
    # never resumes (a dead worker's trial runs again from its start), so its saves were pure cost.
    checkpoints: bool = True
    # Experiment trackers through Accelerate, besides log.jsonl and metrics.json (which stay the
    # record): ["tensorboard"] writes RUN_DIR/tensorboard/ and needs the tensorboard package.
    log_with: tuple[Literal["tensorboard"], ...] = ()

    def validate(self, where: str) -> None:
        require(self.epochs >= 1, f"{where}.epochs", "must be >= 1")
        require(self.batch_size >= 1, f"{where}.batch_size", "must be >= 1")
        require(self.lr > 0, f"{where}.lr", f"must be > 0, got {self.lr}")
        require(self.weight_decay >= 0, f"{where}.weight_decay", "must be >= 0")
        require(0 <= self.momentum < 1, f"{where}.momentum", "must be in [0, 1)")
        # numpy seeds must be in [0, 2**32); each fold adds 1000 to the seed
        require(0 <= self.seed < 2**31, f"{where}.seed", "must be in [0, 2**31)")
        require(self.grad_accum >= 1, f"{where}.grad_accum", "must be >= 1")
        require(self.clip_grad >= 0, f"{where}.clip_grad", "must be >= 0")
        require(self.backbone_lr_mult >= 0, f"{where}.backbone_lr_mult", "must be >= 0")
        require(self.norm_lr_mult > 0, f"{where}.norm_lr_mult", "must be > 0")
        require(self.norm_lr_mult == 1.0 or self.layer_decay == 0, f"{where}.norm_lr_mult",
                "works without train.layer_decay only (its groups set their own rates)")
        require(0 <= self.layer_decay <= 1, f"{where}.layer_decay", f"must be in [0, 1] (0: off), got {self.layer_decay}")
        require(self.eval_batch_size >= 0, f"{where}.eval_batch_size", "must be >= 0")
        require(self.log_every >= 1, f"{where}.log_every", "must be >= 1")
        require(self.max_nonfinite >= 1, f"{where}.max_nonfinite", "must be >= 1")
        require(self.checkpoint_every >= 0, f"{where}.checkpoint_every", "must be >= 0")


@dataclass(frozen=True)
class CVConfig:
    folds: int = 5  # K of the stratified K-fold cross-validation
    metric: str = "accuracy"  # a `harness_metrics` component: `harness plugins` lists them
    only: tuple[int, ...] = ()  # train a subset of folds; empty means all
    # The folds depend on this seed alone, not on train.seed, the model or the image size, so
    # runs that differ in those share folds and their OOFs can be ensembled.
    seed: int = 42
    folds_file: str = ""  # reuse an `id,fold` CSV (the folds.csv of an earlier run)
    group_column: str = ""  # Kaggle layout: a train.csv column; one group never straddles folds

    def validate(self, where: str) -> None:
        require(self.folds >= 2, f"{where}.folds", "must be >= 2")
        require(0 <= self.seed < 2**32, f"{where}.seed", "must be in [0, 2**32)")
        require(not (self.folds_file and self.group_column), where,
                "folds_file and group_column exclude each other: a folds file already fixes the groups")
        for k in self.only:
            require(0 <= k < self.folds, f"{where}.only", f"fold {k} is not in 0..{self.folds - 1}")
        require(len(set(self.only)) == len(self.only), f"{where}.only", "lists a fold more than once")


@dataclass(frozen=True)
class TTAConfig:
    views: tuple[str, ...] = ("identity",)  # `harness_tta_views` components, ensembled by `ensemble.name`

    def validate(self, where: str) -> None:
        require(len(self.views) > 0, f"{where}.views", "must list at least one view, such as ['identity']")
        require(len(set(self.views)) == len(self.views), f"{where}.views", "lists a view more than once")


@dataclass(frozen=True)
class Selected:
    """A plugin component chosen by name, with its validated options."""

    name: str
    options: Any


@dataclass(frozen=True)
class Recipe:
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    cv: CVConfig
    augment: Selected
    loss: Selected
    sampler: Selected
    scheduler: Selected
    ensemble: Selected
    tta: TTAConfig
    tta_options: tuple[Selected, ...]
    batch_transforms: tuple[Selected, ...]
    callbacks: tuple[Selected, ...]
