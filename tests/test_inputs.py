"""Normalizing on the device: uint8 batches from the workers, converted in the trainer, must give
the model exactly what the workers' own ToDtype + Normalize gave."""

from __future__ import annotations

import pytest
import torch
from torchvision.transforms import v2

from harness.config.typed import from_dict
from harness.plugin_manager import load_plugins
from harness.runtime.inputs import ModelInput
from harness.testing import context

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def test_uint8_batch_is_normalized_like_the_workers_would() -> None:
    images = torch.randint(0, 256, (4, 3, 9, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    expected = v2.Normalize(MEAN, STD)(v2.ToDtype(torch.float32, scale=True)(images))
    got = ModelInput(MEAN, STD)(images)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)


def test_memory_format_is_kept_and_float_batches_pass_through() -> None:
    images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8)
    out = ModelInput(MEAN, STD, channels_last=True)(images)
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    already = torch.randn(2, 3, 8, 8)
    assert ModelInput(MEAN, STD)(already) is already


@pytest.mark.parametrize("train", [True, False])
def test_standard_transform_leaves_uint8_and_the_trainer_completes_it(train: bool) -> None:
    """Same seed, same image: the worker-normalized tensor and the uint8 tensor normalized by the
    trainer agree, rotated corners (black fill) included."""
    spec = load_plugins().get("sample_transforms", "standard")
    opts = from_dict(spec.options, {"rotate": 30.0, "color_jitter": 0.2}, "augment")
    image = torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = {}
    for normalize in (True, False):
        tf = spec.build(opts, context(image_size=24, mean=MEAN, std=STD, normalize=normalize), train)
        torch.manual_seed(3)
        out[normalize] = tf(image)
    assert out[True].dtype == torch.float32 and out[False].dtype == torch.uint8
    torch.testing.assert_close(ModelInput(MEAN, STD)(out[False][None])[0], out[True], rtol=0, atol=1e-5)


def test_the_fold_asks_for_uint8_only_with_a_gpu(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from harness.config.recipe import load_recipe
    from harness.train.build import build_components

    recipe_path = tmp_path / "r.toml"
    recipe_path.write_text(f'[data]\nroot = "{tmp_path}"\nimage_size = 16\n[model]\nname = "resnet18"\n')
    plugins = load_plugins()
    model = torch.nn.Linear(2, 2)
    labels = torch.arange(8).numpy() % 2
    seen = {}
    for cuda, sets in [(False, []), (True, []), (True, ["data.normalize_on_device=false"])]:
        monkeypatch.setattr(torch.cuda, "is_available", lambda cuda=cuda: cuda)
        monkeypatch.setattr(torch.cuda, "device_count", lambda cuda=cuda: int(cuda))
        recipe = load_recipe(recipe_path, sets, plugins)
        seen[(cuda, bool(sets))] = build_components(recipe, plugins, model, labels, 2, 0, 1).ctx.normalize
    assert seen == {(False, False): True, (True, False): False, (True, True): True}
