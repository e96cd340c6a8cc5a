"""TTA views: identity-only TTA equals plain prediction, stacking views equals running them one by
one, every view keeps the batch shape, and the crops and flips mean what their names say."""

from __future__ import annotations

import pytest
import torch
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms.v2 import functional as TF

from harness.errors import HarnessError
from harness.plugin_manager import load_plugins
from harness.predict.tta import predict
from harness.specs import TTAView
from harness_plugins.tta.crops import CropOptions, build_five, build_ten, crop_box
from harness_plugins.tta.multi_scale import MultiScaleOptions, rescale
from harness_plugins.tta.multi_scale import build as build_scales
from harness_plugins.tta.views import hflip, identity


class Images(Dataset):
    def __init__(self, n: int, size: int = 12):
        self.x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, int]:
        return self.x[i], 0, i


def tiny_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5)
    )


@pytest.fixture
def accelerator() -> Accelerator:
    return Accelerator(cpu=True)


def test_identity_only_tta_equals_plain_prediction(accelerator: Accelerator) -> None:
    ds, model = Images(7), tiny_model()
    views = [TTAView("identity", identity)]
    logits, _ = predict(model, DataLoader(ds, batch_size=3), views, accelerator, len(ds))
    with torch.no_grad():
        plain = model.eval()(ds.x).numpy()
    assert list(logits) == ["identity"]
    assert logits["identity"] == pytest.approx(plain, abs=1e-6)


def test_stacked_views_equal_views_run_one_by_one(accelerator: Accelerator) -> None:
    ds, model = Images(5), tiny_model()
    scales, crops = build_scales(MultiScaleOptions(), None), build_five(CropOptions(), None)
    views = [TTAView("identity", identity), *scales, *crops]
    logits, _ = predict(model, DataLoader(ds, batch_size=2), views, accelerator, len(ds))
    assert list(logits) == [v.name for v in views]
    with torch.no_grad():
        for v in views:
            assert logits[v.name] == pytest.approx(model(v.apply(ds.x)).numpy(), abs=1e-5), v.name


@pytest.mark.parametrize("name", ["identity", "hflip", "vflip", "multi_scale", "five_crop", "ten_crop"])
@pytest.mark.parametrize("shape", [(2, 3, 16, 16), (1, 3, 17, 23)])
def test_every_view_keeps_the_batch_shape(name: str, shape: tuple[int, ...]) -> None:
    component = load_plugins().get("tta_views", name)
    views = component.build(component.options(), None)
    x = torch.randn(*shape)
    assert len({v.name for v in views}) == len(views)
    for v in views:
        assert v.apply(x).shape == x.shape, v.name
    assert len(views) == {"multi_scale": 2, "five_crop": 5, "ten_crop": 10}.get(name, 1)


def test_view_names() -> None:
    assert [v.name for v in build_scales(MultiScaleOptions(), None)] == ["scale0.9", "scale1.1"]
    assert [v.name for v in build_five(CropOptions(), None)][-1] == "five_crop_center"


def test_hflip_of_hflip_is_identity() -> None:
    x = torch.randn(2, 3, 5, 7)
    assert torch.equal(hflip(hflip(x)), x)
    assert not torch.equal(hflip(x), x)


def test_five_crop_centre_view_equals_a_centre_crop_resized() -> None:
    x = torch.randn(2, 3, 32, 24, generator=torch.Generator().manual_seed(1))
    centre = next(v for v in build_five(CropOptions(crop=0.75), None) if v.name == "five_crop_center")
    expected = TF.resize(TF.center_crop(x, [24, 18]), [32, 24], antialias=False)
    assert torch.allclose(centre.apply(x), expected, atol=1e-6)


def test_five_crop_corners_are_the_corners() -> None:
    assert crop_box(10, 20, 0.5, "tl") == (0, 0, 5, 10)
    assert crop_box(10, 20, 0.5, "br") == (5, 10, 5, 10)
    x = torch.arange(16.0).view(1, 1, 4, 4)
    views = {v.name: v.apply(x) for v in build_five(CropOptions(crop=0.25), None)}  # 1-pixel crops
    assert [float(views[f"five_crop_{p}"][0, 0, 0, 0]) for p in ("tl", "tr", "bl", "br")] == [0, 3, 12, 15]


def test_ten_crop_adds_the_mirrored_five_crops() -> None:
    x = torch.randn(2, 3, 16, 16)
    five = {v.name.removeprefix("five_crop_"): v.apply(x) for v in build_five(CropOptions(), None)}
    ten = {v.name.removeprefix("ten_crop_"): v.apply(x) for v in build_ten(CropOptions(), None)}
    assert len(ten) == 10
    for pos, view in five.items():
        assert torch.equal(ten[pos], view)
        assert torch.equal(ten[f"{pos}_hflip"], view.flip(-1))


@pytest.mark.parametrize("scale", [0.5, 0.9, 1.0, 1.1, 2.0])
def test_rescaling_a_flat_image_leaves_it_flat(scale: float) -> None:
    # reflect padding and centre cropping add no border of another value
    x = torch.full((2, 3, 15, 16), 0.25)
    assert torch.allclose(rescale(x, scale), x)


def test_zoom_in_keeps_the_centre_and_zoom_out_keeps_the_content() -> None:
    x = torch.zeros(1, 1, 16, 16)
    x[..., 6:10, 6:10] = 1.0  # a centred square grows or shrinks with the zoom
    assert rescale(x, 2.0).sum().item() == pytest.approx(4 * x.sum().item(), rel=0.05)
    inner = rescale(x, 0.5)[..., 4:12, 4:12]  # the shrunken image; reflections of it pad the rest
    assert inner.sum().item() == pytest.approx(x.sum().item() / 4, rel=0.05)
    assert torch.equal(rescale(x, 1.0), x)


@pytest.mark.parametrize(
    ("options", "raw"),
    [(MultiScaleOptions, {"scales": [3.0]}), (MultiScaleOptions, {"scales": []}),
     (MultiScaleOptions, {"scales": [0.9, 0.9]}), (CropOptions, {"crop": 0.0}), (CropOptions, {"crop": 1.5})],
)
def test_bad_options_are_rejected(options: type, raw: dict) -> None:
    from harness.config.typed import from_dict

    with pytest.raises(HarnessError):
        from_dict(options, raw, "tta.x")


class _RecordsAutotune(nn.Module):
    """Records, for each batch it sees, whether cuDNN may time its kernels for that shape."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[int, bool]] = []
        self.head = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.shape[0], torch.backends.cudnn.benchmark))
        return self.head(x.mean(dim=(2, 3)))


def test_only_full_batches_may_autotune(accelerator: Accelerator, monkeypatch: pytest.MonkeyPatch) -> None:
    """The short last batch has a new shape in every set: timing cuDNN's kernels for it cost more
    than the whole prediction of a small set on a GPU."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    model = _RecordsAutotune()
    loader = accelerator.prepare(DataLoader(Images(7), batch_size=3))
    logits, _ = predict(model, loader, [TTAView("identity", identity), TTAView("hflip", hflip)], accelerator, 7)
    assert model.seen == [(3, True), (3, True), (3, True), (3, True), (1, False), (1, False)]
    assert torch.backends.cudnn.benchmark  # restored
    assert logits["identity"].shape == (7, 2)
