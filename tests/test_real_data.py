"""Optional checks on the real photos in ../shared/data/hymenoptera (CI has them; a fresh clone
does not, and then these are skipped)."""

from __future__ import annotations

import pytest

from harness.config.schema import DataConfig
from harness.data.competition import load_competition
from harness.data.images import load_rgb
from harness.data.report import check_folder

from .conftest import SHARED

HYMENOPTERA = SHARED / "data" / "hymenoptera"
pytestmark = pytest.mark.skipif(not HYMENOPTERA.is_dir(), reason="../shared/data/hymenoptera is not beside this checkout")


def test_hymenoptera_layout_and_quirks() -> None:
    comp = load_competition(DataConfig(root=str(HYMENOPTERA)))
    assert comp.layout == "imagefolder" and comp.classes == ("ants", "bees")
    assert (len(comp.train), len(comp.holdout or ())) == (245, 153)
    suffixes = {p.suffix.lower() for p in comp.train.paths}
    assert {".jpg", ".jpeg", ".gif"} <= suffixes  # mixed extensions, placeholder GIF included
    gif = next(p for p in comp.train.paths if p.suffix.lower() == ".gif")
    assert load_rgb(gif).mode == "RGB"


def test_data_check_passes_on_hymenoptera(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_folder(HYMENOPTERA) == 0
    out = capsys.readouterr().out
    assert "train: 245 images, 0 unreadable" in out and "holdout: 153 images, 0 unreadable" in out
