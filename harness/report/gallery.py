"""The most confidently wrong OOF predictions, as thumbnails of the training images (found through
the recipe's `data.root`) with their true and predicted labels. Images that are gone are named,
not fatal: a report of a run whose data was deleted still renders."""

from __future__ import annotations

import base64
import glob
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data.classes import class_index
from harness.data.images import BadImage, load_rgb


@dataclass(frozen=True)
class Mistake:
    id: str
    true: str
    predicted: str
    confidence: float  # probability of the predicted class
    true_prob: float
    jpeg: bytes | None  # the thumbnail; None when the image cannot be read
    why: str = ""  # why there is no thumbnail


def image_path(data: dict[str, Any], sample_id: str) -> Path | None:
    """Where the training image of `sample_id` lives: ImageFolder ids are paths relative to the
    root; Kaggle ids name files under `data.train_dir`, with `data.extension` or, when that is
    empty, whichever suffix the file has (or none: the id is the whole file name)."""
    root = str(data.get("root", ""))
    if not root:
        return None
    base, folder, ext = Path(root), Path(root) / str(data.get("train_dir", "train")), str(data.get("extension", ""))
    candidates = [base / sample_id, folder / f"{sample_id}{ext}", folder / sample_id]
    found = next((p for p in candidates if p.is_file()), None)
    if found is None and not ext and folder.is_dir():
        found = next(iter(sorted(folder.glob(f"{glob.escape(sample_id)}.*"))), None)
    return found


def thumbnail(path: Path, size: int = 160) -> bytes:
    image = load_rgb(path)
    image.thumbnail((size, size))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=85)
    return buf.getvalue()


def confident_mistakes(oof: pd.DataFrame, classes: tuple[str, ...], data: dict[str, Any], limit: int = 24) -> list[Mistake]:
    """The `limit` wrong OOF predictions with the highest predicted probability, most confident first."""
    probs = oof[[str(c) for c in classes]].to_numpy(dtype=np.float64)
    pred = probs.argmax(axis=1)
    true = class_index(oof["label"], [str(c) for c in classes], "oof.csv")
    wrong = np.flatnonzero(pred != true)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:limit]
    out = []
    for i in wrong:
        sample_id = str(oof["id"].iloc[i])
        path = image_path(data, sample_id)
        jpeg, why = None, ""
        if path is None:
            why = "image not found under data.root" if data.get("root") else "the recipe names no data.root"
        else:
            try:
                jpeg = thumbnail(path)
            except BadImage as exc:
                why = str(exc)
        out.append(Mistake(sample_id, classes[true[i]], classes[pred[i]], float(probs[i, pred[i]]),
                           float(probs[i, true[i]]), jpeg, why))
    return out


def data_uri(jpeg: bytes) -> str:
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
