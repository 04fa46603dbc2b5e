"""What a plain ``zooft tune`` gets, next to flag settings and the hand-written Keras recipe.

Every configuration runs as a fresh process (start-up, data check, model build, feature
extraction, training, evaluation and report all count) on held-out data sets, over several
seeds. The runs are interleaved (for each data set and seed, every configuration in turn), so
a load change on this shared machine hits all of them alike. Each result is appended to a
JSON-lines file as it comes (``--results``), so an interrupted benchmark keeps what it ran;
``--summarize FILE`` only prints (and appends) the tables of an earlier results file.

Configurations are named ``NAME=ARGS`` (``--config``), e.g. ``aug-none=--augment none``; the
presets are in :data:`PRESETS`. ``NAME@digits+photos`` runs a configuration on those data sets only. ``keras-1e-5`` / ``keras-1e-3`` run ``keras_recipe.py`` (the
Keras guide's recipe: frozen base, then the whole base unfrozen at a constant rate).

    .venv/bin/python scripts/bench/defaults.py --data digits --data photos --seeds 3 \\
        --config default --config keras-1e-5 --config keras-1e-3
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from alternating import plain_tune, timed  # noqa: E402
from datasets import describe_kind, reuse_or_write  # noqa: E402
from results import load_note, machine_line, publish  # noqa: E402

#: Named configurations: extra ``zooft tune`` flags, or a Keras recipe (``keras:`` + its flags).
PRESETS: dict[str, str] = {
    "default": "",
    "aug-none": "--augment none",
    "cache-off": "--cache off",
    "aug-old-default": "--augment auto:flip,zoom=0.1,rotation=0.05,contrast=0.1",
    "aug-auto-default": "--augment auto:default",
    "fixed-5+5-none": "--epochs 5 --fine-tune-epochs 5 --augment none",
    "fixed-5+3-none": "--epochs 5 --fine-tune-epochs 3 --augment none",
    "head-only": "--fine-tune-epochs 0",
    "unfreeze-6": "--unfreeze 6",
    "max-3": "--max-epochs 3",
    "no-head": "--epochs 0 --fine-tune-epochs auto",
    "no-warmup": "--warmup-epochs 0",
    "keras-1e-5": "keras:--epochs 3 --fine-tune-epochs 2 --fine-tune-lr 1e-5",
    "keras-1e-3": "keras:--epochs 3 --fine-tune-epochs 2 --fine-tune-lr 1e-3",
    "keras-1e-5-cache": "keras:--epochs 3 --fine-tune-epochs 2 --fine-tune-lr 1e-5 --cache",
}


#: At most this many head epochs in the no-cache comparison run (``--cache-check``); it runs as
#: many as the default run's cached head phase did, up to this cap.
CACHE_CHECK_EPOCHS = 50
#: The ``config`` of a cache-check row in the results file.
CHECK_CONFIG = "head without cache"


def run_one(name: str, flags: str, data: Path, seed: int, work: Path, weights: str) -> dict:
    """One fresh-process run; its accuracy, wall time and (for zooft) timing.json."""
    if flags.startswith("keras:"):
        argv = [sys.executable, str(HERE / "keras_recipe.py"), str(data), "--weights", weights, "--seed", str(seed),
                *shlex.split(flags[len("keras:"):])]
        seconds, out, _ = timed(argv)
        return {"accuracy": json.loads(out.strip().splitlines()[-1])["accuracy"], "seconds": seconds}
    run = work / f"run-{name}-{seed}-{time.monotonic_ns()}"
    seconds, _, _ = timed(plain_tune(data, run, "--seed", str(seed), *shlex.split(flags)))
    timing = json.loads((run / "timing.json").read_text())
    accuracy = json.loads((run / "metrics.json").read_text())["accuracy"]
    return {"accuracy": accuracy, "seconds": seconds, "timing": timing}


def breakdown(rows: list[dict], config: str = "default") -> str:
    """Where the wall time of ``config``'s runs goes (timing.json's steps, means per data set):
    process start-up (interpreter, CLI and plugin imports) is the wall time no step covers."""
    kinds = [k for k in dict.fromkeys(r["data"] for r in rows) if any(r["config"] == config and "timing" in r and
                                                                         "steps" in r["timing"] for r in rows if r["data"] == k)]
    if not kinds:
        return ""
    names: dict[str, None] = {"process start-up (imports before tune)": None}
    table: dict[str, dict[str, float]] = {}
    for kind in kinds:
        runs = [r for r in rows if r["data"] == kind and r["config"] == config and "steps" in r.get("timing", {})]
        sums: dict[str, float] = {}
        for r in runs:
            steps = r["timing"]["steps"]
            extraction = r["timing"].get("feature_extraction_seconds") or 0.0
            parts = {"process start-up (imports before tune)": r["seconds"] - sum(steps.values())}
            for name, sec in steps.items():
                if name.startswith("training") and extraction:
                    parts["feature extraction (head phase)"] = extraction
                    heads = r["timing"]["phase_wall_seconds"].get("head", extraction) - extraction
                    parts["head epochs on cached features"] = heads
                    parts["fine-tuning (and anything else in training)"] = sec - extraction - heads
                else:
                    parts[name] = sec
            for name, sec in parts.items():
                names.setdefault(name, None)
                sums[name] = sums.get(name, 0.0) + sec
        table[kind] = {name: sec / len(runs) for name, sec in sums.items()}
    lines = [f"| step | {' | '.join(kinds)} |", "|---|" + "---|" * len(kinds)]
    for name in names:
        lines.append(f"| {name} | " + " | ".join(f"{table[k].get(name, 0.0):.1f}" for k in kinds) + " |")
    lines.append("| **wall time** | " + " | ".join(
        f"**{sum(table[k].values()):.1f}**" for k in kinds) + " |")
    return "\n".join(lines)


def cache_summary(pairs: list[tuple[dict, dict]]) -> str:
    """The feature cache's head-phase ratio per data set and seed, and its median per data set
    (one slow step on a shared machine moves a single ratio by a third)."""
    lines = ["| data | seed | head phase with the cache: epochs, wall (s) (extraction) | without the cache: epochs, wall (s) | ratio |",
             "|---|---|---|---|---|"]
    ratios: dict[str, list[float]] = {}
    for on, off in pairs:
        a, b = on["timing"]["phase_wall_seconds"]["head"], off["timing"]["phase_wall_seconds"]["head"]
        ratios.setdefault(on["data"], []).append(b / a)
        lines.append(f"| {on['data']} | {on['seed']} | {on['timing']['epochs_run']['head']}, {a:.1f} "
                     f"({on['timing'].get('feature_extraction_seconds') or 0:.1f}) | "
                     f"{off['timing']['epochs_run']['head']}, {b:.1f} | {b / a:.1f}× |")
    for kind, values in ratios.items():
        lines.append(f"| {kind} | median of {len(values)} | | | **{statistics.median(values):.1f}×** |")
    return ("Head phase of each default run (feature extraction + head epochs, wall time inside the run) against "
            "the same number of head epochs through the frozen backbone (`--no-feature-cache`, same seed; "
            f"at most {CACHE_CHECK_EPOCHS}); a ratio over fewer epochs without the cache is a lower bound.\n\n"
            + "\n".join(lines) + "\n")


def summarize(rows: list[dict]) -> str:
    """Markdown tables: one per data set, a row per configuration (means and per seed)."""
    out = []
    for kind in dict.fromkeys(r["data"] for r in rows):
        sub = [r for r in rows if r["data"] == kind]
        out.append(f"\n**{describe_kind(kind)}**\n")
        out.append("| configuration | flags | test accuracy (mean) | per seed | wall (s, mean) | epochs run (head + fine-tune, per seed) | head phase wall (s) |")
        out.append("|---|---|---|---|---|---|---|")
        for name in dict.fromkeys(r["config"] for r in sub):
            runs = sorted((r for r in sub if r["config"] == name), key=lambda r: r["seed"])
            acc = sum(r["accuracy"] for r in runs) / len(runs)
            sec = sum(r["seconds"] for r in runs) / len(runs)
            epochs = " / ".join(
                f"{r['timing']['epochs_run'].get('head', 0)}+{r['timing']['epochs_run'].get('fine-tune', 0)}" if "timing" in r else "–"
                for r in runs)
            heads = [r["timing"].get("phase_wall_seconds", {}).get("head") for r in runs if "timing" in r]
            head = f"{sum(heads) / len(heads):.1f}" if heads and None not in heads else "–"
            per_seed = " / ".join(f"{r['accuracy']:.3f}" for r in runs)
            flags = runs[0]["flags"] or "(none)"
            out.append(f"| {name} | `{flags}` | {acc:.4f} | {per_seed} | {sec:.1f} | {epochs} | {head} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", help="data set kind (repeatable): digits, photos, shapes, …")
    parser.add_argument("--config", action="append", help="NAME (a preset) or NAME=FLAGS (repeatable)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--results", default=None, help="JSON-lines file the results are appended to")
    parser.add_argument("--summarize", help="only summarise this results file")
    parser.add_argument("--title", default="Defaults: a plain zooft tune next to flag settings")
    parser.add_argument("--no-write", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--data-root", help="reuse data sets written here earlier (DIR/<kind>), write missing ones there")
    parser.add_argument("--cache-check", action="store_true",
                        help="after each default run: the same head epochs without the feature cache (same data set and seed)")
    args = parser.parse_args()

    if args.summarize:
        rows = [json.loads(line) for line in Path(args.summarize).read_text().splitlines() if line.strip()]
        pairs, last_default = [], {}
        for row in rows:  # a check follows the default run it repeats without the cache
            if row["config"] == "default":
                last_default[row["data"], row["seed"]] = row
            elif row["config"] == CHECK_CONFIG and (row["data"], row["seed"]) in last_default:
                pairs.append((last_default[row["data"], row["seed"]], row))
        rows = [r for r in rows if r["config"] != CHECK_CONFIG]
        print(summarize(rows))
        if pairs:
            print("\n" + cache_summary(pairs))
        print("\nTime to first result, default runs (s, means):\n\n" + breakdown(rows))
        return
    configs: dict[str, str] = {}
    only: dict[str, set[str]] = {}
    for item in args.config or ["default"]:
        name, sep, flags = item.partition("=")
        name, at, kinds_of = name.partition("@")
        configs[name] = flags if sep else PRESETS[name]
        if at:
            only[name] = set(kinds_of.split("+"))
    from zooft.registry import load_registry

    weights = str(load_registry().resolve("embedded").weights.location)
    work = Path(tempfile.mkdtemp(prefix="zooft-defaults-"))
    results = Path(args.results or work / "results.jsonl")
    kinds = args.data or ["digits"]
    root = Path(args.data_root) if args.data_root else work
    sets = {kind: reuse_or_write(kind, root) for kind in kinds}
    load = load_note()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []
    cache_rows: list[tuple[dict, dict]] = []
    for seed in range(args.seeds):  # seeds outermost: an interrupted run still covers every data set
        for kind in kinds:
            for name, flags in configs.items():
                if name in only and kind not in only[name]:
                    continue
                row = {"data": kind, "config": name, "flags": flags, "seed": seed,
                       **run_one(name, flags, sets[kind], seed, work, weights)}
                row["load"] = os.getloadavg()[0]
                rows.append(row)
                with results.open("a") as handle:
                    handle.write(json.dumps(row) + "\n")
                print(f"{kind} seed {seed} {name}: accuracy {row['accuracy']:.4f} in {row['seconds']:.1f}s", flush=True)
                if args.cache_check and name == "default":
                    # the default run's head phase (cached features), against the same number of
                    # head epochs through the frozen backbone (no cache), augmentation as auto
                    head = min(row["timing"]["epochs_run"]["head"], CACHE_CHECK_EPOCHS)
                    flags = f"--no-feature-cache --epochs {head} --fine-tune-epochs 0"
                    check = {"data": kind, "config": CHECK_CONFIG, "flags": flags, "seed": seed,
                             **run_one("nocache", flags, sets[kind], seed, work, weights)}
                    check["load"] = os.getloadavg()[0]
                    cache_rows.append((row, check))
                    with results.open("a") as handle:
                        handle.write(json.dumps(check) + "\n")
    loads = [r["load"] for r in rows]
    cache_table = ""
    if cache_rows:
        cache_table = "\n" + cache_summary(cache_rows)
    section = f"""
## {args.title}

{machine_line()} · started {started} · {load} 1-minute load average during the runs: \
{min(loads):.1f}–{max(loads):.1f} (2 cores, shared with other jobs: absolute times are slower than on an idle machine, \
ratios within one data set and seed hold).

Each configuration a fresh process, interleaved per seed and data set; seeds 0–{args.seeds - 1}.
{summarize(rows)}
{cache_table}
Where a default run's wall time goes (s, means over seeds; timing.json's `steps`):

{breakdown(rows)}

Command: `.venv/bin/python scripts/bench/defaults.py {' '.join(f'--data {k}' for k in kinds)} --seeds {args.seeds} \
{' '.join(shlex.quote('--config=' + n + ('@' + '+'.join(sorted(only[n])) if n in only else '') + ('=' + f if f != PRESETS.get(n) else '')) for n, f in configs.items())}\
{' --cache-check' if args.cache_check else ''}`
"""
    publish(section, write=not args.no_write)


if __name__ == "__main__":
    main()
