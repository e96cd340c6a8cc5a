"""Cost of the harness itself, on tensors already in memory (no decoding), measured side by side:

1. a harness training step (`train_one_epoch` with the plugin-built loss, schedule and callbacks
   off, under Accelerate) against a bare step (forward, cross-entropy, backward, AdamW);
2. prediction with n TTA views from one decoded batch against n times one plain pass.

    python bench/speed/overhead.py --model efficientnet_lite0 --size 224 --rounds 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import timm
import torch
from accelerate import Accelerator
from torch.utils.data import DataLoader, TensorDataset

from harness.config.recipe import load_recipe
from harness.plugin_manager import load_plugins
from harness.predict import predict
from harness.specs import TTAView
from harness.testing import context
from harness.train import TrainState, build_optimizer, train_one_epoch

BENCH = Path(__file__).resolve().parents[1]  # bench/: common.py, recipes/, results/, baselines/
sys.path.insert(0, str(BENCH))
from common import record  # noqa: E402


def data(n: int, size: int, batch: int) -> DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, size, size, generator=g)
    y = torch.randint(0, 2, (n,), generator=g)
    return DataLoader(TensorDataset(x, y, torch.arange(n)), batch_size=batch)


def bare_epoch(model: torch.nn.Module, loader: DataLoader, opt: torch.optim.Optimizer) -> float:
    model.train()
    start = time.perf_counter()
    for x, y, _ in loader:
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--tta-only", action="store_true", help="skip the training-step comparison")
    args = p.parse_args()
    torch.manual_seed(0)
    acc = Accelerator(cpu=not torch.cuda.is_available())
    plugins = load_plugins()
    recipe = load_recipe(BENCH / "recipes" / "throughput.toml", ["data.root='.'", f"train.batch_size={args.batch}",
                                                                "model.channels_last=false", "train.log_every=1000000"], plugins)
    loader = data(args.batch * args.steps, args.size, args.batch)
    ctx = context(num_classes=2, n=len(loader.dataset), batch_size=args.batch, image_size=args.size)

    bare_model = timm.create_model(args.model, num_classes=2)
    bare_opt = torch.optim.AdamW(bare_model.parameters(), lr=1e-3)
    model = timm.create_model(args.model, num_classes=2)
    optimizer = build_optimizer(model, recipe.train, 1e-3)
    model, optimizer, h_loader = acc.prepare(model, optimizer, loader)
    state = TrainState(recipe, acc, model, acc.unwrap_model(model), optimizer, fold=0)
    loss = plugins.loss(recipe.loss, ctx)
    schedule = plugins.scheduler(recipe.scheduler, ctx)

    bare_t, harness_t = [float("nan")], [float("nan")]
    if not args.tta_only:
        bare_epoch(bare_model, loader, bare_opt)  # warm-up both
        train_one_epoch(state, h_loader, loss, schedule, [], [], lambda n, v: None)
        bare_t, harness_t = [], []
    for r in range(0 if args.tta_only else args.rounds):
        pair = [("bare", lambda: bare_epoch(bare_model, loader, bare_opt)),
                ("harness", lambda: train_one_epoch(state, h_loader, loss, schedule, [], [], lambda n, v: None).seconds)]
        for name, fn in pair if r % 2 == 0 else pair[::-1]:
            (bare_t if name == "bare" else harness_t).append(fn())
    step_ratio = statistics.median(harness_t) / statistics.median(bare_t)

    eval_loader = acc.prepare(data(args.batch * 4, args.size, args.batch))
    plain = [TTAView("identity", lambda x: x)]
    views = {2: plain + [TTAView("hflip", lambda x: x.flip(-1))],
             4: plain + [TTAView(f"v{i}", (lambda k: lambda x: x.roll(k, -1))(i)) for i in range(1, 4)]}
    net = acc.unwrap_model(model)
    predict(net, eval_loader, plain, acc, args.batch * 4)
    tta: dict[str, float] = {}
    for n, vs in views.items():
        one, many = [], []
        for _ in range(args.rounds):
            t = time.perf_counter()
            predict(net, eval_loader, plain, acc, args.batch * 4)
            one.append(time.perf_counter() - t)
            t = time.perf_counter()
            predict(net, eval_loader, vs, acc, args.batch * 4)
            many.append(time.perf_counter() - t)
        tta[f"{n}_views_vs_n_plain"] = statistics.median(many) / (n * statistics.median(one))
    result = {"model": args.model, "size": args.size, "batch": args.batch, "rounds": args.rounds,
              "bare_epoch_s": statistics.median(bare_t), "harness_epoch_s": statistics.median(harness_t),
              "harness_step_vs_bare": step_ratio, "tta": tta, "threads": torch.get_num_threads()}
    record("overhead", result)


if __name__ == "__main__":
    main()
