"""The `metric` template of `harness plugin new`: a small working trick and its extra test."""

from harness.testing.templates.base import Template

MODULE = '''"""__TITLE__.

__EXAMPLE__

Top-2 accuracy, the share of samples whose label is among the two most probable
classes (the top-k accuracy of ImageNet reports, Russakovsky et al. 2015). It reads probabilities,
so a label-only submission scores as plain accuracy.

    [cv]
    metric = "__NAME__"
"""

from __future__ import annotations

import numpy as np

from harness.hookspecs import hookimpl
from harness.specs import MetricSpec


def top2_accuracy(y: np.ndarray, probs: np.ndarray) -> float:
    """`y`: int labels (N,); `probs`: float (N, C), rows summing to 1."""
    top = np.argsort(-probs, axis=1)[:, :2]
    return float((top == np.asarray(y)[:, None]).any(axis=1).mean())


@hookimpl
def harness_metrics() -> list[MetricSpec]:
    return [MetricSpec("__NAME__", top2_accuracy, higher_is_better=True, needs_probs=True,
                       doc="example: the label among the two most probable classes")]
'''

TEST = '''

def test_second_choice_counts() -> None:
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    assert __MODULE__.top2_accuracy(np.array([1, 0]), probs) == 0.5
'''

TEMPLATE = Template("metric", MODULE, TEST, "import numpy as np", "top-2 accuracy")
