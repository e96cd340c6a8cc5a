"""Every odd image file a competition ships either decodes to RGB uint8 the same way everywhere
(training, prediction, the decoded-image cache) or is refused with a reason: `harness data check`
lists the refused files (the pre-training screen that skips them: test_screen.py).

All files are generated here in tmp_path; nothing binary is committed.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from harness.cli import main
from harness.data import images
from harness.data.cache import ImageCache, resize_shorter
from harness.data.check import scan
from harness.data.dataset import ImageDataset
from harness.data.images import BadImage, load_array, load_rgb

ORIENTATION = 0x0112
WHITE = (255, 255, 255)


def noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def jpeg_bytes(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", **kw)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels, with almost no pixel data behind it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    chunks = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks


# ---------------------------------------------------------------- files that must be refused


def make_zero_byte(path: Path) -> None:
    path.write_bytes(b"")


def make_truncated_jpeg(path: Path) -> None:
    data = jpeg_bytes(Image.fromarray(noise(64, 64)))
    path.write_bytes(data[: len(data) // 2])


def make_text_as_jpg(path: Path) -> None:
    path.write_text("id,label\n1,cat\n")


def make_bomb_header(path: Path) -> None:
    path.write_bytes(png_header_only(100_000, 100_000))  # 10 gigapixels: 30 GB if decoded


BAD = {
    "zero.jpg": (make_zero_byte, "empty file"),
    "truncated.jpg": (make_truncated_jpeg, "(?i)truncated"),
    "text.jpg": (make_text_as_jpg, "not an image"),
    "bomb.png": (make_bomb_header, "(?i)decompression bomb"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_is_refused_with_a_reason(tmp_path: Path, name: str) -> None:
    make, reason = BAD[name]
    make(tmp_path / name)
    with pytest.raises(BadImage, match=reason):
        load_rgb(tmp_path / name)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BadImage, match="not found"):
        load_rgb(tmp_path / "gone.png")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_bomb_just_over_the_limit_is_refused_by_our_own_check(tmp_path: Path) -> None:
    # 100M pixels: over MAX_PIXELS, but under the 2x where PIL itself raises
    (tmp_path / "big.png").write_bytes(png_header_only(10_000, 10_000))
    with pytest.raises(BadImage, match="(?i)decompression bomb|pixel limit"):
        load_rgb(tmp_path / "big.png")


def test_bomb_is_refused_before_any_pixel_is_decoded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.fromarray(noise(20, 20)).save(tmp_path / "big.png")
    monkeypatch.setattr(images, "MAX_PIXELS", 399)

    def no_decoding(self: ImageFile.ImageFile) -> None:
        raise AssertionError("decoded an image over the pixel limit")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(BadImage, match="20x20 pixels is over the 399-pixel limit"):
        load_rgb(tmp_path / "big.png")


# ---------------------------------------------------------------- files that must decode


def make_png_named_jpg(path: Path) -> np.ndarray:
    arr = noise(5, 7)
    Image.fromarray(arr).save(path, format="PNG")
    return arr


def make_grayscale(path: Path) -> np.ndarray:
    gray = noise(6, 5)[..., 0]
    Image.fromarray(gray, "L").save(path)
    return np.repeat(gray[..., None], 3, axis=2)


def make_rgba(path: Path) -> np.ndarray:
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0] = (10, 20, 30, 255)  # opaque: unchanged
    rgba[0, 1] = (255, 0, 0, 0)  # fully transparent: white
    rgba[1, :] = (0, 0, 0, 51)  # 20% black over white
    Image.fromarray(rgba, "RGBA").save(path)
    return np.array([[(10, 20, 30), WHITE], [(204, 204, 204), (204, 204, 204)]], np.uint8)


def make_palette_transparency(path: Path) -> np.ndarray:
    img = Image.new("P", (3, 2), 0)
    img.putpalette([10, 20, 30, 200, 0, 0] + [0] * 762)
    img.putpixel((1, 0), 1)
    img.save(path, transparency=0)  # palette entry 0 is transparent
    out = np.full((2, 3, 3), 255, np.uint8)
    out[0, 1] = (200, 0, 0)
    return out


def make_gray_colour_key(path: Path) -> np.ndarray:
    gray = np.array([[0, 100], [0, 0]], np.uint8)
    Image.fromarray(gray, "L").save(path, transparency=0)  # tRNS: grey level 0 is transparent
    return np.array([[WHITE, (100, 100, 100)], [WHITE, WHITE]], np.uint8)


def make_gray16(path: Path) -> np.ndarray:
    levels = np.array([[0, 257 * 100], [32768, 65535]], np.uint16)
    Image.fromarray(levels).save(path)
    assert Image.open(path).mode == "I;16"
    eight = np.array([[0, 100], [128, 255]], np.uint8)  # scaled by 255/65535 and rounded
    return np.repeat(eight[..., None], 3, axis=2)


def make_animated_gif(path: Path) -> np.ndarray:
    frames = [Image.new("RGB", (4, 3), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    assert Image.open(path).n_frames == 3
    return np.full((3, 4, 3), (255, 0, 0), np.uint8)


def make_one_pixel(path: Path) -> np.ndarray:
    Image.new("RGB", (1, 1), (9, 8, 7)).save(path)
    return np.array([[(9, 8, 7)]], np.uint8)


def make_very_tall(path: Path) -> np.ndarray:
    arr = np.zeros((10_000, 3, 3), np.uint8)
    arr[-1, -1] = (1, 2, 3)
    Image.fromarray(arr).save(path)
    return arr


def exif_rotated(orientation: int, fmt: str) -> Callable[[Path], np.ndarray]:
    def make(path: Path) -> np.ndarray:
        arr = noise(4, 6)  # stored 6 wide, 4 high
        exif = Image.Exif()
        exif[ORIENTATION] = orientation
        Image.fromarray(arr).save(path, format=fmt, exif=exif)
        # 6: turn 90 degrees clockwise to display; 8: 90 degrees counter-clockwise
        return np.rot90(arr, k=-1 if orientation == 6 else 1)

    return make


GOOD: dict[str, Callable[[Path], np.ndarray]] = {
    "png_named.jpg": make_png_named_jpg,
    "gray.png": make_grayscale,
    "rgba.png": make_rgba,
    "palette.png": make_palette_transparency,
    "gray_key.png": make_gray_colour_key,
    "gray16.png": make_gray16,
    "animated.gif": make_animated_gif,
    "one.png": make_one_pixel,
    "tall.png": make_very_tall,
    "exif6.png": exif_rotated(6, "PNG"),
    "exif8.png": exif_rotated(8, "PNG"),
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_odd_file_decodes_to_exact_rgb(tmp_path: Path, name: str) -> None:
    expected = GOOD[name](tmp_path / name)
    img = load_rgb(tmp_path / name)
    assert img.mode == "RGB"
    arr = load_array(tmp_path / name)
    assert arr.dtype == np.uint8 and arr.shape == expected.shape
    np.testing.assert_allclose(arr, expected, atol=1)  # compositing may round either way


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotated_jpeg_is_turned_upright(tmp_path: Path, orientation: int) -> None:
    arr = np.zeros((32, 48, 3), np.uint8)
    arr[:16, :24] = (255, 0, 0)  # the stored image is landscape, red in its top-left quarter
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    Image.fromarray(arr).save(tmp_path / "photo.jpg", exif=exif, quality=95)
    out = load_array(tmp_path / "photo.jpg")
    assert out.shape == (48, 32, 3)  # portrait once turned
    # 6 turns clockwise (red ends top-right), 8 counter-clockwise (red ends bottom-left)
    upright = np.rot90(arr, k=-1 if orientation == 6 else 1)
    assert np.abs(out.astype(int) - upright).mean() < 4


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg")
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    out = load_array(tmp_path / "cmyk.jpg")
    assert out.shape == (8, 8, 3)
    np.testing.assert_allclose(out[4, 4], (255, 0, 0), atol=8)  # full magenta + yellow is red


# ---------------------------------------------------------------- one decoder everywhere


def identity(x: torch.Tensor) -> torch.Tensor:
    return x


@pytest.mark.parametrize("name", ["rgba.png", "palette.png", "gray16.png", "exif6.png", "tall.png"])
def test_training_prediction_and_cache_decode_alike(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    GOOD[name](path)
    reference = np.array(load_rgb(path))
    # the Dataset serves training and prediction alike; without a cache it decodes with load_rgb
    image, label, index = ImageDataset([path], None, identity)[0]
    assert (label, index) == (-1, 0)
    assert torch.equal(image, torch.from_numpy(reference).permute(2, 0, 1))
    # the cache stores load_rgb's image shrunk to the short side, and serves exactly that
    cache = ImageCache(tmp_path / "cache", short_side=2)
    entry = cache.ensure(path)
    stored = ImageCache.read(entry)
    assert stored.flags.writeable and stored.dtype == np.uint8  # torch.from_numpy takes it without a copy
    np.testing.assert_array_equal(stored, np.asarray(resize_shorter(load_rgb(path), 2)))
    assert cache.ensure(path) == entry  # a second screen reuses the entry
    cached, _, _ = ImageDataset([path], None, identity, cache_entries=[entry])[0]
    assert torch.equal(cached, torch.from_numpy(np.array(stored)).permute(2, 0, 1))


def test_scan_names_only_the_bad_files(tmp_path: Path) -> None:
    paths = []
    for name in ["one.png", "gray.png", "rgba.png"]:
        GOOD[name](tmp_path / name)
        paths.append(tmp_path / name)
    for name in ["zero.jpg", "text.jpg"]:
        BAD[name][0](tmp_path / name)
        paths.insert(1, tmp_path / name)
    bad = scan(paths, workers=2)
    assert sorted(paths[i].name for i in bad) == ["text.jpg", "zero.jpg"]
    assert all(bad.values())


# ---------------------------------------------------------------- `harness data check`


def image_folder(root: Path, bad: dict[str, Callable[[Path], None]]) -> Path:
    for k, cls in enumerate(("cat", "dog")):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(noise(8, 8, seed=10 * k + i)).save(root / cls / f"{i}.png")
    for rel, make in bad.items():
        make(root / rel)
    return root


def test_data_check_lists_each_bad_file_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = {"cat/empty.jpg": make_zero_byte, "dog/notes.jpg": make_text_as_jpg}
    root = image_folder(tmp_path / "comp", bad)
    assert main(["data", "check", str(root)]) != 0
    out = capsys.readouterr().out
    assert "train: 8 images, 2 unreadable" in out
    assert f"{root / 'cat' / 'empty.jpg'}: empty file" in out
    assert f"{root / 'dog' / 'notes.jpg'}: not an image" in out
    assert "0.png:" not in out


def test_data_check_passes_a_clean_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = image_folder(tmp_path / "comp", {})
    assert main(["data", "check", str(root)]) == 0
    assert "train: 6 images, 0 unreadable" in capsys.readouterr().out


# ---------------------------------------------------------------- the pre-training screen
