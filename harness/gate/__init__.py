"""The gate: a filter run before the main classifier that turns away images unlike its training
set, answered with an explicit unknown label, the main model never consulted for them.

- `scores`: how in-domain an image looks, from the main run's own logits (max-softmax, energy)
  or from a gate run's probability of "known" (a run trained with `data.outliers`).
- `attach`: `harness gate` picks the threshold on the main run's OOF images (all in-domain) for
  a target in-domain recall, writes it to the main run's `gate.json`, and gates its test
  submission; `harness predict --reject` gates new images with it.
"""
