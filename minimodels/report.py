"""What the notebooks reproduced: text tables for notebook cells, and a results log.

Notebooks call :func:`record` for every number they put next to a paper's number;
``python -m minimodels.report`` prints the collected summary, and
``python -m minimodels.report run`` first executes every notebook as a plain script
(under the active profile) and then prints it. That is what ``make run`` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(os.environ.get("MINIMODELS_RESULTS", REPO_ROOT / "results"))


def _fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_table(rows, headers) -> str:
    """Render rows (sequences, same length as ``headers``) as an aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"every row needs {len(headers)} cells (headers {list(headers)}), got {row}")
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def print_table(rows, headers) -> None:
    print(format_table(rows, headers))


def record(notebook: str, name: str, ours, paper=None, unit: str = "", note: str = "") -> None:
    """Log one reproduced number (and the paper's, if it has one) for the summary."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{notebook}.json"
    entries = json.loads(path.read_text()) if path.exists() else {}
    entries[name] = {"ours": ours, "paper": paper, "unit": unit, "note": note}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    os.replace(tmp, path)


def summary() -> str:
    files = sorted(RESULTS_DIR.glob("*.json"))
    if not files:
        return f"no results in {RESULTS_DIR}: run the notebooks first (make run)"
    out = []
    for path in files:
        entries = json.loads(path.read_text())
        rows = [(k, e["ours"], e["paper"], e["unit"], e["note"]) for k, e in entries.items()]
        out.append(f"\n== {path.stem} ==\n" + format_table(rows, ["result", "ours", "paper", "unit", "note"]))
    return "\n".join(out)


def show_source(obj) -> None:
    """Show an object's source: highlighted in Jupyter, plain text in a script."""
    import inspect

    src = inspect.getsource(obj)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display

        if get_ipython() is not None:
            display(Markdown(f"```python\n{src}```"))
            return
    except ImportError:
        pass
    print(src)


def run_notebooks(pattern: str = "[0-9]*.py") -> int:
    """Execute every notebook source as a script, then print the summary. Returns an exit code."""
    env = dict(os.environ, MPLBACKEND="Agg")
    failed = []
    for script in sorted((REPO_ROOT / "notebooks").glob(pattern)):
        t0 = time.perf_counter()
        print(f"--> {script.name}", flush=True)
        rc = subprocess.call([sys.executable, str(script)], cwd=script.parent, env=env)
        print(f"<-- {script.name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {time.perf_counter() - t0:.0f}s", flush=True)
        if rc:
            failed.append(script.name)
    print(summary())
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        sys.exit(run_notebooks())
    if sys.argv[1:]:
        sys.exit(f"usage: python -m minimodels.report [run]  (got {' '.join(sys.argv[1:])})")
    print(summary())
