"""Side by side with a baseline: a temporary `git worktree` of a ref (default main) whose `bot`
the same benchmark script imports in a child process (`--tree PATH`), so that one invocation
prints the figures of the code before and after a change.

Import this module before `bot`: `TREE` is put first on sys.path.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = Path(sys.argv[sys.argv.index("--tree") + 1]).resolve() if "--tree" in sys.argv else ROOT
sys.path.insert(0, str(TREE))
MARKER = "@@json"


@contextmanager
def baseline_tree(ref: str) -> Iterator[Path]:
    """A detached worktree of `ref` with compiled catalogs; removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="bench-baseline-")) / "tree"
    try:
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(folder), ref],
            cwd=ROOT,
            check=True,
        )
        pybabel = Path(sys.executable).with_name("pybabel")
        command = [str(pybabel), "compile", "-d", "locales", "-D", "messages"]
        subprocess.run(command, cwd=folder, check=True, capture_output=True)
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
        shutil.rmtree(folder.parent, ignore_errors=True)


def run_in(tree: Path, script: Path, arguments: list[str]) -> object:
    """Run `script --child --tree TREE arguments` and return what it `emit`ted."""
    command = [sys.executable, str(script), "--child", "--tree", str(tree), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, cwd=tree, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode != 0 or MARKER not in done.stdout:
        raise SystemExit(f"the run on {tree} failed")
    return json.loads(done.stdout.split(MARKER, 1)[1])


def emit(value: object) -> None:
    print(MARKER + json.dumps(value))
