"""The registry: one `NAME/competition.toml` per competition, in a board folder.

A definition names the metric, the submission kind, the columns, the class list, the answer key
(a path relative to the definition file, or absolute) with its SHA-256, the sample submission, and
a daily submission limit. It is looked up first in the user's board (`--board DIR`, else
`$HARNESS_LEADERBOARD`, else `runs/leaderboard`), then in the definitions harness ships as package
data (`harness/leaderboard/shipped/`, found wherever harness is installed and whatever the working
directory). A shipped definition's relative paths are relative to the working directory (where
`harness data digits data/digits` writes); `harness data digits DIR` and `harness competition new`
register the folder they write in the board, which takes precedence.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from harness.errors import HarnessError

SHIPPED = Path(__file__).resolve().parent / "shipped"
DEFAULT_BOARD = Path("runs") / "leaderboard"
ENV_BOARD = "HARNESS_LEADERBOARD"
DEFINITION = "competition.toml"
KINDS = ("label", "probability")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")


@dataclass(frozen=True)
class Definition:
    """One competition, as its `competition.toml` states it (`path`: where it was read from)."""

    name: str
    metric: str  # a `harness_metrics` component
    kind: str  # "label": id + a label column; "probability": id + one column per class
    classes: tuple[str, ...]
    answer_key: str  # relative to the definition file, or absolute
    answer_key_sha256: str
    sample_submission: str  # relative to the definition file, or absolute
    id_column: str = "id"
    label_column: str = "label"
    extension: str = ".png"  # the image files' extension (`data.extension` of a recipe)
    daily_limit: int = 5  # scored submissions per UTC day; 0 means no limit
    made_by: str = ""  # the command that writes the competition folder and its answer key
    path: Path = field(default=Path(DEFINITION), compare=False)

    @property
    def shipped(self) -> bool:
        """Whether harness ships this definition (its relative paths are the working directory's)."""
        return self.path.resolve().is_relative_to(SHIPPED)

    def resolve(self, value: str) -> Path:
        p = Path(value)
        base = Path() if self.shipped else self.path.parent
        return p if p.is_absolute() else Path(os.path.normpath(base / p))

    def how_to_make(self) -> str:
        """The commands that write (or register) this competition's folder, for an error to name."""
        make = f"write it with `{self.made_by}`" if self.made_by else "the competition folder that held it is gone"
        return f"{make}, or register the folder that holds it with `harness competition new {self.name} --from DIR`"

    @property
    def answer_key_path(self) -> Path:
        return self.resolve(self.answer_key)

    @property
    def sample_path(self) -> Path:
        return self.resolve(self.sample_submission)


def board_dir(arg: Path | None) -> Path:
    """--board DIR, else $HARNESS_LEADERBOARD, else runs/leaderboard."""
    return arg if arg is not None else Path(os.environ.get(ENV_BOARD) or DEFAULT_BOARD)


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise HarnessError(f"competition name {name!r}: use letters, digits, '.', '_' and '-' (it names a folder)")
    return name


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _typed(raw: dict[str, object], where: Path) -> dict[str, object]:
    names = {f.name: f for f in fields(Definition) if f.name != "path"}
    out: dict[str, object] = {}
    for key, value in raw.items():
        if key not in names:
            near = difflib.get_close_matches(key, names, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; valid keys: {', '.join(names)}"
            raise HarnessError(f"{where}: unknown key {key!r}{hint}")
        want = names[key].type  # a string: annotations are postponed
        if want == "int":
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif key == "classes":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, str)
        if not ok:
            expected = "an integer" if want == "int" else "a list of strings" if key == "classes" else "a string"
            raise HarnessError(f"{where}: {key} must be {expected}")
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def read_definition(path: Path) -> Definition:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise HarnessError(f"{path}: not valid TOML: {exc}") from exc
    values = _typed(raw, path)
    values.setdefault("name", path.parent.name)
    missing = [f.name for f in fields(Definition)
               if f.default is MISSING and f.default_factory is MISSING and f.name not in values]
    if missing:
        raise HarnessError(f"{path}: missing key(s) {', '.join(missing)}")
    defn = Definition(**values, path=path)  # type: ignore[arg-type]
    if defn.name != path.parent.name:
        raise HarnessError(f"{path}: name {defn.name!r} differs from its folder {path.parent.name!r}")
    if defn.kind not in KINDS:
        raise HarnessError(f"{path}: kind must be one of {', '.join(KINDS)}, got {defn.kind!r}")
    if len(defn.classes) < 2 or len(set(defn.classes)) != len(defn.classes):
        raise HarnessError(f"{path}: classes must list at least 2 distinct names")
    return defn


def definition_text(defn: Definition) -> str:
    import tomli_w

    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(defn).items() if k != "path"}
    return tomli_w.dumps(values)


def write_definition(defn: Definition) -> Path:
    defn.path.parent.mkdir(parents=True, exist_ok=True)
    defn.path.write_text(definition_text(defn), encoding="utf-8")
    return defn.path


def candidates(name: str, board: Path) -> list[Path]:
    """Where `name`'s definition may live, the user's board first."""
    paths = [board / name / DEFINITION, SHIPPED / name / DEFINITION]
    return [p for i, p in enumerate(paths) if p.resolve() not in {q.resolve() for q in paths[:i]}]


def registered(board: Path) -> list[Path]:
    """Every definition visible from `board`: the board's own, then the shipped ones it does not shadow."""
    seen: dict[str, Path] = {}
    for root in (board, SHIPPED):
        for p in sorted(root.glob(f"*/{DEFINITION}")) if root.is_dir() else []:
            seen.setdefault(p.parent.name, p)
    return list(seen.values())


def find_definition(name: str, board: Path) -> Definition:
    check_name(name)
    for path in candidates(name, board):
        if path.is_file():
            return read_definition(path)
    known = ", ".join(p.parent.name for p in registered(board)) or "none"
    raise HarnessError(f"no competition {name!r} in the board {board} or among those harness ships (registered: "
                       f"{known}); make one with `harness competition new {name} --from DIR`, or pass the board it "
                       "was registered in with --board DIR (or $HARNESS_LEADERBOARD)")


def checked_answer_key(defn: Definition) -> Path:
    """The answer key's path, once it is known to exist and to match the registered SHA-256."""
    key = defn.answer_key_path
    if not key.is_file():
        raise HarnessError(f"the answer key {key} of competition {defn.name!r} is missing: {defn.how_to_make()}")
    digest = sha256_file(key)
    if digest != defn.answer_key_sha256:
        raise HarnessError(
            f"the answer key {key} changed since {defn.name!r} was registered in {defn.path} "
            f"(sha256 {digest[:12]}... != {defn.answer_key_sha256[:12]}...): restore it"
            + (f" with `{defn.made_by}`" if defn.made_by else "")
            + f", or re-register with `harness competition new {defn.name} --from DIR --force`"
        )
    return key
