"""The image-folder and csv formats, format choice, class mapping and augmentation options.

No TensorFlow: the host is built with only the images plugin, and one test checks in a fresh
interpreter that loading, checking and splitting data never imports TensorFlow.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import zooft
import zooft_images.plugin
from zooft.data.formats import choose_format, load_data
from zooft.data.images import DEFAULT_AUGMENT, parse_augment
from zooft.plugins import PluginHost
from zooft_images import csvfile, folders


def write_image(path: Path, fmt: str = "PNG", *, mode: str = "RGB", seed: int = 0, size: int = 8) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, fmt)
    return path


def make_folders(root: Path, spec: dict[str, int], *, fmt: str = "PNG") -> Path:
    """``{"cat": 3, "train/dog": 2}`` -> that many images per class folder under ``root``."""
    for folder, count in spec.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            write_image(root / folder / f"{i}.{fmt.lower()}", fmt, seed=i)
    return root


@pytest.fixture(scope="module", autouse=True)
def tf_at_start() -> bool:
    """Whether TensorFlow was imported when this module's first test started."""
    return "tensorflow" in sys.modules


@pytest.fixture
def host() -> PluginHost:
    return PluginHost(autoload=False, plugins=[("images", zooft_images.plugin)])


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------


def test_plugin_registers_both_formats(host: PluginHost) -> None:
    assert host.errors() == []
    for name in ("image-folder", "csv"):
        fmt = host.dataset_format(name)
        assert fmt.plugin == "images"
        assert fmt.modalities == ("image",)
        assert fmt.tasks == ("classify",)


# ---------------------------------------------------------------------------------------------
# image-folder
# ---------------------------------------------------------------------------------------------


def test_folder_without_splits(tmp_path: Path) -> None:
    root = make_folders(tmp_path / "data", {"dog": 2, "cat": 1})
    write_image(root / "cat" / "nested" / "deeper" / "x.JPEG", "JPEG")  # recursion, upper-case ext
    (root / "cat" / ".DS_Store").write_bytes(b"\0")  # hidden: silently ignored
    write_image(root / "cat" / ".hidden.png")
    write_image(root / "dog" / ".git" / "y.png")  # hidden folder
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / "README.md").write_text("top-level files are not examples")

    data = folders.load(str(root))

    assert data.classes == ["cat", "dog"]
    assert list(data.splits) == ["train"]
    assert data.counts() == {"train": {"cat": 2, "dog": 2}}
    assert data.format == "image-folder" and data.root == str(root) and data.modality == "image"
    sources = [ex.source for ex in data.splits["train"]]
    assert all(os.path.isabs(s) and os.path.isfile(s) for s in sources)
    assert str(root / "cat" / "nested" / "deeper" / "x.JPEG") in sources
    assert [p for p, _ in data.skipped] == [str(root / "dog" / "notes.txt")]
    assert "not an image file" in data.skipped[0][1]


def test_folder_with_split_folders(tmp_path: Path) -> None:
    root = make_folders(tmp_path, {"train/a": 2, "train/b": 2, "validation/a": 1, "test/a": 1, "test/b": 1})
    data = folders.load(str(tmp_path))
    assert data.classes == ["a", "b"]
    assert data.counts() == {"train": {"a": 2, "b": 2}, "val": {"a": 1, "b": 0}, "test": {"a": 1, "b": 1}}
    assert all(ex.source.startswith(str(root / "validation")) for ex in data.splits["val"])


def test_folder_class_only_in_val_is_reported(tmp_path: Path, host: PluginHost) -> None:
    make_folders(tmp_path, {"train/a": 2, "train/b": 2, "val/a": 1, "val/zebra": 1})
    data = folders.load(str(tmp_path))
    assert data.classes == ["a", "b", "zebra"]  # the union over splits
    with pytest.raises(zooft.DataError, match="zebra: class has no training examples \\(only in val: 1\\)"):
        load_data(tmp_path, host=host)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"train/a": 1, "b": 1}, "mixes split folders"),
        ({"val/a": 1, "test/a": 1}, "no train folder"),
        ({"val/a": 1, "valid/a": 1, "train/a": 1}, "several val folders"),
    ],
)
def test_folder_layout_errors(tmp_path: Path, spec: dict[str, int], message: str) -> None:
    make_folders(tmp_path, spec)
    with pytest.raises(zooft.DataError, match=message) as info:
        folders.load(str(tmp_path))
    assert info.value.hint


def test_folder_train_without_class_folders(tmp_path: Path) -> None:
    write_image(tmp_path / "train" / "loose.png")
    with pytest.raises(zooft.DataError, match="no class folders"):
        folders.load(str(tmp_path))


# ---------------------------------------------------------------------------------------------
# csv
# ---------------------------------------------------------------------------------------------


def test_csv_relative_paths_split_column_and_aliases(tmp_path: Path) -> None:
    write_image(tmp_path / "imgs" / "a.png")
    write_image(tmp_path / "imgs" / "b.png", seed=1)
    write_image(tmp_path / "imgs" / "c.png", seed=2)
    outside = write_image(tmp_path.parent / f"{tmp_path.name}-abs.png")
    (tmp_path / "labels.csv").write_text(
        "Filename, Class ,split\n"
        "imgs/a.png,dog,train\n"
        "imgs/b.png, cat ,Validation\n"
        f"{outside},cat,train\n"
        "\n"
        "imgs/c.png,dog,test\n",
        encoding="utf-8-sig",  # a BOM, as Excel writes it
    )
    data = csvfile.load(str(tmp_path / "labels.csv"))
    assert data.classes == ["cat", "dog"]
    assert data.counts() == {"train": {"cat": 1, "dog": 1}, "val": {"cat": 1, "dog": 0}, "test": {"cat": 0, "dog": 1}}
    assert data.splits["train"][0].source == str(tmp_path / "imgs" / "a.png")
    assert data.splits["train"][1].source == str(outside)
    assert data.splits["train"][0].origin == "line 2"  # type: ignore[attr-defined]
    assert data.root == str(tmp_path / "labels.csv") and data.format == "csv"


def test_tsv_and_semicolon_separators(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png")
    (tmp_path / "l.tsv").write_text("image\tcategory\na.png\tx\n")
    (tmp_path / "l.csv").write_text("path;label\na.png;x\n")
    for name in ("l.tsv", "l.csv"):
        data = csvfile.load(str(tmp_path / name))
        assert data.classes == ["x"] and data.splits["train"][0].source == str(tmp_path / "a.png")


@pytest.mark.parametrize("header", ["img,label", "path,kind", "a;b;c"])
def test_csv_header_errors_list_the_header(tmp_path: Path, header: str) -> None:
    (tmp_path / "l.csv").write_text(f"{header}\nx.png,y\n")
    with pytest.raises(zooft.DataError, match="header") as info:
        csvfile.load(str(tmp_path / "l.csv"))
    assert header.split(",")[0].split(";")[0] in str(info.value)
    assert "path,label" in (info.value.hint or "")


def test_csv_bad_rows_are_reported_with_line_numbers(tmp_path: Path, host: PluginHost) -> None:
    for name in ("a", "b", "c"):
        write_image(tmp_path / f"{name}.png")
    (tmp_path / "l.csv").write_text(
        "path,label,split\na.png,x,train\nb.png,,train\n,x,train\nc.png,x,later\na.png,y,train\nb.png,x,val\n"
    )
    data = csvfile.load(str(tmp_path / "l.csv"))
    reasons = [reason for _, reason in data.skipped]
    assert reasons[0] == "empty label (line 3)"
    assert reasons[1] == "line 4: empty path"
    assert reasons[2].startswith("'later' is not a split (line 5)")
    assert reasons[3].startswith("listed again at line 6")
    with pytest.raises(zooft.DataError, match=r"4 problems .*empty label \(line 3\)") as info:
        load_data(tmp_path / "l.csv", host=host)
    assert len(info.value.problems) == 4  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# Choosing a format and load_data
# ---------------------------------------------------------------------------------------------


def test_sniffing(tmp_path: Path, host: PluginHost) -> None:
    make_folders(tmp_path / "folder", {"a": 1})
    write_image(tmp_path / "flat" / "x.png")
    (tmp_path / "list.CSV").write_text("path,label\n")
    assert folders.sniff(str(tmp_path / "folder"))
    assert not folders.sniff(str(tmp_path / "flat"))  # images but no class folders
    assert not folders.sniff(str(tmp_path / "list.CSV"))
    assert csvfile.sniff(str(tmp_path / "list.CSV"))
    assert not csvfile.sniff(str(tmp_path / "folder"))
    assert choose_format(str(tmp_path / "folder"), host=host).name == "image-folder"
    assert choose_format(str(tmp_path / "list.CSV"), host=host).name == "csv"
    assert choose_format(str(tmp_path / "list.CSV"), host=host, name="csv").name == "csv"


def test_nothing_fits_lists_known_formats(tmp_path: Path, host: PluginHost) -> None:
    write_image(tmp_path / "flat" / "x.png")
    with pytest.raises(zooft.DataError, match=r"known formats: csv, image-folder") as info:
        load_data(tmp_path / "flat", host=host)
    assert "--data-format" in (info.value.hint or "")
    with pytest.raises(zooft.DataError, match="does not provide 'detect' data"):
        load_data(tmp_path / "flat", host=host, format="csv", task="detect")
    with pytest.raises(zooft.PluginError, match="image-foldr") as unknown:
        load_data(tmp_path / "flat", host=host, format="image-foldr")
    assert "did you mean image-folder" in (unknown.value.hint or "")


def test_missing_path(tmp_path: Path, host: PluginHost) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(zooft.DataError, match=f"{missing}.*does not exist") as info:
        load_data(missing, host=host)
    assert "CSV" in (info.value.hint or "")


def test_load_data_carves_a_stratified_seeded_val_split(tmp_path: Path, host: PluginHost) -> None:
    make_folders(tmp_path, {"a": 10, "b": 4, "c": 2, "d": 1})
    data = load_data(tmp_path, host=host, val_split=0.2, seed=3)
    assert list(data.splits) == ["train", "val"]
    assert data.counts()["val"] == {"a": 2, "b": 1, "c": 1, "d": 0}
    assert data.counts()["train"] == {"a": 8, "b": 3, "c": 1, "d": 1}
    again = load_data(tmp_path, host=host, val_split=0.2, seed=3)
    assert again.splits == data.splits
    no_val = load_data(tmp_path, host=host, val_split=0)
    assert list(no_val.splits) == ["train"]
    with pytest.raises(zooft.ConfigError):
        load_data(tmp_path, host=host, val_split=1.0)


def test_existing_val_split_is_kept(tmp_path: Path, host: PluginHost) -> None:
    make_folders(tmp_path, {"train/a": 4, "val/a": 1})
    data = load_data(tmp_path, host=host)
    assert data.counts() == {"train": {"a": 4}, "val": {"a": 1}}


def test_class_names_map_labels_onto_a_runs_classes(tmp_path: Path, host: PluginHost) -> None:
    make_folders(tmp_path / "eval", {"dog": 2, "ant": 1})
    data = load_data(tmp_path / "eval", host=host, class_names=["ant", "bee", "dog"], val_split=0)
    assert data.classes == ["ant", "bee", "dog"]  # bee missing from the eval data is fine
    assert sorted(ex.label for ex in data.splits["train"]) == [0, 2, 2]
    make_folders(tmp_path / "eval", {"dgo": 1})
    with pytest.raises(zooft.DataError, match="'dgo' \\(did you mean 'dog'\\?\\)"):
        load_data(tmp_path / "eval", host=host, class_names=["ant", "bee", "dog"])


def test_val_split_is_the_same_under_class_mapping(tmp_path: Path, host: PluginHost) -> None:
    # zooft eval maps labels onto the run's classes and must carve the same val split as tune
    make_folders(tmp_path, {"b": 9, "c": 7})
    tuned = load_data(tmp_path, host=host, seed=5)
    evaluated = load_data(tmp_path, host=host, seed=5, class_names=["a", "b", "c"])
    assert [ex.source for ex in tuned.splits["val"]] == [ex.source for ex in evaluated.splits["val"]]


# ---------------------------------------------------------------------------------------------
# Augmentation options
# ---------------------------------------------------------------------------------------------


def test_parse_augment() -> None:
    assert parse_augment(None) == {} and parse_augment("none") == {} and parse_augment({}) == {}
    assert parse_augment("default") == DEFAULT_AUGMENT
    assert parse_augment("zoom=0.1,rotation=0.05,contrast=0.1") == DEFAULT_AUGMENT == parse_augment("auto:default")
    assert parse_augment(" flip=vertical , zoom ") == {"flip": "vertical", "zoom": 0.1}
    assert parse_augment({"flip": True, "zoom": 0, "contrast": "0.2"}) == {"flip": "horizontal", "contrast": 0.2}
    assert parse_augment("rotation=0.05") is not parse_augment("rotation=0.05")


@pytest.mark.parametrize(
    ("value", "message", "hint"),
    [
        ("flip,zom=0.1", "unknown augmentation 'zom'", "did you mean zoom"),
        ({"rotate": 0.1}, "unknown augmentation 'rotate'", "did you mean rotation"),
        ("zoom=lots", "zoom='lots' is not valid", "number from 0 to"),
        ("rotation=2", "rotation='2' is not valid", "fraction of a full turn"),
        ("flip=diagonal", "flip='diagonal' is not valid", "horizontal, vertical"),
        (["flip"], "must be a string or a mapping", "zoom"),
    ],
)
def test_parse_augment_errors(value: object, message: str, hint: str) -> None:
    with pytest.raises(zooft.ConfigError, match=message) as info:
        parse_augment(value)  # type: ignore[arg-type]
    assert hint in (info.value.hint or "")


# ---------------------------------------------------------------------------------------------
# No TensorFlow on the data path
# ---------------------------------------------------------------------------------------------


def test_loading_checking_and_splitting_never_import_tensorflow(tmp_path: Path) -> None:
    make_folders(tmp_path, {"a": 3, "b": 3})
    script = textwrap.dedent(
        f"""
        import sys
        import zooft_images.plugin
        from zooft.plugins import PluginHost
        from zooft.data.formats import load_data
        from zooft.data.images import parse_augment, stratified_sample
        host = PluginHost(autoload=False, plugins=[("images", zooft_images.plugin)])
        data = load_data({str(tmp_path)!r}, host=host)
        stratified_sample(data.splits["train"], 2, 0)
        parse_augment("default")
        heavy = sorted(m for m in ("tensorflow", "keras") if m in sys.modules)
        assert not heavy, heavy
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_this_module_did_not_import_tensorflow(tf_at_start: bool) -> None:
    # The last test of the module: nothing above imported TensorFlow (meaningless when a test
    # that ran before this module did; the subprocess test above covers that case).
    if tf_at_start:
        pytest.skip("TensorFlow was imported before this module's tests ran")
    assert "tensorflow" not in sys.modules


def test_a_separate_validation_set_leaves_every_data_example_to_training(tmp_path: Path) -> None:
    from zooft.train.tune import load_training_data

    train = make_folders(tmp_path / "train", {"a": 10, "b": 10})
    val = make_folders(tmp_path / "val", {"a": 2, "b": 2})
    config = {"data": str(train), "data_format": None, "task": "classify", "skip_bad_files": False,
              "val_split": 0.15, "seed": 0, "val_data": None, "test_data": None}
    carved = load_training_data(config)
    assert len(carved.splits["val"]) > 0 and len(carved.splits["train"]) + len(carved.splits["val"]) == 20
    separate = load_training_data({**config, "val_data": str(val)})
    assert len(separate.splits["train"]) == 20
    assert sorted(Path(ex.source).parent.parent for ex in separate.splits["val"]) == [val] * 4
