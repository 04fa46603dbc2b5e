"""The benchmark scripts run (on tiny settings); their numbers live in BENCHMARKS.md, not here."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from PIL import Image

BENCH = Path(__file__).resolve().parents[2] / "scripts" / "bench"


def bench_module(name: str) -> ModuleType:
    """Import ``scripts/bench/<name>.py`` (the scripts import each other by bare name)."""
    sys.path.insert(0, str(BENCH))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(BENCH))


def test_startup_benchmark_runs_without_writing(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "startup.py"), "--runs", "1", "--no-write"],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| `zooft list-models` |" in proc.stdout and "import tensorflow" in proc.stdout


@pytest.mark.slow
def test_digits_are_written_as_stratified_image_folders(tmp_path: Path) -> None:
    counts = bench_module("datasets").write_digits(tmp_path / "digits", size=16)
    assert counts == {"train": 1078, "val": 269, "test": 450}
    assert sorted(p.name for p in (tmp_path / "digits" / "test").iterdir()) == [str(d) for d in range(10)]


@pytest.mark.slow
def test_digit_photos_are_jpegs_with_the_same_split_as_the_digits(tmp_path: Path) -> None:
    datasets = bench_module("datasets")
    counts = datasets.write_digit_photos(tmp_path / "photos", width=40, height=30)
    assert counts == datasets.write_digits(tmp_path / "digits", size=8)
    photo = next((tmp_path / "photos" / "test" / "7").iterdir())
    with Image.open(photo) as image:
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (40, 30))
    stems = {p.stem for p in (tmp_path / "photos" / "test" / "7").iterdir()}
    assert stems == {p.stem.split("_")[0] for p in (tmp_path / "digits" / "test" / "7").iterdir()}


def _script(name: str, *args: str, timeout: int = 600) -> str:
    proc = subprocess.run([sys.executable, str(BENCH / name), *args, "--no-write"], capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.slow
def test_feature_cache_benchmark_reports_equal_losses() -> None:
    out = _script("feature_cache.py", "--epochs", "1", "--image-size", "32", "--digits-size", "8", "--repeats", "2")
    assert "| cache on |" in out and "| cache off (--no-feature-cache) |" in out
    on_runs = next(line for line in out.splitlines() if line.startswith("| cache on |")).split("|")[3]
    assert len(on_runs.split(" / ")) == 2  # each repeat's time is listed
    diff = float(out.split("largest loss difference over all runs **")[1].split("**")[0])
    assert diff < 1e-4


@pytest.mark.slow
def test_pipeline_benchmark_compares_with_image_data_generator() -> None:
    pytest.importorskip("tf_keras")
    out = _script("pipeline.py", "--epochs", "1", "--image-size", "16", "--digits-size", "8")
    assert "ImageDataGenerator.flow_from_directory (tf_keras)" in out and "zooft make_image_dataset" in out


@pytest.mark.slow
def test_classify_benchmark_compares_three_recipes_over_seeds() -> None:
    out = _script("classify_vs_keras.py", "--epochs", "1", "--fine-tune-epochs", "0", "--image-size", "32", "--digits-size", "8",
                  "--seeds", "2", timeout=900)
    rows = {line.split("|")[1].strip(): line.split("|")[2:5] for line in out.splitlines() if line.startswith("| ") and "seed" not in line}
    names = ["zooft tune", "Keras guide recipe (image_dataset_from_directory)"]
    if importlib.util.find_spec("tf_keras"):
        names.append("ImageDataGenerator recipe (tf_keras)")
        assert "Ratios vs the ImageDataGenerator recipe" in out
    for name in names:
        mean, per_seed, seconds = (cell.strip() for cell in rows[name])
        seeds = [float(a) for a in per_seed.split(" / ")]
        assert len(seeds) == 2 and float(mean) == pytest.approx(sum(seeds) / 2, abs=1e-4) and float(seconds) > 0
    assert "Ratios vs the Keras recipe: time zooft / Keras = **" in out


def test_training_flops_are_counted_from_the_layers() -> None:
    forward_flops = bench_module("throughput").forward_flops
    import keras

    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 2*3*3*3*4*8*8
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)  # 2*3*3*8*8*4
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5)(x)  # 2*4*5
    model = keras.Model(inputs, outputs)
    assert forward_flops(model) == 2 * 3 * 3 * 3 * 4 * 64 + 2 * 9 * 64 * 4 + 2 * 4 * 5


def test_run_all_has_every_benchmark_of_the_issue() -> None:
    scripts = [step[0] for step in bench_module("run_all").plan(argparse.Namespace(quick=True), Path("/tmp/run"))]
    for name in ("startup.py", "pipeline.py", "feature_cache.py", "classify_vs_keras.py", "throughput.py",
                 "latency.py", "memory.py"):
        assert name in scripts
    assert all((BENCH / name).is_file() for name in scripts)


def _default_and_check(data: str, seed: int, with_cache: float, without: float) -> list[dict]:
    timing = {"phase_wall_seconds": {"head": with_cache}, "epochs_run": {"head": 9}, "feature_extraction_seconds": 3.0}
    return [{"data": data, "seed": seed, "config": "default", "flags": "", "accuracy": 0.9, "seconds": 40.0,
             "timing": {**timing, "epochs_run": {"head": 9, "fine-tune": 4}}},
            {"data": data, "seed": seed, "config": "head without cache", "flags": "--no-feature-cache", "accuracy": 0.5,
             "seconds": 30.0, "timing": {"phase_wall_seconds": {"head": without}, "epochs_run": {"head": 9}}}]


def test_defaults_benchmark_reports_the_cache_ratio_of_every_seed_and_its_median(tmp_path: Path) -> None:
    rows = [*_default_and_check("textures", 0, 8.0, 24.0), *_default_and_check("textures", 1, 4.0, 24.0),
            *_default_and_check("textures", 2, 5.0, 25.0)]
    defaults = bench_module("defaults")
    table = defaults.cache_summary([(rows[i], rows[i + 1]) for i in range(0, len(rows), 2)])
    assert "| textures | 0 | 9, 8.0 (3.0) | 9, 24.0 | 3.0× |" in table
    assert "| textures | median of 3 | | | **5.0×** |" in table  # ratios 3, 6, 5
    results = tmp_path / "results.jsonl"
    results.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = _script("defaults.py", "--summarize", str(results))
    assert "**5.0×**" in out
    assert "head without cache" not in out.split("Head phase of each default run")[0]  # not a configuration row


def test_side_by_side_tables_divide_each_run_by_its_own_baseline() -> None:
    """onednn.py and gc_freeze.py divide each run's wall time by the baseline run of the same data
    set and repeat, not by a pooled median: that is what makes them side by side."""
    alternating = bench_module("alternating")
    rows = [{"data": "digits", "variant": name, "repeat": repeat, "seconds": seconds, "head": 4.0, "fine-tune": 18.0,
             "accuracy": accuracy}
            for repeat, base, faster in ((0, 40.0, 0.8), (1, 20.0, 0.95)) for name, seconds, accuracy in
            (("all ISAs", base, 0.9), ("AVX2", base * faster, 0.95 + repeat / 100), ("off", base, 0.9))]
    table = alternating.ratio_table(rows, ["all ISAs", "AVX2", "off"], "off")
    assert "| AVX2 | 25.5 | 0.80 / 0.95 | 4.00 | 18.0 | 0.9550; 0.950 / 0.960 |" in table
    assert "| off | 30.0 | 1.00 / 1.00 |" in table
    assert bench_module("onednn").BASELINE in bench_module("onednn").SETTINGS
    assert set(bench_module("gc_freeze").VARIANTS) == {"frozen", "not frozen"}


def test_extraction_variants_set_what_they_are_named_after() -> None:
    """Each variant of extraction.py patches the feature cache before the CLI starts (checked by
    running its code with the CLI call replaced by a print of the two settings)."""
    extraction = bench_module("extraction")
    probe = "import zooft.train.feature_cache as seen; print(seen.FROZEN_MAX_BYTES > 0, seen.EXTRACT_BATCH)"
    got = {}
    for name, code in extraction.VARIANTS.items():
        proc = subprocess.run([sys.executable, "-c", code.replace(extraction._CLI, probe)], capture_output=True, text=True,
                              timeout=120, check=True)
        got[name] = proc.stdout.split()
    assert got == {"shipped": ["True", "64"], "variables": ["False", "64"], "batch 32": ["True", "32"],
                   "batch 128": ["True", "128"]}
    assert set(extraction.DESCRIPTIONS) == set(extraction.VARIANTS)  # each variant is described in the section


@pytest.mark.skipif(__import__("platform").machine().lower() not in ("x86_64", "amd64"), reason="the AVX2 cap applies to x86-64 only")
def test_onednn_precision_probe_tells_a_training_setting_from_a_failing_one() -> None:
    probe = bench_module("onednn_precision").probe
    assert probe("off", "mixed_float16") == "trains"
    assert probe("avx2", "mixed_float16").startswith("fails: ")
