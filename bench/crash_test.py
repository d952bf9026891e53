"""Kill -9 crash test, long form: many kills, many citizens, a ledger at the end.

Run from the repository root::

    .venv/bin/python bench/crash_test.py                       # 60 kills, 24 citizens
    .venv/bin/python bench/crash_test.py --kills 100 --citizens 40 --seed 3
    .venv/bin/python bench/crash_test.py --repo /tmp/main-head # the bot of another checkout

After their receipt some citizens add a text to their complaint ("My complaints", ➕ Add) and
some withdraw it (--add-share, --withdraw-share); the ledger checks each addition is stored and
forwarded to the group once and each withdrawal stored, noted and confirmed once.

`python -m bot` runs as a subprocess against the fake Bot API (tests/fakes/telegram_api.py) and
is killed with SIGKILL at seeded random moments, then started again on the same database; see
tests/crash_harness.py for the scenario and for exactly what the ledger counts. The CI-sized
version is tests/test_crash.py. The database, the bot's logs, every recorded Bot API call
(calls.jsonl, with the pushes and kills marked) and ledger.json stay in --workdir (default: a
new temporary folder, printed).

Exit code: 0 when every citizen finished, the operator never gave up, nothing was lost, nothing
(complaint, addition, withdrawal) stored twice, and duplicate sends stay within the bound (one
per kill unless --max-duplicates says otherwise); 1 otherwise. The kills are seeded; the timing
around them is not, so two runs with one seed differ.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=60)
    parser.add_argument("--citizens", type=int, default=24)
    parser.add_argument("--waves", type=int, default=8, help="groups in which citizens start")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--min-uptime", type=float, default=0.2)
    parser.add_argument("--max-uptime", type=float, default=2.5)
    parser.add_argument("--targeted", type=float, default=0.6, help="share of aimed kills")
    parser.add_argument("--resend-after", type=float, default=3.0)
    parser.add_argument("--add-share", type=float, default=0.35, help="citizens who add a text")
    parser.add_argument("--withdraw-share", type=float, default=0.3, help="... who withdraw")
    parser.add_argument("--max-duplicates", type=int, default=None)
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose bot is run")
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--verbose", action="store_true", help="print every action and kill")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    repo = args.repo.resolve()
    # the harness reads catalogs and constants of the bot under test, and the tests of this tree
    for path in (str(ROOT), str(repo)):
        if path not in sys.path:
            sys.path.insert(0, path)
    import tests

    tests.__path__.append(str(ROOT / "tests"))
    from tests.crash_harness import CrashConfig, run_crash_test

    cfg = CrashConfig(
        citizens=args.citizens,
        kills=args.kills,
        waves=args.waves,
        seed=args.seed,
        min_uptime=args.min_uptime,
        max_uptime=args.max_uptime,
        targeted=args.targeted,
        resend_after=args.resend_after,
        add_share=args.add_share,
        withdraw_share=args.withdraw_share,
        max_duplicates=args.max_duplicates,
        kill_phase_cap=max(240.0, args.kills * 15.0),
        final_timeout=90.0,
        repo=repo,
        verbose=args.verbose,
    )
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="crash-test-"))
    print(f"workdir: {workdir}  bot: {repo}  seed: {args.seed}", flush=True)
    ledger = run_crash_test(cfg, workdir)
    print(ledger.report())
    print("PASS" if ledger.passed else "FAIL")
    return 0 if ledger.passed else 1


if __name__ == "__main__":
    sys.exit(main())
