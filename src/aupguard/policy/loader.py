"""Reading a pack: its root file, the files it includes, the pack it extends.

The result is a `PackSource`: every section merged, every entry with the file
and line it came from. Problems are collected, not raised one at a time, so a
policy author sees all of them at once, each as ``file:line: [rule] message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from aupguard.policy.model import (
    ClauseSpec,
    ContractualSpec,
    DatasetBlock,
    LexiconSpec,
    MechanismSpec,
    PackFile,
    PlannedSpec,
    RuleSpec,
)
from aupguard.policy.yamlsource import LineDict, LineList, YamlError, load_yaml, locate

__all__ = [
    "DEFAULT_PACK",
    "Located",
    "Origin",
    "PackError",
    "PackLoadError",
    "PackSource",
    "load_source",
    "resolve_pack",
]

T = TypeVar("T")

_ROOT_ONLY = ("pack", "version", "effective", "extends", "include")


def _default_pack_path() -> Path:
    return Path(str(resources.files("aupguard.policy").joinpath("default", "pack.yaml")))


DEFAULT_PACK = "default"


@dataclass(frozen=True, slots=True)
class Origin:
    file: Path
    line: int

    def __str__(self) -> str:
        return f"{_show(self.file)}:{self.line}"


@dataclass(frozen=True, slots=True)
class Located(Generic[T]):
    value: T
    origin: Origin
    pack: str
    raw: Any = None


@dataclass(frozen=True, slots=True)
class PackError:
    file: Path
    line: int
    message: str
    rule: str | None = None

    def __str__(self) -> str:
        where = f"{_show(self.file)}:{self.line}"
        rule = f" [{self.rule}]" if self.rule else ""
        return f"{where}:{rule} {self.message}"


class PackLoadError(Exception):
    """A pack that cannot be loaded, with every problem found."""

    def __init__(self, errors: list[PackError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


@dataclass
class PackSource:
    id: str
    version: str
    effective: date | None
    description: str
    root: Path
    files: list[Path] = field(default_factory=list)
    lineage: list[str] = field(default_factory=list)
    clauses: dict[str, Located[ClauseSpec]] = field(default_factory=dict)
    lexicons: dict[str, Located[LexiconSpec]] = field(default_factory=dict)
    rules: dict[str, Located[RuleSpec]] = field(default_factory=dict)
    data: dict[str, Located[DatasetBlock]] = field(default_factory=dict)
    mechanisms: dict[str, Located[MechanismSpec]] = field(default_factory=dict)
    contractual: dict[str, Located[ContractualSpec]] = field(default_factory=dict)
    planned: dict[str, Located[PlannedSpec]] = field(default_factory=dict)
    problems: list[PackError] = field(default_factory=list)
    """Problems found while reading that did not stop it (the compiler reports them
    together with its own, so an author sees everything at once)."""


def _show(path: Path) -> str:
    """A path as short as it can be said: relative to the current directory if inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        default_dir = _default_pack_path().parent
        try:
            return f"<default>/{path.resolve().relative_to(default_dir.resolve())}"
        except ValueError:
            return str(path)


def resolve_pack(ref: str | Path, relative_to: Path | None = None) -> Path:
    """The root file of a pack reference: ``default``, a file, or a folder with pack.yaml."""
    if str(ref) == DEFAULT_PACK:
        return _default_pack_path()
    path = Path(ref)
    if relative_to is not None and not path.is_absolute():
        path = relative_to / path
    if path.is_dir():
        path = path / "pack.yaml"
    return path


class _Reader:
    def __init__(self) -> None:
        self.errors: list[PackError] = []

    def error(self, file: Path, line: int, message: str, rule: str | None = None) -> None:
        self.errors.append(PackError(file, line, message, rule))

    def parse(self, path: Path) -> tuple[PackFile, LineDict] | None:
        try:
            raw = load_yaml(path)
        except FileNotFoundError:
            self.error(path, 0, "file not found")
            return None
        except OSError as exc:
            self.error(path, 0, f"cannot read: {exc.strerror}")
            return None
        except YamlError as exc:
            self.error(path, exc.line, exc.message)
            return None
        if raw is None:
            raw = LineDict()
            raw.line, raw.key_lines = 1, {}
        if not isinstance(raw, LineDict):
            self.error(path, getattr(raw, "line", 1), "a pack file must be a YAML mapping")
            return None
        try:
            return PackFile.model_validate(raw), raw
        except ValidationError as exc:
            for err in exc.errors():
                loc = err["loc"]
                rule = _rule_at(raw, loc)
                where = ".".join(str(p) for p in loc)
                message = err["msg"].removeprefix("Value error, ")
                self.error(path, locate(raw, loc), f"{where}: {message}", rule)
            return None

    def load(self, path: Path, chain: tuple[Path, ...] = ()) -> PackSource | None:
        path = path.resolve()
        if path in chain:
            cycle = " -> ".join(_show(p) for p in (*chain, path))
            self.error(path, 1, f"packs extend each other in a cycle: {cycle}")
            return None
        parsed = self.parse(path)
        if parsed is None:
            return None
        root, raw = parsed
        if root.pack is None or root.version is None:
            self.error(path, raw.line, "the root file of a pack must set `pack` and `version`")
            return None
        base: PackSource | None = None
        if root.extends is not None:
            base = self.load(resolve_pack(root.extends, path.parent), (*chain, path))
            if base is None:
                self.error(path, raw.line_of("extends"), f"cannot load base pack {root.extends!r}")
                return None
        source = PackSource(
            id=root.pack,
            version=root.version,
            effective=root.effective,
            description=root.description,
            root=path,
            lineage=[*(base.lineage if base else []), f"{root.pack}@{root.version}"],
        )
        if base is not None:
            source.files = list(base.files)
            for name in ("clauses", "lexicons", "rules", "data", "mechanisms", "contractual"):
                getattr(source, name).update(getattr(base, name))
            source.planned.update(base.planned)
        files = [(path, root, raw)]
        for pattern in root.include:
            matches = sorted(path.parent.glob(pattern))
            if not matches:
                self.error(
                    path, _include_line(raw, pattern), f"include {pattern!r} matches no file"
                )
            for included in matches:
                parsed = self.parse(included.resolve())
                if parsed is not None:
                    files.append((included.resolve(), parsed[0], parsed[1]))
        for file, spec, node in files:
            source.files.append(file)
            if file is not path:
                for key in _ROOT_ONLY:
                    if key in node:
                        self.error(
                            file, node.line_of(key), f"only a pack's root file may set `{key}`"
                        )
            self._merge(source, base, file, spec, node)
        return source

    def _merge(
        self,
        source: PackSource,
        base: PackSource | None,
        file: Path,
        spec: PackFile,
        node: LineDict,
    ) -> None:
        pack = source.id

        def origin(section: str, key: str | int) -> Origin:
            sub = node.get(section)
            line = sub.line_of(key) if isinstance(sub, LineDict | LineList) else node.line
            return Origin(file, line)

        def add(
            section: str, key: str, value: Any, at: Origin, raw: Any = None, rule: str | None = None
        ) -> bool:
            table: dict[str, Located[Any]] = getattr(source, section)
            existing = table.get(key)
            if existing is not None and existing.pack == pack:
                self.error(
                    file,
                    at.line,
                    f"duplicate {section[:-1]} {key!r} (first at {existing.origin})",
                    rule,
                )
                return False
            table[key] = Located(value, at, pack, raw)
            return True

        for key, clause in spec.clauses.items():
            add("clauses", key, clause, origin("clauses", key))
        for key, lexicon in spec.lexicons.items():
            at = origin("lexicons", key)
            inherited = source.lexicons.get(key)
            if inherited is not None and inherited.pack != pack:
                if lexicon.merge == "new":
                    self.error(
                        file,
                        at.line,
                        f"lexicon {key!r} is already defined by {inherited.pack} at "
                        f"{inherited.origin}; set merge: extend or merge: replace",
                    )
                    continue
                if lexicon.merge == "extend":
                    old = inherited.value
                    merged = old.model_copy(
                        update={
                            "terms": [*old.terms, *lexicon.terms],
                            "patterns": [*old.patterns, *lexicon.patterns],
                        }
                    )
                    add("lexicons", key, merged, at)
                    continue
            add("lexicons", key, lexicon, at)
        raw_rules = node.get("rules", LineList())
        for i, rule in enumerate(spec.rules):
            at = origin("rules", i)
            inherited_rule = source.rules.get(rule.id)
            if inherited_rule is not None and inherited_rule.pack != pack:
                self.error(
                    file,
                    at.line,
                    f"rule {rule.id!r} is defined by {inherited_rule.pack} at {inherited_rule.origin}; "
                    "change it with `overrides`, or remove it with `disable`",
                    rule.id,
                )
                continue
            add("rules", rule.id, rule, at, raw_rules[i], rule.id)
        for key, block in spec.data.items():
            add("data", key, block, origin("data", key))
        for i, mechanism in enumerate(spec.mechanisms):
            add("mechanisms", mechanism.id, mechanism, origin("mechanisms", i))
        for key, contractual in spec.contractual.items():
            add("contractual", key, contractual, origin("contractual", key))
        for key, planned in spec.planned.items():
            add("planned", key, planned, origin("planned", key))
        self._overrides(source, base, file, spec, node)

    def _overrides(
        self,
        source: PackSource,
        base: PackSource | None,
        file: Path,
        spec: PackFile,
        node: LineDict,
    ) -> None:
        for rule_id, patch in spec.overrides.items():
            line = node["overrides"].line_of(rule_id)
            target = source.rules.get(rule_id)
            if target is None or base is None or rule_id not in base.rules:
                self.error(file, line, f"overrides: no rule {rule_id!r} in the base pack", rule_id)
                continue
            if "id" in patch:
                self.error(file, line, "overrides cannot change a rule's id", rule_id)
                continue
            fields = {name: getattr(target.value, name) for name in RuleSpec.model_fields}
            fields.update(patch)
            try:
                patched = RuleSpec.model_validate(fields)
            except ValidationError as exc:
                for err in exc.errors():
                    where = ".".join(str(p) for p in err["loc"])
                    message = err["msg"].removeprefix("Value error, ")
                    self.error(file, line, f"overrides.{rule_id}.{where}: {message}", rule_id)
                continue
            raw = target.raw
            if "when" in patch:
                raw = LineDict(target.raw)
                raw.line, raw.key_lines = line, {}
                raw["when"] = patch["when"]
            source.rules[rule_id] = Located(patched, Origin(file, line), source.id, raw)
        for i, rule_id in enumerate(spec.disable):
            if rule_id not in source.rules:
                self.error(
                    file, node["disable"].line_of(i), f"disable: no rule {rule_id!r}", rule_id
                )
            else:
                del source.rules[rule_id]


def _rule_at(raw: LineDict, loc: tuple[str | int, ...]) -> str | None:
    if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
        rules = raw.get("rules")
        if isinstance(rules, list) and loc[1] < len(rules) and isinstance(rules[loc[1]], dict):
            value = rules[loc[1]].get("id")
            return str(value) if value is not None else None
    return None


def _include_line(raw: LineDict, pattern: str) -> int:
    include = raw.get("include")
    if isinstance(include, LineList) and pattern in include:
        return include.line_of(include.index(pattern))
    return raw.line_of("include")


def load_source(ref: str | Path = DEFAULT_PACK) -> PackSource:
    """Read a pack and everything it includes or extends.

    Raises PackLoadError when the pack cannot be read at all; problems that
    leave the rest readable are kept in `PackSource.problems` for the compiler.
    """
    reader = _Reader()
    source = reader.load(resolve_pack(ref))
    if source is None:
        raise PackLoadError(reader.errors or [PackError(Path(str(ref)), 0, "pack not loaded")])
    source.problems = reader.errors
    return source
