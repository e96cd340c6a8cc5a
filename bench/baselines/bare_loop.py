"""A hand-written PyTorch + timm training loop: the yardstick `harness run` is measured against.

Same work as the harness's benchmark recipe: ImageFolder JPEGs decoded with PIL, random-resized
crop + flip + normalize (torchvision v2), two loader workers, AdamW, cross-entropy, the same
precision and memory format. Prints one JSON line: images/s per epoch (data loading included).

    python bench/baselines/bare_loop.py ../shared/data/hymenoptera/train --model efficientnet_lite0 --size 224
"""

from __future__ import annotations

import argparse
import json
import time

import timm
import torch
from torchvision import datasets
from torchvision.transforms import v2


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("--model", default="efficientnet_lite0")
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--bf16", action="store_true")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images")
    args = p.parse_args()

    torch.manual_seed(0)
    tf = v2.Compose([
        v2.PILToTensor(), v2.RandomResizedCrop(args.size, scale=(0.25, 1.0), antialias=True), v2.RandomHorizontalFlip(),
        v2.ToDtype(torch.float32, scale=True), v2.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    ])
    ds = datasets.ImageFolder(args.root, transform=tf, loader=lambda f: datasets.folder.pil_loader(f))
    if args.limit:  # an even spread over the classes, as a stratified fold would be
        ds = torch.utils.data.Subset(ds, torch.randperm(len(ds))[: args.limit].tolist())
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True  # fixed input size: as timm's train.py and the harness do
    loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=args.workers,
                                         drop_last=True, persistent_workers=args.workers > 0, pin_memory=device == "cuda")
    model = timm.create_model(args.model, num_classes=2).to(device)
    if args.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rates = []
    for _ in range(args.epochs):
        model.train()
        n, start = 0, time.perf_counter()
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            if args.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device, dtype=torch.bfloat16, enabled=args.bf16):
                loss = torch.nn.functional.cross_entropy(model(images), labels)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            n += images.shape[0]
        if device == "cuda":
            torch.cuda.synchronize()
        rates.append(n / (time.perf_counter() - start))
    print(json.dumps({"train_img_per_s": rates}))


if __name__ == "__main__":
    main()
