"""Settings: command-line options merged over `[tool.clipguard]` in the nearest pyproject.toml."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from clipguard import __version__
from clipguard.rule import Rule
from clipguard.rules import all_rules

OPT_IN_PREFIX = "CG9"
KEYS = {
    "select",
    "extend-select",
    "ignore",
    "exclude",
    "extend-exclude",
    "per-file-ignores",
    "respect-gitignore",
}
BOOLEAN_KEYS = {"respect-gitignore"}


class ConfigError(Exception):
    """Invalid configuration or option (exit 2); the message names the key."""


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    fix: bool = False
    unsafe_fixes: bool = False
    respect_gitignore: bool = True
    root: str | None = field(default=None, compare=False)

    def enabled_codes(self) -> frozenset[str]:
        """Codes the selection turns on: select (default: all but opt-in CG9xx) + extend - ignore."""
        codes = [rule.code for rule in all_rules()]
        if self.select:
            chosen = {c for c in codes if _matches(c, self.select)}
        else:
            chosen = {c for c in codes if not c.startswith(OPT_IN_PREFIX)}
        chosen |= {c for c in codes if _matches(c, self.extend_select)}
        return frozenset(c for c in chosen if not _matches(c, self.ignore))

    def enabled_rules(self) -> tuple[type[Rule], ...]:
        codes = self.enabled_codes()
        return tuple(rule for rule in all_rules() if rule.code in codes)

    def ignored_for(self, display_path: str) -> tuple[str, ...]:
        """Selectors that per-file-ignores turns off for this path."""
        rel = display_path
        if self.root:
            rel = os.path.relpath(os.path.abspath(display_path), self.root)
        rel = rel.replace(os.sep, "/")
        name = os.path.basename(rel)
        return tuple(
            code
            for pattern, codes in self.per_file_ignores
            if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(name, pattern)
            for code in codes
        )

    def fingerprint(self) -> str:
        """Hash of everything that changes findings: the cache key's config part."""
        data = asdict(self)
        for key in (
            "root",
            "fix",
            "unsafe_fixes",
        ):  # they change what is applied, not what is found
            data.pop(key)
        data["version"] = __version__
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def _matches(code: str, selectors: tuple[str, ...]) -> bool:
    return any(s == "ALL" or code.startswith(s) for s in selectors)


def validate_selectors(selectors: tuple[str, ...], key: str) -> tuple[str, ...]:
    codes = [rule.code for rule in all_rules()]
    normalized = []
    for selector in selectors:
        s = selector.strip().upper()
        if not s:
            continue
        if s != "ALL" and not any(c.startswith(s) for c in codes):
            raise ConfigError(f"{key}: unknown rule selector '{selector}'")
        normalized.append(s)
    return tuple(normalized)


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start` that has a [tool.clipguard] table."""
    for directory in [start, *start.parents]:
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                return candidate  # load_config reports it
            if "clipguard" in data.get("tool", {}):
                return candidate
    return None


def load_config(path: Path) -> dict:
    """The validated `[tool.clipguard]` table of a pyproject.toml (or a clipguard.toml's top level)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("clipguard", {}) if path.name == "pyproject.toml" else data
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.clipguard] must be a table")
    config: dict = {}
    for key, value in table.items():
        name = key.replace("_", "-")
        where = f"{path}: tool.clipguard.{key}"
        if name not in KEYS:
            raise ConfigError(f"{where}: unknown key (expected one of {', '.join(sorted(KEYS))})")
        if name in BOOLEAN_KEYS:
            if not isinstance(value, bool):
                raise ConfigError(f"{where}: must be true or false")
            config[name] = value
            continue
        if name == "per-file-ignores":
            if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
            ):
                raise ConfigError(f"{where}: must be a table of glob = [codes]")
            config[name] = tuple(
                (glob, validate_selectors(tuple(codes), where)) for glob, codes in value.items()
            )
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: must be a list of strings")
        if name in {"select", "extend-select", "ignore"}:
            value = validate_selectors(tuple(value), where)
        config[name] = tuple(value)
    return config


def build_settings(
    *,
    config_file: str | None,
    select: tuple[str, ...] = (),
    extend_select: tuple[str, ...] = (),
    ignore: tuple[str, ...] = (),
    fix: bool = False,
    unsafe_fixes: bool = False,
    cwd: Path | None = None,
    exclude: tuple[str, ...] | None = None,
    extend_exclude: tuple[str, ...] = (),
    respect_gitignore: bool | None = None,
) -> Settings:
    """Merge the configuration file with command-line options (the command line wins): `exclude`
    replaces the file's `exclude`, `extend_exclude` adds to both, as ruff's options do."""
    cwd = cwd or Path.cwd()
    path = Path(config_file) if config_file else find_pyproject(cwd)
    config = load_config(path) if path else {}
    root = str(path.resolve().parent) if path else str(cwd)
    return Settings(
        select=validate_selectors(select, "--select") or config.get("select", ()),
        extend_select=config.get("extend-select", ())
        + validate_selectors(extend_select, "--extend-select"),
        ignore=config.get("ignore", ()) + validate_selectors(ignore, "--ignore"),
        exclude=(config.get("exclude", ()) if exclude is None else exclude)
        + config.get("extend-exclude", ())
        + extend_exclude,
        per_file_ignores=config.get("per-file-ignores", ()),
        fix=fix,
        unsafe_fixes=unsafe_fixes,
        respect_gitignore=config.get("respect-gitignore", True)
        if respect_gitignore is None
        else respect_gitignore,
        root=root,
    )
