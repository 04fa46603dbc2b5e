"""The data check that runs before every tune: find bad files before TensorFlow trips on them.

A bad file found by ``tf.data`` forty minutes into training fails the run with an error that
does not even name the file, so every image is opened here first, in a thread pool (Pillow
decodes with the GIL released). ``Image.verify()`` is not enough: it misses truncated pixel
data, so each image is fully decoded with ``load()``.

Pillow reads more than TensorFlow 2.21's ``tf.io.decode_image`` does, so files Pillow accepts
are held to TensorFlow's rules too (each measured against TF 2.21, see the test suite):

- formats: JPEG (also camera MPO files), PNG, BMP and GIF only; TIFF, WebP, ... are reported;
- PNG: TF needs the IEND chunk and intact critical-chunk CRCs; Pillow stops reading after the
  pixel data, so a PNG cut at its very end passes Pillow but fails TF;
- GIF: TF decodes every frame, Pillow only the first: the whole block structure is walked;
- BMP: TF reads only uncompressed 24/32-bit files (standard BGR(A) masks), 8-bit files with a
  grey palette (it ignores the palette, so colour-palette files would decode as wrong greys),
  and requires the file size to match the header exactly (no trailing bytes);
- 16-bit PNG and CMYK JPEG decode fine in TF 2.21 (to 8-bit RGB), so they are not reported.
"""

from __future__ import annotations

import difflib
import io
import os
import struct
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from PIL import Image, UnidentifiedImageError

from ..errors import ConfigError, DataError
from .files import DataFileError, read_data_file
from .records import Example, LabeledData

__all__ = ["SUPPORTED_FORMATS", "check_classes", "check_images", "inspect_image"]

#: Pillow format names TensorFlow's decode_image also reads.
SUPPORTED_FORMATS: frozenset[str] = frozenset({"JPEG", "MPO", "PNG", "BMP", "GIF"})

#: The largest image (width x height) the check lets through unless ``ZOOFT_MAX_IMAGE_PIXELS``
#: says otherwise: Pillow's own decompression-bomb threshold (about 89 megapixels).
DEFAULT_MAX_IMAGE_PIXELS = 89_478_485

_SHOWN = 3  # problems named in the one-line message; the rest are in DataError.problems
_TRUNCATED = "truncated or corrupt image"


# ---------------------------------------------------------------------------------------------
# One file
# ---------------------------------------------------------------------------------------------


def _png_problem(data: bytes) -> str | None:
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return f"{_TRUNCATED} (PNG {kind.decode('latin-1')} chunk cut short)"
        # libpng rejects CRC errors in critical chunks (upper-case first letter) only
        if kind[:1].isupper():
            (crc,) = struct.unpack_from(">I", data, end - 4)
            if zlib.crc32(data[pos + 4 : end - 4]) != crc:
                return f"{_TRUNCATED} (PNG {kind.decode('latin-1')} chunk fails its CRC)"
        if kind == b"IEND":
            return None
        pos = end
    return f"{_TRUNCATED} (PNG without an IEND chunk)"


def _gif_problem(data: bytes) -> str | None:
    def skip_blocks(pos: int) -> int:
        while pos < len(data):
            size = data[pos]
            pos += 1 + size
            if size == 0:
                return pos
        return -1

    if len(data) < 13:
        return f"{_TRUNCATED} (GIF header cut short)"
    flags = data[10]
    pos = 13 + (3 * (2 << (flags & 7)) if flags & 0x80 else 0)
    frames = 0
    while pos < len(data):
        kind = data[pos]
        if kind == 0x3B:  # trailer
            break
        if kind == 0x21:  # extension: label, then data sub-blocks
            pos = skip_blocks(pos + 2)
        elif kind == 0x2C:  # image: descriptor, optional local colour table, LZW size, sub-blocks
            if pos + 10 > len(data):
                return f"{_TRUNCATED} (GIF frame {frames + 1} cut short)"
            local = data[pos + 9]
            pos += 10 + (3 * (2 << (local & 7)) if local & 0x80 else 0) + 1
            pos = skip_blocks(pos)
            frames += 1
        else:
            return f"{_TRUNCATED} (GIF has an unknown block 0x{kind:02x})"
        if pos < 0:
            return f"{_TRUNCATED} (GIF frame {frames} cut short)"
    # TF accepts a GIF whose trailer byte is missing, but not one without any frame
    return None if frames else f"{_TRUNCATED} (GIF without frames)"


_STANDARD_BMP_MASKS = (0x00FF0000, 0x0000FF00, 0x000000FF)


def _bmp_problem(data: bytes, mode: str) -> str | None:
    unsupported = "BMP variant TensorFlow cannot decode"
    if len(data) < 54:
        return f"{_TRUNCATED} (BMP header cut short)"
    offset, header_size, width, height, _, bits, compression = struct.unpack_from("<IIiiHHI", data, 10)
    if header_size < 40:
        return f"{unsupported} (OS/2 header); save it as PNG or 24-bit BMP"
    if compression == 3:
        masks = struct.unpack_from("<III", data, 54) if len(data) >= 66 else ()
        if bits != 32 or masks != _STANDARD_BMP_MASKS:
            return f"{unsupported} (bit-field colour masks); save it as PNG or 24-bit BMP"
    elif compression != 0:
        return f"{unsupported} (compressed); save it as PNG or 24-bit BMP"
    if bits not in (8, 24, 32):
        return f"{unsupported} ({bits}-bit); save it as PNG or 24-bit BMP"
    if bits == 8 and mode != "L":
        return f"{unsupported} (colour palette: TF would read palette indices as greys); save it as PNG"
    expected = offset + (bits * width + 31) // 32 * 4 * abs(height)
    if len(data) != expected:
        return f"{unsupported} (file is {len(data)} bytes, its header implies {expected}); re-save it"
    return None


def max_image_pixels() -> int:
    """``ZOOFT_MAX_IMAGE_PIXELS`` or :data:`DEFAULT_MAX_IMAGE_PIXELS`."""
    raw = os.environ.get("ZOOFT_MAX_IMAGE_PIXELS", "").strip()
    if not raw:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(f"ZOOFT_MAX_IMAGE_PIXELS={raw!r} is not a positive whole number", hint="e.g. 200000000")
    return int(raw)


def inspect_image(path: str) -> str | None:
    """Why TensorFlow could not decode the image at ``path``, or ``None`` when it can.

    Reads the file once, fully decodes it with Pillow and applies TensorFlow's extra rules
    (see the module docstring). Never raises for a bad file.
    """
    try:
        # the one file rule (zooft/data/files.py): a FIFO, device or oversized file is refused
        # before it is opened, and never read
        data = read_data_file(path)
    except DataFileError as exc:
        return "file not found" if exc.reason == "no such file" else exc.reason
    if not data:
        return "empty file"
    limit = max_image_pixels()
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format or "unknown"
            if fmt not in SUPPORTED_FORMATS:
                return f"unsupported image format {fmt} (TensorFlow reads JPEG, PNG, BMP and GIF); convert it"
            if image.width * image.height > limit:
                # a decompression bomb (a few KB of PNG that decode to gigabytes) is refused from
                # its header, before any pixel is decoded, here and so never reaches tf.data
                return (f"image of {image.width}x{image.height} pixels is above the limit of {limit:,} pixels"
                        " (raise it with ZOOFT_MAX_IMAGE_PIXELS)")
            mode = image.mode
            if fmt in ("JPEG", "MPO"):
                # DCT scaling: the whole entropy-coded stream is still decoded (so truncation and
                # corrupt data are still found) but the inverse DCT runs at 1/8 size, which
                # measured 1.5x faster on 1.4-megapixel photos
                image.draft(mode, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
    except UnidentifiedImageError:
        return "not an image (unrecognised content)"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own bomb guard fires at open() for images far above the limit (the warning
        # only where warnings are errors, as in the test suite)
        return f"image too large to check ({str(exc).split(' could be')[0]}; the limit is {limit:,} pixels)"
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        # Pillow signals corrupt data with OSError ("image file is truncated") and, for some
        # formats, SyntaxError or ValueError
        return f"{_TRUNCATED} ({exc})"
    if fmt == "PNG":
        return _png_problem(data)
    if fmt == "GIF":
        return _gif_problem(data)
    if fmt == "BMP":
        return _bmp_problem(data, mode)
    return None


def _inspect_all(paths: list[str], workers: int | None) -> dict[str, str]:
    if workers is None:
        workers = min(8, 2 * (os.cpu_count() or 1))
    if workers <= 1 or len(paths) < 16:
        results = map(inspect_image, paths)
        return {p: r for p, r in zip(paths, results, strict=True) if r}
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zooft-check") as pool:
        results = pool.map(inspect_image, paths, chunksize=32)
        return {p: r for p, r in zip(paths, results, strict=True) if r}


# ---------------------------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------------------------


def _label_typos(data: LabeledData) -> dict[int, str]:
    """Class index -> the frequent class it looks like a typo of.

    A label seen at most once whose name is close (difflib) to a label seen at least 3 times is
    almost always a typo ('dgo' for 'dog'); a real class with a single example could not be
    learnt anyway, so reporting it costs little.
    """
    counts: Counter[int] = Counter()
    for examples in data.splits.values():
        counts.update(ex.label for ex in examples if isinstance(ex.label, int))
    frequent = {data.classes[i].lower(): data.classes[i] for i, n in counts.items() if n >= 3}
    typos: dict[int, str] = {}
    for index, name in enumerate(data.classes):
        if counts[index] != 1:  # an empty class is reported as such, not as a typo
            continue
        close = difflib.get_close_matches(name.lower(), list(frequent), n=1, cutoff=0.6)
        if close:
            typos[index] = frequent[close[0]]
    return typos


def _empty_classes(data: LabeledData) -> list[tuple[str, str]]:
    problems = []
    counts = data.counts()
    for name in data.classes:
        if counts.get("train", {}).get(name, 0):
            continue
        elsewhere = {split: c[name] for split, c in counts.items() if split != "train" and c.get(name)}
        where = f" (only in {', '.join(f'{s}: {n}' for s, n in elsewhere.items())})" if elsewhere else ""
        problems.append((name, f"class has no training examples{where}"))
    return problems


def _split_gaps(data: LabeledData) -> list[str]:
    """Classes that have training examples but none in another split (named per split)."""
    counts = data.counts()
    train = counts.get("train", {})
    gaps = []
    for split, per in counts.items():
        if split == "train" or not any(per.values()):
            continue
        missing = [name for name in data.classes if train.get(name) and not per.get(name)]
        if missing:
            gaps.append(f"the {split} split has no examples of {len(missing)} class(es): {', '.join(missing)}")
    return gaps


def check_classes(data: LabeledData, *, skipped_files: bool = False) -> LabeledData:
    """The class check, on the splits training will use (run it after the validation split is carved).

    A class without training examples raises :class:`zooft.DataError` when
    ``data.empty_classes`` is ``"error"``; with ``"warn"`` (a declared label map such as COCO's
    categories) the class is kept and the returned data's ``warnings`` name it. Classes present
    in train but missing from val/test are always warnings: the metrics then say nothing about
    them. ``skipped_files`` adds that ``--skip-bad-files`` may have emptied a class to the hint.
    """
    empty = _empty_classes(data)
    if empty and data.empty_classes != "warn":
        hint = "add training images to those classes or remove them"
        _raise(empty, data.root, hint + (" (--skip-bad-files left some files out)" if skipped_files else ""))
    warnings = [f"{name}: {reason} (kept as a class)" for name, reason in empty] + _split_gaps(data)
    return replace(data, warnings=[*data.warnings, *warnings]) if warnings else data


def _summary(problems: list[tuple[str, str]], root: str) -> str:
    def short(path: str) -> str:
        if root and os.path.isabs(path):
            base = root if os.path.isdir(root) else os.path.dirname(root)
            rel = os.path.relpath(path, base)
            return path if rel.startswith("..") else rel
        return path

    shown = "; ".join(f"{short(p)}: {r}" for p, r in problems[:_SHOWN])
    more = f" and {len(problems) - _SHOWN} more" if len(problems) > _SHOWN else ""
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{len(problems)} {noun} in the data at {root or '?'}: {shown}{more}"


def _raise(problems: list[tuple[str, str]], root: str, hint: str) -> None:
    error = DataError(_summary(problems, root), hint=hint)
    error.problems = problems  # type: ignore[attr-defined]  # the full list, for the CLI
    raise error


def _drop_classes(data: LabeledData, drop: set[int]) -> tuple[list[str], dict[int, int]]:
    kept = [i for i in range(len(data.classes)) if i not in drop]
    return [data.classes[i] for i in kept], {old: new for new, old in enumerate(kept)}


def check_images(
    data: LabeledData,
    *,
    skip_bad_files: bool,
    require_all_classes: bool = True,
    find_typos: bool = True,
    workers: int | None = None,
) -> LabeledData:
    """Check every image of ``data`` and return the data set to train on.

    Problems found: files the format's loader could not use (its ``data.skipped``, e.g. a
    ``.txt`` in a class folder or a CSV row without a label), files that are missing, not
    images, truncated, or in a variant TensorFlow cannot decode, labels that look like typos of
    a frequent label (``find_typos``), and, with ``require_all_classes``, classes without
    training examples (:func:`check_classes`; :func:`zooft.data.formats.load_data` runs that
    itself after carving the validation split).

    Without ``skip_bad_files`` any problem raises :class:`zooft.DataError`: a one-line message
    naming the first few, the hint to fix them or pass ``--skip-bad-files``, and the full list
    as ``error.problems`` (``[(path, reason), ...]``). With it, bad files and typo labels are
    left out and recorded in the returned data's ``skipped``.
    """
    paths = list(dict.fromkeys(ex.source for examples in data.splits.values() for ex in examples))
    bad = _inspect_all(paths, workers)
    typos = _label_typos(data) if find_typos else {}

    problems: list[tuple[str, str]] = list(data.skipped)
    for examples in data.splits.values():
        for ex in examples:
            if ex.source in bad:
                origin = getattr(ex, "origin", "")
                problems.append((ex.source, f"{bad[ex.source]}{f' ({origin})' if origin else ''}"))
            elif isinstance(ex.label, int) and ex.label in typos:
                origin = getattr(ex, "origin", "")
                name = data.classes[ex.label]
                where = f" ({origin})" if origin else ""
                problems.append((ex.source, f"label {name!r}{where} looks like a typo of {typos[ex.label]!r}"))
    problems = list(dict.fromkeys(problems))  # a file listed in two splits is reported once

    if problems and not skip_bad_files:
        _raise(problems, data.root, "fix or remove these files (and labels), or pass --skip-bad-files to leave them out")

    classes, remap = _drop_classes(data, set(typos))
    skipped = problems  # the loader's problems first, then the files and labels found here

    def keep(ex: Example) -> bool:
        return ex.source not in bad and not (isinstance(ex.label, int) and ex.label in typos)

    def relabel(ex: Example) -> Example:
        return replace(ex, label=remap[ex.label]) if isinstance(ex.label, int) and typos else ex

    splits = {split: [relabel(ex) for ex in examples if keep(ex)] for split, examples in data.splits.items()}
    checked = replace(data, classes=classes, splits=splits, skipped=skipped)
    if require_all_classes:  # callers that split afterwards run check_classes themselves
        return check_classes(checked, skipped_files=bool(skipped))
    return checked

