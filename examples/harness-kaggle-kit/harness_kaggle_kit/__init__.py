"""harness-kaggle-kit: four harness components a Kaggle competitor writes, one module each, each
module a plugin of its own (an entry point each in pyproject.toml):

- `poly1.py`: the loss `poly1` (Poly-1, Leng et al. 2022)
- `map3.py`: the metric `map3` (mean average precision at 3)
- `gridmask.py`: the batch transform `gridmask` (GridMask, Chen et al. 2020)
- `lr_log.py`: the callback `lr_log` (each epoch's learning rates to foldK/lr.csv in the run folder)

A module holds one trick: the math first, its options dataclass (the recipe keys), `build`, and the
`@hookimpl` at the bottom. Add a component by adding a module, its entry point and its test file.
"""
