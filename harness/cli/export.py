"""`harness export`: a finished run's fold or fold ensemble as an ONNX (optionally int8) or
TorchScript file with the normalization inside and the preprocessing in its metadata."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.errors import HarnessError

HELP = "export a run's fold or fold ensemble to ONNX (fp32 or int8) or TorchScript"
EXAMPLES = """examples:
  harness export runs/lite0_finetune --format onnx --fold 0 --out lite0_fold0.onnx
  harness export runs/lite0_finetune --format onnx --ensemble --int8 --out lite0_int8.onnx
  harness export runs/lite0_finetune --format torchscript --tta identity,hflip --out lite0.pt
The model takes RGB images resized as the metadata's `preprocess` says, NCHW, 0-255 (uint8 by
default, --input-dtype float32 for floats), normalizes them inside, and returns softmax
probabilities (N, classes), pooled over the folds and TTA views as the run pooled them (their
mean, or their geometric mean with the geometric ensembler; the metadata's `pool`). ONNX needs
`pip install 'harness[export]'`."""


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help=HELP, description=HELP, epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", type=Path, help="a finished run folder (with run.json)")
    p.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="file format (default: onnx)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--fold", type=int, default=None, help="export this fold alone")
    which.add_argument("--ensemble", action="store_true", help="every trained fold, pooled as the run pools them (the default)")
    p.add_argument("--int8", action="store_true",
                   help="ONNX only: static int8 quantization, calibrated on training images from the recipe's data.root")
    p.add_argument("--calibration", type=Path, default=None, metavar="DIR",
                   help="--int8: calibrate on the images in DIR instead of the training set")
    p.add_argument("--calibration-count", type=int, default=128, metavar="N",
                   help="--int8: training images to calibrate on (default: 128)")
    p.add_argument("--tta", type=_names, default=["identity"], metavar="VIEW,...",
                   help="TTA views inside the graph (default: identity, one plain pass)")
    p.add_argument("--input-dtype", choices=("uint8", "float32"), default="uint8",
                   help="the graph's input type; values are 0-255 either way (default: uint8)")
    p.add_argument("--out", type=Path, required=True, help="the file to write")


def run(args: argparse.Namespace) -> int:
    from harness.export import export_run
    from harness.plugin_manager import load_plugins

    if args.calibration_count < 1:
        raise HarnessError("--calibration-count must be at least 1")
    calibration = None
    if args.calibration is not None:
        if not args.int8:
            raise HarnessError("--calibration is for --int8")
        from harness.predict import check_readable, collect

        split = collect([args.calibration])
        check_readable(split)
        calibration = list(split.paths)
    done = export_run(args.run_dir, args.format, args.out, load_plugins(), fold=args.fold, int8=args.int8,
                      views=args.tta, input_dtype=args.input_dtype, calibration=calibration,
                      calibration_count=args.calibration_count)
    prep = done.exportable.prep
    size_mb = done.path.stat().st_size / 2**20
    kind = f"{args.format}{' int8' if args.int8 else ''}"
    print(f"wrote {done.path} ({kind}, {size_mb:.1f} MiB): fold(s) {', '.join(map(str, prep.folds))} "
          f"({', '.join(prep.weights)} weights), views {', '.join(prep.views)}, input {args.input_dtype} "
          f"(N, 3, {prep.image_size}, {prep.image_size}), {len(prep.classes)} classes")
    print(f"check against PyTorch on {done.checked_on}: max |prob difference| {done.max_abs_diff:.2e}, "
          f"predicted class agrees on {done.agreement:.1%}")
    return 0
