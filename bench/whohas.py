"""who-has latency at 1,000,000 events / 100,000 subjects, in-process and as a cold CLI.

1. Prepare (or reuse) a lineage home with the generated events and bring its projection up
   to date (``lineage project``; timed, not part of the result).
2. In-process: what the command does after start-up (pseudonymise the e-mail address, check
   the projection is current, ``services.whohas.who_has``) for ``--queries`` random subjects
   right after opening the projection, then for as many other subjects: p50 / p99 / max.
3. Cold processes: ``lineage who-has EMAIL --format json`` ``--cold`` times, interleaved with
   the same-run baselines ``python -c pass`` and ``python -c "import duckdb"``.
4. One ``python -X importtime`` run of the command: which heavy packages it loads.

    python bench/whohas.py --events 1000000 --subjects 100000
    python bench/whohas.py --quick
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    child_env,
    lineage_command,
    median,
    percentile,
    prepared_home,
    save,
    table,
    wall,
    workdir,
)
from generate import email_of

# Packages that must stay off the who-has path when the projection is current.
HEAVY = ("networkx", "pyarrow", "fastavro", "fideslang", "pydantic", "pandas", "numpy", "kafka")


def in_process(
    home: Path, subjects: list[int], split: int, warmup: int = 20
) -> tuple[dict[str, Any], dict[str, Any]]:
    from lineage.config import resolve
    from lineage.services.app import App
    from lineage.services.whohas import who_has
    from lineage.timeutil import now

    app = App(resolve(home))
    times: list[float] = []
    held = 0
    with app.store() as store:
        for n, i in enumerate(subjects[:warmup] + subjects):
            began = time.perf_counter()
            refs = app.refs_for([("email", email_of(i))])
            if app.catch_up(store) is not None:
                raise SystemExit("projection was not current")
            answer = who_has(store, refs, now())
            took = time.perf_counter() - began
            if n >= warmup:
                times.append(took * 1000)
                held += bool(answer["holders"])
    if held < len(subjects):
        raise SystemExit(f"only {held} of {len(subjects)} subjects had holders: wrong data")
    return _summary(times[:split]), _summary(times[split:])


def _summary(ms: list[float]) -> dict[str, Any]:
    return {
        "runs": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms),
        "median_ms": median(ms),
    }


def cold(home: Path, subjects: list[int]) -> dict[str, dict[str, Any]]:
    env = child_env()
    lineage = [*lineage_command(), "--home", str(home)]
    commands = {
        "python -c pass": lambda i: [sys.executable, "-c", "pass"],
        'python -c "import duckdb"': lambda i: [sys.executable, "-c", "import duckdb"],
        "lineage who-has EMAIL --format json": lambda i: [
            *lineage,
            "who-has",
            email_of(i),
            "--format",
            "json",
        ],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for i in [subjects[0], *subjects]:  # the first round warms the file cache: not counted
        for name, make in commands.items():
            times[name].append(wall(make(i), env=env) * 1000)
    return {name: _summary(ms[1:]) for name, ms in times.items()}


def heavy_imports(home: Path, subject: int) -> list[str]:
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "lineage.cli.main",
        "--home",
        str(home),
        "who-has",
        email_of(subject),
        "--format",
        "json",
    ]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True, env=child_env())
    loaded = set()
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        name = line.rsplit("|", 1)[1].strip()
        loaded.add(name.split(".")[0])
    return sorted(p for p in HEAVY if p in loaded)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--queries", type=int, default=1_000, help="in-process queries")
    parser.add_argument("--cold", type=int, default=30, help="cold processes of each kind")
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    parser.add_argument("--quick", action="store_true", help="100,000 events / 10,000 subjects")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.subjects, args.queries, args.cold = 100_000, 10_000, 200, 10

    home, reused = prepared_home(workdir(args.workdir), args.events, args.subjects, args.seed)
    print(f"data: {home} ({'reused' if reused else 'generated'})", file=sys.stderr)
    project_s = wall([*lineage_command(), "--home", str(home), "project"], env=child_env())
    rng = random.Random(args.seed)
    # Two sets of different subjects in one process: the first pays for loading DuckDB's
    # blocks from the file, the second shows the steady state of a long-running process.
    first, steady = in_process(
        home, [rng.randrange(args.subjects) for _ in range(2 * args.queries)], args.queries
    )
    cold_runs = cold(home, [rng.randrange(args.subjects) for _ in range(args.cold)])
    heavy = heavy_imports(home, rng.randrange(args.subjects))

    rows: list[list[Any]] = [
        [name, s["runs"], s["p50_ms"], s["p99_ms"], s["max_ms"]]
        for name, s in (
            ("in-process who_has, first queries after open", first),
            ("in-process who_has, the next ones", steady),
        )
    ]
    base = cold_runs["python -c pass"]["median_ms"]
    for name, s in cold_runs.items():
        rows.append([f"cold: {name}", s["runs"], s["p50_ms"], s["p99_ms"], s["max_ms"]])
    print(f"{args.events:,} events, {args.subjects:,} subjects (project: {project_s:.1f} s)")
    print(table(rows, ["", "runs", "p50 ms", "p99 ms", "max ms"]))
    cli = cold_runs["lineage who-has EMAIL --format json"]["median_ms"]
    duck = cold_runs['python -c "import duckdb"']["median_ms"]
    print(
        f"cold who-has median = {cli / base:.1f}x python -c pass, {cli / duck:.2f}x import duckdb;"
        f" heavy imports on the path: {', '.join(heavy) or 'none'}"
    )
    path = save(
        "whohas",
        {
            "events": args.events,
            "subjects": args.subjects,
            "in_process": {"first": first, "steady": steady},
            "cold": cold_runs,
            "ratios": {"cli_vs_python": cli / base, "cli_vs_import_duckdb": cli / duck},
            "heavy_imports": heavy,
            "aims": {"in_process_p99_ms": 20, "cold_cli_ms": 400},
        },
    )
    print(f"results: {path}")


if __name__ == "__main__":
    main()
