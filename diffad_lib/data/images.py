"""Image data for chapter 3: the MVTec AD folder layout, and the magnetic-tile photographs in it.

:func:`mvtec_ad` reads any category in the published MVTec AD layout (a folder the reader
provides); :func:`magnetic_tiles` reads the magnetic-tile defect photographs from the data
registry, checked before use. Images are scaled to [-1, 1] with ``x / 127.5 - 1``; pixel masks
follow the MVTec ground-truth convention (the mask marks the defect's extent).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from diffad_lib.utils import spread

__all__ = [
    "MVTecData",
    "TILE_KINDS",
    "load_mvtec",
    "magnetic_tiles",
    "mvtec_ad",
]

# --------------------------------------------------------------------------------------------
# MVTec AD folder layout, and the magnetic-tile photographs in that layout
# --------------------------------------------------------------------------------------------

Size = int | tuple[int, int] | None

TILE_KINDS: tuple[str, ...] = ("blowhole", "break", "crack", "fray", "uneven")


@dataclass(frozen=True)
class MVTecData:
    """One MVTec-layout category: ``train/good`` for training, ``test/<kind>`` with masks.

    Images are (C, H, W) float32 in [-1, 1] with ``x / 127.5 - 1``; every image and mask is
    resized to one (H, W) in the loader (bilinear for images, nearest neighbour for masks).
    """

    train: np.ndarray  # (N, C, H, W) float32 in [-1, 1], defect-free training images
    test: np.ndarray  # (M, C, H, W) float32 in [-1, 1]
    labels: np.ndarray  # (M,) int64, 1 = defective
    masks: np.ndarray  # (M, H, W) bool pixel ground truth (False for "good"), mask value > 127
    defect_types: tuple[str, ...]  # (M,) sub-folder of each test image ("good", "scratch", ...)
    test_files: tuple[str, ...]  # (M,) test image paths, sorted within each defect type
    train_files: tuple[str, ...] = ()  # (N,) training image paths
    category: str = ""  # category or dataset name
    # (M,) bool: False for a defective image whose stored mask marks no pixel (extent unknown);
    # judged at the stored resolution, so a tiny defect that vanishes when resized stays True
    mask_known: np.ndarray | None = None

    def counts(self) -> dict[str, int]:
        """Images per split and kind: ``{"train/good": N, "test/good": ..., "test/<kind>": ...}``."""
        out = {"train/good": int(self.train.shape[0])}
        for kind in dict.fromkeys(self.defect_types):
            out[f"test/{kind}"] = sum(t == kind for t in self.defect_types)
        return out


def _target_size(size: Size) -> tuple[int, int] | None:
    """``size`` as (height, width), validated; None keeps the stored size."""
    if size is None:
        return None
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return size, size
    if (isinstance(size, tuple) and len(size) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in size)):
        return size
    raise ValueError(f"size must be None, an int >= 1 or a (height, width) pair of ints >= 1; got {size!r}")


def _read_image(path: Path, size: tuple[int, int] | None, color: Literal["gray", "rgb"]) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L" if color == "gray" else "RGB")
        if size is not None:
            im = im.resize((size[1], size[0]), Image.Resampling.BILINEAR)  # PIL takes (width, height)
        arr = np.asarray(im, dtype=np.float32)  # (H, W) or (H, W, 3)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)  # (C, H, W)
    return arr / 127.5 - 1.0


def _read_mask(path: Path, size: tuple[int, int] | None, shape: tuple[int, int]) -> tuple[np.ndarray, bool]:
    """Binary mask resized to ``size``, and whether the stored (full-size) mask marks any pixel."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("L")
        marked = bool((np.asarray(im) > 127).any())  # soft-edged masks: the half-way level is the boundary
        if size is not None:
            # nearest neighbour keeps the annotator's values: no new grey levels at the edge
            im = im.resize((size[1], size[0]), Image.Resampling.NEAREST)
        mask = np.asarray(im) > 127
    if mask.shape != shape:
        raise ValueError(f"mask {path} has shape {mask.shape}; expected {shape} like its image")
    return mask, marked


def _assemble(
    train_files: list[Path],
    test_items: list[tuple[str, Path, Path | None]],
    *,
    size: tuple[int, int] | None,
    color: Literal["gray", "rgb"],
    category: str,
) -> MVTecData:
    """Read and stack the images; ``test_items`` are (kind, image, mask or None for "good")."""
    train = [_read_image(f, size, color) for f in train_files]
    test, masks, known = [], [], []
    for kind, f, mask_path in test_items:
        img = _read_image(f, size, color)
        if kind == "good" or mask_path is None:
            mask, marked = np.zeros(img.shape[1:], dtype=bool), kind == "good"
        else:
            mask, marked = _read_mask(mask_path, size, img.shape[1:])
        test.append(img)
        masks.append(mask)
        known.append(marked)
    shapes = {a.shape for a in train + test}
    if len(shapes) > 1:
        raise ValueError(f"images have different shapes {sorted(shapes)}; pass size= to resize them to one")
    labels = np.array([k != "good" for k, _, _ in test_items], dtype=np.int64)
    mask_arr = np.stack(masks)
    return MVTecData(
        train=np.stack(train),
        test=np.stack(test),
        labels=labels,
        masks=mask_arr,
        defect_types=tuple(k for k, _, _ in test_items),
        test_files=tuple(str(f) for _, f, _ in test_items),
        train_files=tuple(str(f) for f in train_files),
        category=category,
        mask_known=np.array(known, dtype=bool),
    )


_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


def _images_in(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and f.suffix.lower() in _IMAGE_SUFFIXES)


def mvtec_ad(
    root: str | Path,
    category: str,
    *,
    size: Size = 256,
    color: Literal["gray", "rgb"] = "rgb",
) -> MVTecData:
    """Read one category of MVTec AD (Bergmann et al. 2019) in its published folder layout.

    ``<root>/<category>/train/good/*.png``, ``<root>/<category>/test/<defect>/*.png`` and
    ``<root>/<category>/ground_truth/<defect>/<stem>_mask.png`` (no masks for "good"); other
    image suffixes (``.jpg``, ``.bmp``, ``.tif``) are read too. This reads a folder the
    reader provides, so nothing is checked against the registry.

    Parameters
    ----------
    root : path
        Folder holding one sub-folder per category (e.g. the unpacked ``mvtec_anomaly_detection``).
    category : str
        Category folder name, e.g. ``"bottle"``.
    size : int or (int, int) or None, default 256
        Every image is resized in the loader to ``size`` x ``size`` (or (height, width)):
        bilinear for images, nearest neighbour for masks, which are then binarised at > 127.
        ``None`` keeps the stored size, which must then be equal for all images.
    color : {"rgb", "gray"}, default "rgb"
        Grey categories become three equal channels with "rgb".

    Returns
    -------
    MVTecData
        ``train`` (N, C, H, W), ``test`` (M, C, H, W), ``labels`` (M,), ``masks`` (M, H, W),
        ``defect_types`` (M,), ``mask_known`` (M,); :meth:`MVTecData.counts` gives the images
        per kind.

    Raises
    ------
    ValueError
        Bad ``size``/``color``; a folder without ``train/good`` and ``test/``; no images; a
        defective test image without its ``_mask`` file.
    """
    if color not in ("gray", "rgb"):
        raise ValueError(f"color must be one of ['gray', 'rgb']; got {color!r}")
    target = _target_size(size)
    base = Path(root) / category
    train_dir, test_dir = base / "train" / "good", base / "test"
    if not train_dir.is_dir() or not test_dir.is_dir():
        raise ValueError(
            f"root/category must contain train/good and test/ (MVTec AD layout); got {base} without them"
        )
    train_files = _images_in(train_dir)
    if not train_files:
        raise ValueError(f"no images in {train_dir}")
    items: list[tuple[str, Path, Path | None]] = []
    for defect_dir in sorted(d for d in test_dir.iterdir() if d.is_dir()):
        for f in _images_in(defect_dir):
            mask_path = None
            if defect_dir.name != "good":
                mask_path = base / "ground_truth" / defect_dir.name / f"{f.stem}_mask.png"
                if not mask_path.is_file():
                    raise ValueError(f"missing ground-truth mask {mask_path} for test image {f}")
            items.append((defect_dir.name, f, mask_path))
    if not items:
        raise ValueError(f"no images under {test_dir}/<defect>/")
    return _assemble(train_files, items, size=target, color=color, category=category)


#: The earlier name of :func:`mvtec_ad`.
load_mvtec = mvtec_ad


def magnetic_tiles(
    *,
    root: str | Path | None = None,
    size: Size = 128,
    kinds: tuple[str, ...] = TILE_KINDS,
    max_per_kind: int | None = None,
) -> MVTecData:
    """The magnetic-tile defect photographs (Huang, Qiu & Yuan 2020) as one MVTec-layout category.

    Real 8-bit grey JPEG crops of magnetic tiles: 200 defect-free ``train/good`` images,
    100 ``test/good`` and 392 defective test images of five kinds (blowhole 115, break 85,
    crack 57, fray 32, uneven 103) with pixel masks. Only files listed in the data registry
    are read, each checked (size and sha256, cached by size and mtime) before use; prepare
    them first with ``diffad data prepare magnetic_tiles`` (mirror or the upstream zip).

    The crops differ in size (width 105-632, height 227-403), so the loader resizes every
    image to ``size`` (bilinear) and every mask likewise with nearest neighbour, then
    binarises masks at > 127 (they have soft edges upstream); an int ``size`` squares the
    crop, which changes its aspect ratio. Four "uneven" masks are empty upstream
    (exp3_num_45042, exp4_num_124690, exp4_num_352527, exp4_num_45057): those images stay in
    the test set with label 1 and an all-False mask, and ``mask_known`` is False for them, so
    image-level metrics use them and pixel-level metrics should skip them.

    Parameters
    ----------
    root : path, optional
        Data root; default :func:`diffad_lib.data.default_data_root`.
    size : int or (int, int), default 128
        Output (height, width); an int means square.
    kinds : tuple of str, default all five
        Defect kinds to include in the test set (subset of :data:`TILE_KINDS`).
    max_per_kind : int, optional
        Keep at most this many images of ``train/good``, ``test/good`` and each defect kind,
        evenly spaced over the sorted file names (for quick runs); None keeps all.

    Returns
    -------
    MVTecData
        ``train`` (N, 1, H, W), ``test`` (M, 1, H, W) float32 in [-1, 1], ``labels`` (M,),
        ``masks`` (M, H, W) bool, ``defect_types`` (M,), ``mask_known`` (M,), category
        ``"magnetic_tiles"``.

    Raises
    ------
    FileNotFoundError
        Not prepared, or a registry file is missing (named, with the command that restores it).
    ValueError
        Bad arguments, or a file whose size or checksum differs from the registry (named).
    """
    from diffad_lib.data.registry import prepared_files, verified_files

    target = _target_size(size)
    if target is None:
        raise ValueError("size must be an int >= 1 or a (height, width) pair; got None (the crops differ in size)")
    bad = [k for k in kinds if k not in TILE_KINDS]
    if not kinds or bad or isinstance(kinds, str):
        raise ValueError(f"kinds must be a non-empty tuple drawn from {list(TILE_KINDS)}; got {kinds!r}")
    if max_per_kind is not None and (not isinstance(max_per_kind, int) or max_per_kind < 1):
        raise ValueError(f"max_per_kind must be None or an int >= 1; got {max_per_kind!r}")
    prefix = "magnetic_tile_subset/"
    listed = {f.path[len(prefix):] for f in prepared_files("magnetic_tiles", root=root)}
    train_rel = spread(sorted(p for p in listed if p.startswith("train/good/")), max_per_kind)
    items_rel: list[tuple[str, str, str | None]] = []
    for kind in ("good", *kinds):
        images = spread(sorted(p for p in listed if p.startswith(f"test/{kind}/")), max_per_kind)
        for rel in images:
            mask = None if kind == "good" else f"ground_truth/{kind}/{Path(rel).stem}_mask.png"
            items_rel.append((kind, rel, mask))
    wanted = [prefix + r for r in train_rel]
    wanted += [prefix + r for _, img, m in items_rel for r in (img, m) if r is not None]
    files = verified_files("magnetic_tiles", wanted, root=root)
    items = [(k, files[prefix + img], files[prefix + m] if m else None) for k, img, m in items_rel]
    return _assemble([files[prefix + r] for r in train_rel], items, size=target, color="gray",
                     category="magnetic_tiles")
