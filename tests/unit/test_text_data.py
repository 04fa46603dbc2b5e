"""Text data formats (CSV/TSV/JSONL, text folders), their check, multi-label metrics and the
text demo generator. No TensorFlow: the formats and metrics are plain Python/numpy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import zooft
from zooft.config import parse_value
from zooft.data.formats import load_data
from zooft.demo.text import demo_vocabulary, write_text_demo
from zooft_text import folders, tabular
from zooft_text.metrics import multi_hot, multilabel_metrics, parse_thresholds

ROWS = ["text,label,split", "good match today,sports,train", "rain again,weather,train", "big storm,weather,test",
        "team wins,sports,test", "a goal,sports,train", "snow,weather,train"]


def write(path: Path, lines: list[str] | bytes) -> Path:
    path.write_bytes(lines if isinstance(lines, bytes) else ("\n".join(lines) + "\n").encode("utf-8"))
    return path


def test_csv_reads_texts_labels_and_splits(tmp_path: Path) -> None:
    data = tabular.load_csv(str(write(tmp_path / "t.csv", ROWS)))
    assert data.modality == "text" and data.format == "text-csv" and data.classes == ["sports", "weather"]
    assert [(ex.source, ex.label) for ex in data.splits["test"]] == [("big storm", 1), ("team wins", 0)]
    assert len(data.splits["train"]) == 4 and not data.skipped


def test_columns_are_configurable_and_a_missing_one_names_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "t.tsv", ["id\tbody\ttopic", "1\thello there\ta", "2\tgood bye\tb"])
    data = tabular.load_csv(str(path), text_column="body", label_column="Topic")
    assert [ex.source for ex in data.splits["train"]] == ["hello there", "good bye"]
    with pytest.raises(zooft.DataError, match=r"no text column 'words' \(its columns: id, body, topic\)") as info:
        tabular.load_csv(str(path), text_column="words")
    assert "--text-column" in (info.value.hint or "")
    with pytest.raises(zooft.DataError, match="no label column"):
        tabular.load_csv(str(write(tmp_path / "x.csv", ["text,stars", "a,1"])))


def test_check_reports_empty_texts_unknown_labels_and_encoding_errors_with_line_numbers(tmp_path: Path) -> None:
    raw = ("\n".join(ROWS) + "\n").encode() + b"   ,sports,train\ncaf\xe9 ok,weather,train\nnew thing,music,test\n"
    path = write(tmp_path / "bad.csv", raw)
    with pytest.raises(zooft.DataError) as info:
        tabular.load_csv(str(path))
    message = str(info.value)
    assert message.startswith("3 problems in the text data at") and "\n" not in message
    problems = dict(info.value.problems)  # type: ignore[attr-defined]
    assert problems["bad.csv line 8"] == "empty text"
    assert problems["bad.csv line 9"].startswith("not valid UTF-8 (byte 0xe9 at column 4)")
    assert problems["bad.csv line 10"] == "label 'music' (test) occurs in no training row"
    assert "--skip-bad-files" in (info.value.hint or "")
    kept = tabular.load_csv(str(path), skip_bad_files=True)
    assert len(kept.skipped) == 3 and sum(len(v) for v in kept.splits.values()) == 6


def test_single_label_task_rejects_several_labels_and_multi_label_reads_them(tmp_path: Path) -> None:
    path = write(tmp_path / "m.csv", ["text,labels", "goal and rain,sports|weather", "rain,weather", "goal,sports", "quiet,"])
    with pytest.raises(zooft.DataError, match=r"m.csv line 2: 2 labels 'sports\|weather' but the task is single-label \(pass --multi-label\)"):
        tabular.load_csv(str(path))
    data = tabular.load_csv(str(path), multi_label=True)
    assert [ex.label for ex in data.splits["train"]] == [(0, 1), (1,), (0,), ()]  # an empty cell: no label applies


def test_jsonl_and_its_bad_lines(tmp_path: Path) -> None:
    lines = ['{"text": "goal", "label": "sports"}', '{"text": "rain", "label": ["weather"]}', "{not json",
             '{"text": "snow", "label": "weather", "split": "validation"}', '{"words": "x", "label": "sports"}']
    with pytest.raises(zooft.DataError) as info:
        tabular.load_jsonl(str(write(tmp_path / "t.jsonl", lines)))
    problems = dict(info.value.problems)  # type: ignore[attr-defined]
    assert problems["t.jsonl line 3"].startswith("not valid JSON")
    assert "no text column" in problems["t.jsonl line 5"]
    data = tabular.load_jsonl(str(tmp_path / "t.jsonl"), skip_bad_files=True)
    assert data.classes == ["sports", "weather"] and [ex.source for ex in data.splits["val"]] == ["snow"]


def test_text_folders(tmp_path: Path) -> None:
    for label, texts in {"pos": ["great film", "loved it"], "neg": ["awful", "boring plot"]}.items():
        (tmp_path / "d" / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            (tmp_path / "d" / label / f"{i}.txt").write_text(text + "\n", encoding="utf-8")
    assert folders.sniff(str(tmp_path / "d"))
    data = folders.load(str(tmp_path / "d"))
    assert data.classes == ["neg", "pos"] and sorted(ex.source for ex in data.splits["train"]) == ["awful", "boring plot", "great film", "loved it"]
    (tmp_path / "d" / "pos" / "bad.txt").write_bytes(b"line one\nbad \xff byte\n")
    (tmp_path / "d" / "neg" / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "d" / "neg" / "notes.md").write_text("x", encoding="utf-8")
    with pytest.raises(zooft.DataError) as info:
        folders.load(str(tmp_path / "d"))
    problems = dict(info.value.problems)  # type: ignore[attr-defined]
    assert problems[str(Path("pos") / "bad.txt")].startswith("not valid UTF-8 at line 2")
    assert problems[str(Path("neg") / "empty.txt")] == "empty text"
    assert problems[str(Path("neg") / "notes.md")] == "not a .txt file"


def test_load_data_sniffs_text_formats_and_passes_options(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", ["body,topic"] + [f"text {i},{'ab'[i % 2]}" for i in range(20)])
    data = load_data(path, task="text-classify", options={"text_column": "body", "label_column": "topic"})
    assert data.format == "text-csv" and data.classes == ["a", "b"] and len(data.splits["val"]) == 4
    # evaluation data is re-indexed onto the run's classes, multi-label tuples too
    multi = write(tmp_path / "m.csv", ["text,label", "x,b|c", "y,c", "z,b"])
    mapped = load_data(multi, task="text-classify", val_split=0.0, class_names=["a", "b", "c"], options={"multi_label": True})
    assert [ex.label for ex in mapped.splits["train"]] == [(1, 2), (2,), (1,)]


def test_thresholds_and_multilabel_metrics_match_sklearn() -> None:
    from sklearn.metrics import f1_score

    classes = ["a", "b", "c"]
    assert parse_thresholds(None, classes) == [0.5, 0.5, 0.5]
    assert parse_thresholds("0.4,b=0.7", classes) == [0.4, 0.7, 0.4]
    with pytest.raises(zooft.ConfigError, match="names label 'bb'") as info:
        parse_thresholds("bb=0.3", classes)
    assert info.value.hint == "did you mean 'b'?"
    with pytest.raises(zooft.ConfigError, match="expected a number in"):
        parse_thresholds("a=1.5", classes)
    rng = np.random.default_rng(0)
    y = multi_hot([tuple(np.flatnonzero(r)) for r in rng.random((40, 3)) > 0.6], 3)
    probs = np.clip(y * 0.6 + rng.random((40, 3)) * 0.5, 0, 1)
    metrics = multilabel_metrics(y, probs, classes, [0.5, 0.6, 0.4])
    pred = probs >= np.asarray([0.5, 0.6, 0.4])
    assert metrics["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", zero_division=0))
    assert metrics["micro_f1"] == pytest.approx(f1_score(y, pred, average="micro", zero_division=0))
    assert metrics["accuracy"] == pytest.approx(np.mean(np.all(pred == (y > 0), axis=1)))
    assert metrics["per_class"]["b"]["support"] == int(y[:, 1].sum())


def test_text_flags_are_aliases_of_the_text_task_options() -> None:
    from zooft.config import resolve
    from zooft.train.tune import resolve_task_options

    config = resolve(flags={"sequence_length": 64, "multi_label": True}, file_values={"text_column": "sentence"})
    assert "sequence_length" not in config.values
    given = config.values["task_options"]
    assert given == {"text_column": "sentence", "sequence_length": 64, "multi_label": True}
    options = resolve_task_options("text-classify", {**given, "thresholds": "0.4"})
    assert options["sequence_length"] == 64 and options["multi_label"] is True and options["label_column"] is None
    assert resolve_task_options("text-classify", {"multi_label": "false"})["multi_label"] is False
    with pytest.raises(zooft.ConfigError, match="sequence_length='x' is not valid; expected a whole number"):
        resolve_task_options("text-classify", {"sequence_length": "x"})
    with pytest.raises(zooft.ConfigError, match="unknown text-classify task option 'multilabel'") as info:
        resolve_task_options("text-classify", {"multilabel": "true"})
    assert info.value.hint == "did you mean 'multi_label'?"


def test_text_demo_is_seeded_and_loads(tmp_path: Path) -> None:
    a = write_text_demo(tmp_path / "a", per_class=10, seed=3)
    b = write_text_demo(tmp_path / "b", per_class=10, seed=3)
    assert Path(a["csv"]).read_bytes() == Path(b["csv"]).read_bytes()
    data = load_data(a["csv"], task="text-classify")
    assert data.classes == a["classes"] and len(data.splits["test"]) == 10
    words = {w.strip(".!?").lower() for ex in data.splits["train"] for w in ex.source.split()}
    assert words <= set(demo_vocabulary()) == set(Path(a["vocabulary"]).read_text().split())
    multi = write_text_demo(tmp_path / "m", per_class=5, multi_label=True)
    assert any("|" in line for line in Path(multi["csv"]).read_text().splitlines())
    with pytest.raises(FileExistsError):
        write_text_demo(tmp_path / "a")


def test_jsonl_records_round_trip_through_json(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({"sentence": s, "class": c}) + "\n" for s, c in [("é ok", "x"), ("b", "y")]), encoding="utf-8")
    data = tabular.load_jsonl(str(path))
    assert [ex.source for ex in data.splits["train"]] == ["é ok", "b"]


def test_sequence_length_on_an_image_model_is_an_error(tmp_path: Path) -> None:
    from zooft.train.tune import resolve_tune_config

    with pytest.raises(zooft.ConfigError, match="unknown classify task option 'sequence_length'"):
        resolve_tune_config({"backbone": "embedded", "data": str(tmp_path), "sequence_length": 64})
