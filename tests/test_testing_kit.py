"""The plugin author's kit: `build_component` builds any component; the contract classes catch the
mistakes they exist for; `harness plugin new` writes packages that load through the plugin manager
and pass their own generated contract tests."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from harness.cli import main
from harness.errors import HarnessError
from harness.hookspecs import hookimpl
from harness.plugin_manager import kind_of, load_plugins
from harness.specs import Batch, Callback, Component, MetricSpec, NoOptions, target_loss
from harness.testing import (
    BatchTransformContract,
    CallbackContract,
    LossContract,
    MetricContract,
    SamplerContract,
    build_component,
    context,
)
from harness.testing.scaffold import TEMPLATES, names, scaffold


def test_build_component_every_kind() -> None:
    loss = build_component("loss", "cross_entropy", {"smoothing": 0.1})
    assert loss(torch.zeros(2, 4), Batch(torch.zeros(2, 3, 4, 4), torch.tensor([0, 1]), torch.arange(2))) > 0
    views = build_component("tta_views", "multi_scale", {"scales": [0.8]})
    assert [v.name for v in views] == ["scale0.8"]
    tf = build_component("augment", "standard", {"crop": "resize"}, context(image_size=12), train=False)
    assert tf(torch.zeros(3, 20, 20, dtype=torch.uint8)).shape == (3, 12, 12)
    assert build_component("metric", "accuracy").higher_is_better
    model = build_component("models", "timm", {"name": "test_resnet"}, context(num_classes=3))
    assert model.eval()(torch.zeros(1, 3, 32, 32)).shape == (1, 3)


def test_build_component_checks_options() -> None:
    with pytest.raises(HarnessError, match=r"unknown key 'loss\.smoothin' \(did you mean 'smoothing'\?\)"):
        build_component("loss", "cross_entropy", {"smoothin": 0.1})
    with pytest.raises(HarnessError, match=r"no loss named 'crossentropy' \(did you mean 'cross_entropy'\?\)"):
        build_component("losses", "crossentropy")


class Forgetful(Callback):
    """Stops a fold after three epochs, but its state_dict forgets the count: a resumed fold would
    train three more."""

    def __init__(self) -> None:
        self.epochs = 0

    def on_epoch_end(self, state: Any) -> None:
        self.epochs += 1
        if self.epochs >= 3:
            state.request_stop("three epochs")

    def state_dict(self) -> dict[str, Any]:
        return {}


class EveryRankWriter(Callback):
    """Logs the learning rate in the fold's folder, but on every process: N ranks, N writers."""

    def on_epoch_end(self, state: Any) -> None:
        with open(state.fold_dir / "lr.csv", "a") as fh:
            fh.write(f"{state.epoch},{state.optimizer.param_groups[0]['lr']}\n")


class CwdWriter(Callback):
    """Writes on the main process only, but into the working directory, not the run folder."""

    def on_epoch_end(self, state: Any) -> None:
        if state.accelerator.is_main_process:
            Path("lr.csv").open("a").write(f"{state.epoch}\n")


def argmax_soft(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy that turns soft targets into their argmax: CutMix's mixed labels are lost."""
    return torch.nn.functional.cross_entropy(logits.float(), target.argmax(-1) if target.ndim == 2 else target)


def detached_term(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Poly-1 whose (1 - p_t) term is computed on detached logits: that term never trains."""
    logp = torch.log_softmax(logits.float(), -1)
    t = torch.nn.functional.one_hot(target, logits.shape[-1]).float() if target.ndim == 1 else target
    return (-(t * logp).sum(-1) + 1 - (t * logp.detach().exp()).sum(-1)).mean()


def chatty_accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    """Accuracy that appends to a file each time it scores, on every process."""
    Path("scores.txt").open("a").write("scored\n")
    return float((probs.argmax(1) == y).mean())


class Shrink:
    def __call__(self, batch: Batch, epoch: int) -> Batch:
        return batch.with_(images=batch.images[..., 1:, 1:])


class Broken:
    @hookimpl
    def harness_callbacks(self) -> list[Component]:
        return [Component("forgetful", lambda o, c: Forgetful(), NoOptions),
                Component("every_rank", lambda o, c: EveryRankWriter(), NoOptions),
                Component("to_cwd", lambda o, c: CwdWriter(), NoOptions)]

    @hookimpl
    def harness_batch_transforms(self) -> list[Component]:
        return [Component("shrink", lambda o, c: Shrink(), NoOptions)]

    @hookimpl
    def harness_losses(self) -> list[Component]:
        per_sample = target_loss(lambda logits, target: torch.nn.functional.cross_entropy(logits, target, reduction="none"))
        return [Component("per_sample", lambda o, c: per_sample, NoOptions),
                Component("argmax_soft", lambda o, c: target_loss(argmax_soft), NoOptions),
                Component("detached_term", lambda o, c: target_loss(detached_term), NoOptions)]

    @hookimpl
    def harness_metrics(self) -> list[MetricSpec]:
        return [MetricSpec("chatty", chatty_accuracy, True, False)]

    @hookimpl
    def harness_samplers(self) -> list[Component]:
        return [Component("unseeded", lambda o, c: Unseeded(len(c.labels)), NoOptions)]


class Unseeded:
    def __init__(self, n: int):
        self.n = n

    def set_epoch(self, epoch: int) -> None: ...

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Any:
        return iter(torch.randperm(self.n).tolist())  # the global RNG: a resumed epoch draws anew


BROKEN = Broken()


@pytest.mark.parametrize(("contract", "name", "test"), [
    (CallbackContract, "forgetful", "test_events_and_state_round_trip"),
    (BatchTransformContract, "shrink", "test_batch_keeps_its_format"),
    (LossContract, "per_sample", "test_scalar_and_finite"),
    (SamplerContract, "unseeded", "test_indices_in_range_and_deterministic"),
    (LossContract, "argmax_soft", "test_soft_targets"),
    (LossContract, "detached_term", "test_gradient_flows"),
    (CallbackContract, "every_rank", "test_writes_only_on_the_main_process"),
    (CallbackContract, "to_cwd", "test_writes_only_on_the_main_process"),
    (MetricContract, "chatty", "test_no_side_effects"),
])
def test_contracts_catch_broken_components(contract: type, name: str, test: str, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # where a broken component's stray files land
    case = type("Case", (contract,), {"name": name, "plugins": (BROKEN,)})()
    with pytest.raises(AssertionError):
        getattr(case, test)()


@pytest.mark.parametrize(("contract", "name", "tests"), [
    (LossContract, "argmax_soft", ("test_scalar_and_finite", "test_hard_equals_one_hot", "test_gradient_flows")),
    (LossContract, "detached_term", ("test_scalar_and_finite", "test_hard_equals_one_hot", "test_soft_targets")),
    (CallbackContract, "every_rank", ("test_events_and_state_round_trip",)),
])
def test_each_check_fails_for_its_own_reason(contract: type, name: str, tests: tuple[str, ...], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The broken components above pass every other check: each failure is the named check's."""
    monkeypatch.chdir(tmp_path)
    case = type("Case", (contract,), {"name": name, "plugins": (BROKEN,)})()
    for test in tests:
        getattr(case, test)()


def test_the_gradient_check_holds_for_a_correct_loss_of_the_same_shape() -> None:
    """Poly-1 with the term attached passes where the detached one fails: the check is not noise."""

    class Attached:
        @hookimpl
        def harness_losses(self) -> list[Component]:
            def poly1(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
                logp = torch.log_softmax(logits.float(), -1)
                t = torch.nn.functional.one_hot(target, logits.shape[-1]).float() if target.ndim == 1 else target
                return (-(t * logp).sum(-1) + 1 - (t * logp.exp()).sum(-1)).mean()
            return [Component("attached_term", lambda o, c: target_loss(poly1), NoOptions)]

    case = type("Case", (LossContract,), {"name": "attached_term", "plugins": (Attached(),)})()
    case.test_gradient_flows()
    case.test_soft_targets()


def test_cli_offers_every_template() -> None:
    from harness.cli import plugin

    assert set(plugin.KINDS) == set(TEMPLATES)


def test_names() -> None:
    assert names("random-erasing") == ("random_erasing", "harness_random_erasing", "harness-random-erasing")
    assert names("harness-swa") == ("swa", "harness_swa", "harness-swa")
    with pytest.raises(HarnessError, match="use letters"):
        names("9 lives")


def test_scaffold_loads_through_the_plugin_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.plugin_manager import KINDS, kind_of

    for kind in TEMPLATES:
        made = scaffold(f"my-{kind}", kind, tmp_path)
        assert {p.relative_to(made.root).as_posix() for p in made.files} == {
            "pyproject.toml", "README.md", f"{made.module}/__init__.py", f"tests/test_{made.component}.py"}
        assert f'{made.component} = "{made.module}"' in (made.root / "pyproject.toml").read_text()
        monkeypatch.syspath_prepend(str(made.root))
        module = importlib.import_module(made.module)
        plugins = load_plugins(extra=(module,))
        assert not [w for w in plugins.warnings if made.module in w], plugins.warnings
        assert plugins.owner(kind_of(kind), made.component) == made.module
    assert {kind_of(k) for k in TEMPLATES} == set(KINDS)


def test_several_kinds_in_one_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # names of its own: examples/harness-kaggle-kit, installed with the dev tools, offers poly1, map3, ...
    made = scaffold("kit", ["loss:my_poly", "metric:my_map", "batch_transform:my_mask", "callback"], tmp_path)
    assert [(p.kind, p.component, p.module) for p in made.parts] == [
        ("loss", "my_poly", "harness_kit.my_poly"), ("metric", "my_map", "harness_kit.my_map"),
        ("batch_transform", "my_mask", "harness_kit.my_mask"), ("callback", "kit_callback", "harness_kit.kit_callback")]
    files = {p.relative_to(made.root).as_posix() for p in made.files}
    assert files == {"pyproject.toml", "README.md", "harness_kit/__init__.py",
                     *(f"harness_kit/{c}.py" for c in ("my_poly", "my_map", "my_mask", "kit_callback")),
                     *(f"tests/test_{c}.py" for c in ("my_poly", "my_map", "my_mask", "kit_callback"))}
    pyproject = (made.root / "pyproject.toml").read_text()
    assert 'my_poly = "harness_kit.my_poly"\nmy_map = "harness_kit.my_map"' in pyproject  # an entry point each
    assert "plugins = (harness_kit.my_map,)" in (made.root / "tests" / "test_my_map.py").read_text()
    monkeypatch.syspath_prepend(str(made.root))
    modules = tuple(importlib.import_module(p.module) for p in made.parts)
    plugins = load_plugins(extra=modules)
    assert not plugins.problems, plugins.warnings
    for part in made.parts:
        kind = kind_of(part.kind)
        assert plugins.owner(kind, part.component) == part.module


@pytest.mark.parametrize(("kinds", "error"), [
    (["los"], "--kind 'los' (did you mean 'loss'?): choose one of loss,"),
    (["loss:a", "metric:a"], "--kind: two components share a name in a, a; name each, KIND:NAME"),
    (["loss:9lives"], "--kind 'loss:9lives': name the component with letters"),
])
def test_several_kinds_errors(kinds: list[str], error: str, tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=re.escape(error)):
        scaffold("kit", kinds, tmp_path)


def test_every_template_is_labelled_an_example_to_replace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for kind in TEMPLATES:
        made = scaffold(f"x-{kind}", kind, tmp_path)
        text = (made.root / made.module / "__init__.py").read_text()
        assert "EXAMPLE CODE, to replace: `harness plugin new` wrote" in " ".join(text.split()), kind
        assert "it is not a harness built-in" in " ".join(text.split()), kind
        assert "**The code is an example to replace.**" in (made.root / "README.md").read_text()
        monkeypatch.syspath_prepend(str(made.root))
        plugins = load_plugins(extra=(importlib.import_module(made.module),))
        spec = plugins.of_kind(kind_of(kind))[made.component]
        assert spec.doc.startswith("example: "), (kind, spec.doc)  # what `harness plugins` lists


def test_plugin_new_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugin", "new", "random-erasing", "--kind", "batch_transform", "--dir", str(tmp_path)]) == 0
    assert "harness-random-erasing" in capsys.readouterr().out
    assert (tmp_path / "harness-random-erasing" / "harness_random_erasing" / "__init__.py").is_file()
    assert main(["plugin", "new", "random-erasing", "--dir", str(tmp_path)]) == 2  # it exists
    assert "already exists" in capsys.readouterr().err
    assert main(["plugin"]) == 2
    capsys.readouterr()
    assert main(["plugin", "new", "kit", "--kind", "loss", "--kind", "metric", "--kind", "callback", "--dir",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "the loss kit_loss, the metric kit_metric, the callback kit_callback (example code to replace" in out
    for module in ("kit_loss", "kit_metric", "kit_callback"):
        assert (tmp_path / "harness-kit" / "harness_kit" / f"{module}.py").is_file()


@pytest.mark.slow
def test_scaffolded_packages_pass_their_own_tests(tmp_path: Path) -> None:
    roots = [scaffold(f"my-{kind}", kind, tmp_path).root for kind in TEMPLATES]
    roots.append(scaffold("kit", ["loss:my_poly", "metric:my_map", "batch_transform:my_mask", "callback:my_log"],
                          tmp_path).root)
    env = {**os.environ, "PYTHONWARNINGS": "ignore",
           "PYTHONPATH": os.pathsep.join([*map(str, roots), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          *[str(r / "tests") for r in roots]], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-3000:]
    assert " passed" in res.stdout and "failed" not in res.stdout
