"""harness: a plugin-based, Kaggle-style image-classification harness.

Importing this package is cheap: torch is imported only by the modules that train or predict.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
