"""What a lowered forgetting cut-off costs, against a rebuild of the same log.

1. Copy a prepared home (``--events`` generated events) and project it.
2. Record an erasure of one subject completed after its last event: the projection forgets
   its rows (timed: an ordinary forgetting batch).
3. Record a completion of the same request dated between the subject's first and last
   events: the cut-off goes down, and the rows after it are read back from the log (timed:
   the batch that restores; one pass over the log).
4. Baseline, in the same run: ``App.rebuild()`` of the same log. The restored projection must
   hold what the rebuild holds for that subject.

    python bench/forget_restore.py --events 200000 --subjects 20000
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import prepared_home, save, table, workdir


def _timed_catch_up(app: Any) -> float:
    with app.store() as store:
        began = time.perf_counter()
        app.catch_up(store)
        return time.perf_counter() - began


def _count(app: Any, ref: str) -> int:
    with app.store() as store:
        row = store.con.execute(
            "SELECT count(*) FROM events WHERE subject_ref = ? AND event_type = 'DataCollected'",
            [ref],
        ).fetchone()
        return int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--subjects", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, help="generated data (default: temp dir)")
    args = parser.parse_args(argv)

    from lineage.codec import default_codec
    from lineage.config import resolve
    from lineage.events.model import ErasureCompleted, ErasureRequested
    from lineage.log.base import LogRecord
    from lineage.services.app import App

    base = workdir(args.workdir)
    home, reused = prepared_home(base, args.events, args.subjects, args.seed)
    print(f"data: {home} ({'reused' if reused else 'generated'})", file=sys.stderr)
    scratch = base / f"forget-restore-{args.events}"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(home, scratch)
    try:
        app = App(resolve(scratch))
        initial = _timed_catch_up(app)
        with app.store() as store:
            found = store.con.execute(
                "SELECT subject_ref, min(occurred_at), max(occurred_at) FROM events "
                "WHERE event_type = 'DataCollected' GROUP BY subject_ref "
                "HAVING min(occurred_at) < max(occurred_at) ORDER BY subject_ref LIMIT 1"
            ).fetchone()
        if found is None:
            raise SystemExit("no subject collected twice at different times: more --events")
        ref, first, last = found
        first, last = first.replace(tzinfo=UTC), last.replace(tzinfo=UTC)
        codec = default_codec()
        late = datetime.fromtimestamp(last.timestamp() + 86_400, UTC)
        early = datetime.fromtimestamp((first.timestamp() + last.timestamp()) / 2, UTC)
        rid = "bench-late-completion"
        requested = ErasureRequested(
            subject_ref=ref, occurred_at=first, source="bench", request_id=rid, received_at=first
        )

        def done(at: datetime) -> ErasureCompleted:
            return ErasureCompleted(subject_ref=ref, occurred_at=at, source="bench", request_id=rid)

        held = _count(app, ref)
        app.log.append(LogRecord(codec.encode(e), ref.encode()) for e in (requested, done(late)))
        forgetting = _timed_catch_up(app)
        assert _count(app, ref) == 0
        app.log.append([LogRecord(codec.encode(done(early)), ref.encode())])
        restoring = _timed_catch_up(app)
        given_back = _count(app, ref)
        began = time.perf_counter()
        app.rebuild()
        rebuild = time.perf_counter() - began
        assert _count(app, ref) == given_back and 0 < given_back < held, (given_back, held)
        app.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    rows = [
        ["rebuild of the log (baseline)", rebuild, "1.00"],
        ["first projection", initial, f"{initial / rebuild:.2f}"],
        ["batch of a completion (forgets)", forgetting, f"{forgetting / rebuild:.3f}"],
        ["batch of an earlier completion (restores)", restoring, f"{restoring / rebuild:.3f}"],
    ]
    print(table(rows, ["step", "seconds", "/ rebuild"]))
    print(f"events given back: {given_back} of {held}")
    save(
        "forget_restore",
        {
            "events": args.events,
            "rebuild_s": rebuild,
            "forgetting_s": forgetting,
            "restoring_s": restoring,
            "restoring_ratio": restoring / rebuild,
            "forgetting_ratio": forgetting / rebuild,
        },
    )


if __name__ == "__main__":
    main()
