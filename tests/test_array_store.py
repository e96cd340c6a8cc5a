"""The image array (`data.array`): it round-trips every image, is reused until a file changes, and
its whole-batch reads give exactly the images the per-image pipeline gives; a random per-image
augment is refused; the batch shift-and-flip moves each image as a per-image reference does."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from harness.data.array_cache import build_array, square
from harness.data.dataset import ArrayDataset, ImageDataset
from harness.data.images import load_rgb
from harness.data.stores import ArrayStore, check_batch_safe, dataset_for
from harness.errors import HarnessError
from harness.runtime import resident
from harness.runtime.loader import make_loader
from harness.runtime.resident import keep_on_device
from harness.specs import Batch
from harness.train.sampling import EpochTagged
from harness_plugins.augment.crop_flip import CropFlip, CropFlipOptions, crop_flip
from harness_plugins.augment.standard import StandardOptions, build_standard


def _images(folder: Path, n: int, size: int = 32, seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        side = size if i % 3 else size + 8  # some need the resize and the centre crop
        path = folder / f"{i:03d}.jpg"
        Image.fromarray(rng.integers(0, 256, (side, side + i % 2 * 4, 3), dtype=np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def _ctx(size: int, normalize: bool = True) -> SimpleNamespace:
    return SimpleNamespace(image_size=size, normalize=normalize, mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.3))


def test_the_array_round_trips_every_image_and_is_reused_until_a_file_changes(tmp_path: Path) -> None:
    paths = _images(tmp_path / "img", 7)
    first = build_array(paths, 32, tmp_path / "arrays")
    assert first.built and first.array.shape == (7, 32, 32, 3) and first.bad == {}
    for i, p in enumerate(paths):
        np.testing.assert_array_equal(first.array[i], square(load_rgb(p), 32))
    again = build_array(paths, 32, tmp_path / "arrays")
    assert not again.built and again.path == first.path  # reused: no decode
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(paths[2], quality=90)
    os.utime(paths[2], ns=(1, 1))  # a new modification time, as an edit gives
    edited = build_array(paths, 32, tmp_path / "arrays")
    assert edited.built and edited.path != first.path and int(edited.array[2].max()) < 8
    assert not list((tmp_path / "arrays").glob(".*.tmp"))


def test_bad_files_are_named_and_never_read(tmp_path: Path) -> None:
    paths = _images(tmp_path / "img", 4)
    (tmp_path / "img" / "zero.jpg").write_bytes(b"")
    (tmp_path / "img" / "text.jpg").write_text("not an image")
    good = Image.open(paths[0])
    good.save(tmp_path / "img" / "cut.jpg")
    (tmp_path / "img" / "cut.jpg").write_bytes((tmp_path / "img" / "cut.jpg").read_bytes()[:200])  # truncated
    all_paths = [*paths, tmp_path / "img" / "zero.jpg", tmp_path / "img" / "text.jpg", tmp_path / "img" / "cut.jpg"]
    images = build_array(all_paths, 32, tmp_path / "arrays")
    assert sorted(images.bad) == [4, 5, 6]
    store = ArrayStore(images)
    assert store.dataset(all_paths, None, lambda x: x) is None
    assert store.dataset(paths, None, lambda x: x) is not None


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("on_device", ["no", "yes"])
def test_whole_batch_reads_give_the_per_image_pipelines_images(tmp_path: Path, normalize: bool, on_device: str) -> None:
    paths = _images(tmp_path / "img", 11)
    labels = np.arange(11) % 3
    tf = build_standard(StandardOptions(crop="resize", hflip=0.0), _ctx(32, normalize), train=False)
    images = build_array(paths, 32, tmp_path / "arrays")
    store = keep_on_device(ArrayStore(images), on_device, torch.device("cpu"))
    assert isinstance(store, resident.ResidentArrayStore) == (on_device == "yes")
    batched = store.dataset(paths, labels, tf)
    assert isinstance(batched, ArrayDataset)
    # the per-image pipeline over the same decoded squares (the per-image cache's role)
    per_image = ImageDataset(paths, labels, tf)
    per_image._item = lambda i, t: (t(torch.from_numpy(square(load_rgb(paths[i]), 32).copy()).permute(2, 0, 1)),  # type: ignore[method-assign]
                                    int(labels[i]), i)
    order = list(range(11))[::-1]
    sampler = EpochTagged(order)
    sampler.set_epoch(1)
    got = list(make_loader(batched, 4, workers=2, sampler=sampler))
    want = list(make_loader(per_image, 4, workers=0, sampler=sampler))
    assert len(got) == len(want) == 3
    for (gi, gl, gx), (wi, wl, wx) in zip(got, want, strict=True):
        assert torch.equal(gx, wx) and torch.equal(gl, wl)
        assert gi.dtype == wi.dtype and torch.equal(gi, wi)


def test_the_array_goes_to_the_device_only_where_asked_and_where_it_fits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu = torch.device("cpu")
    assert resident.resident_device("no", 10, cpu) is None
    assert resident.resident_device("auto", 10, cpu) is None  # a CPU's page cache already holds the map
    assert resident.resident_device("yes", 10, cpu) == cpu
    assert resident.fits(250, 1000) and not resident.fits(251, 1000) and resident.fits(1000, 1000, share=1.0)
    # the copy is made a few rows at a time (here 3 rows of 3 KiB a chunk) and equals the array
    images = build_array(_images(tmp_path / "img", 7), 32, tmp_path / "arrays")
    monkeypatch.setattr(resident, "CHUNK_BYTES", 3 * 32 * 32 * 3)
    copy = resident.copy_whole(images.array, cpu)
    assert copy.dtype == torch.uint8 and torch.equal(copy, torch.from_numpy(np.array(images.array)))


def test_dataset_for_falls_back_to_the_files_for_unscreened_paths(tmp_path: Path) -> None:
    paths = _images(tmp_path / "img", 3)
    extra = _images(tmp_path / "extra", 1, seed=5)
    store = ArrayStore(build_array(paths, 32, tmp_path / "arrays"))
    ds = dataset_for(store, [*paths, *extra], None, lambda x: x)
    assert isinstance(ds, ImageDataset) and len(ds) == 4


def test_a_random_per_image_augment_is_refused_and_a_resize_accepted() -> None:
    random_tf = build_standard(StandardOptions(), _ctx(32), train=True)
    with pytest.raises(HarnessError, match=r"data\.array transforms whole batches.*batch_transforms"):
        check_batch_safe(random_tf, 32)
    check_batch_safe(build_standard(StandardOptions(crop="resize", hflip=0.0), _ctx(32), train=True), 32)


def _reference(image: torch.Tensor, dy: int, dx: int, flip: bool, pad: int) -> torch.Tensor:
    """One image shifted the slow, obvious way: pad by reflection, slice, then mirror."""
    padded = torch.nn.functional.pad(image[None], (pad, pad, pad, pad), mode="reflect")[0]
    h, w = image.shape[-2:]
    out = padded[:, pad + dy: pad + dy + h, pad + dx: pad + dx + w]
    return out.flip(-1) if flip else out


def test_crop_flip_moves_each_image_as_the_per_image_reference() -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randn(6, 3, 10, 12, generator=g)
    dy, dx = torch.tensor([0, 2, -2, 1, -1, 2]), torch.tensor([0, -2, 2, 0, 1, -1])
    flip = torch.tensor([False, True, False, True, False, True])
    out = crop_flip(images, dy, dx, flip, pad=2)
    for i in range(6):
        torch.testing.assert_close(out[i], _reference(images[i], int(dy[i]), int(dx[i]), bool(flip[i]), 2), rtol=0, atol=0)
    assert torch.equal(crop_flip(images, dy * 0, dx * 0, flip & False, pad=2), images)  # no shift, no flip: unchanged


def test_crop_flip_draws_the_global_batch_alike_on_every_process_and_resumes() -> None:
    images = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    batch = Batch(images, torch.zeros(8, dtype=torch.int64), torch.arange(8))
    one = CropFlip(CropFlipOptions(pad=3), seed=5)(batch, 0).images
    halves = [CropFlip(CropFlipOptions(pad=3), seed=5, world_size=2, rank=r)(
        Batch(images[4 * r: 4 * r + 4], batch.target[:4], batch.index[:4]), 0).images for r in (0, 1)]
    assert torch.equal(torch.cat(halves), one)  # two processes augment each image as one does
    t = CropFlip(CropFlipOptions(pad=3), seed=5)
    t(batch, 0)
    saved = t.state_dict()
    after = t(batch, 1).images
    u = CropFlip(CropFlipOptions(pad=3), seed=99)
    u.load_state_dict(saved)
    assert torch.equal(u(batch, 1).images, after)
