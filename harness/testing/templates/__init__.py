"""The templates of `harness plugin new`, one module per kind of component (the order is the
order `--kind` lists them in); each is also the example of its hook in docs/hooks.md."""

from __future__ import annotations

from harness.kinds import KINDS
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

_MODULES = {"loss": loss, "batch_transform": batch_transform, "callback": callback, "sample_transform": sample_transform,
            "sampler": sampler, "scheduler": scheduler, "tta_view": tta_view, "ensembler": ensembler, "metric": metric,
            "model": model}
# `harness plugin new --kind` -> its template, in harness.kinds's order with the default (loss) first.
TEMPLATES: dict[str, Template] = {k.template: _MODULES[k.template].TEMPLATE
                                  for k in sorted(KINDS, key=lambda k: k.template != "loss")}

__all__ = ["TEMPLATES", "Template"]
