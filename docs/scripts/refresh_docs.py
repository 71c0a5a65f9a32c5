"""Regenerate every measured table in README.md, docs/validation.md and docs/verification.md,
and the README figure.

Run: ``python docs/scripts/refresh_docs.py`` (about seven minutes, five of them the checker's
table). Each generated block sits
between ``<!-- BEGIN name ... -->`` and ``<!-- END name -->`` markers and is replaced by the
output of the command that produces it, so the documents never carry a number that no command
printed. Run it after any change to the model.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "docs" / "scripts"


def output(*args: str, cwd: Path | None = None) -> str:
    p = subprocess.run(args, capture_output=True, text=True, check=True, cwd=cwd)
    return p.stdout.strip()


def demote(text: str) -> str:
    """Script headings are ###; inside a document section they become ####."""
    return "\n".join("#" + line if line.startswith("#") else line for line in text.splitlines())


def splice(path: Path, name: str, body: str) -> None:
    text = path.read_text()
    pattern = re.compile(
        rf"(<!-- BEGIN {name}:[^\n]*-->\n).*?(\n<!-- END {name} -->)", flags=re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"{path}: no {name} markers")
    path.write_text(pattern.sub(lambda m: m.group(1) + body + m.group(2), text))


def main() -> None:
    py = sys.executable
    validation = ROOT / "docs" / "validation.md"
    splice(validation, "calibration", output(py, str(SCRIPTS / "calibration.py")))
    scaling = output(py, str(SCRIPTS / "scaling.py"))
    splice(validation, "scaling", demote(scaling))
    splice(validation, "safety", demote(output(py, str(SCRIPTS / "safety.py"))))
    splice(validation, "freelist", demote(output(py, str(SCRIPTS / "freelist.py"))))
    splice(validation, "tasks", demote(output(py, str(SCRIPTS / "tasks.py"))))
    lockmeter = output(py, str(SCRIPTS / "lockmeter.py"), "--seeds", "5", "--questions")
    splice(validation, "lockmeter", lockmeter)
    splice(validation, "designs", demote(output(py, str(SCRIPTS / "designs.py"))))
    verification = ROOT / "docs" / "verification.md"
    splice(verification, "verification", output(py, str(SCRIPTS / "verification.py")))

    splice(ROOT / "docs" / "errors.md", "fields", output("kmapsim", "fields", "--markdown"))

    readme = ROOT / "README.md"
    corner = scaling[scaling.index("| strategy | kmaps/Mcycle") :]
    splice(readme, "corner", corner[: corner.index("\n\n")])
    with tempfile.TemporaryDirectory() as tmp:
        study = output("kmapsim", "study", "--no-progress", cwd=Path(tmp))
        splice(readme, "study", "```text\n" + study + "\n```")
        for png in sorted((Path(tmp) / "kmapsim-study").glob("*.png")):
            shutil.copy(png, ROOT / "docs" / "img" / f"study_{png.name}")
    print("refreshed README.md, docs/validation.md, docs/errors.md, docs/img/study_*.png")


if __name__ == "__main__":
    main()
