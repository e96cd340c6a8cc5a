"""The templates of `harness plugin new`, one module per kind of component (the order is the
order `--kind` lists them in); each is also the example of its hook in docs/hooks.md."""

from __future__ import annotations

from harness.testing.templates import (
    batch_transform,
    callback,
    ensembler,
    loss,
    metric,
    model,
    sample_transform,
    sampler,
    scheduler,
    tta_view,
)
from harness.testing.templates.base import Template

TEMPLATES: dict[str, Template] = {
    "loss": loss.TEMPLATE,
    "batch_transform": batch_transform.TEMPLATE,
    "callback": callback.TEMPLATE,
    "sample_transform": sample_transform.TEMPLATE,
    "sampler": sampler.TEMPLATE,
    "scheduler": scheduler.TEMPLATE,
    "tta_view": tta_view.TEMPLATE,
    "ensembler": ensembler.TEMPLATE,
    "metric": metric.TEMPLATE,
    "model": model.TEMPLATE,
}

__all__ = ["TEMPLATES", "Template"]
