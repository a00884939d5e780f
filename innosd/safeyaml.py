"""The one way innosd reads a YAML (or other text) file a user can hand it, with limits.

PyYAML's `safe_load` is safe against code execution but not against hostile or damaged
files: an alias bomb of a few hundred bytes expands to billions of nodes once a consumer
(OmegaConf, Hydra) walks it, a 50,000-deep list overflows Python's stack, duplicate keys
are silently merged (the last one wins), and bytes that are not UTF-8 raise a bare
UnicodeDecodeError. `load_yaml` checks, before anything is built:

- size: at most `MAX_YAML_BYTES` (every config innosd ships is under 100 kB);
- encoding: UTF-8, else one line naming the byte offset of the first invalid byte;
- depth: at most `MAX_YAML_DEPTH` nested lists/mappings (configs nest 4-5 levels);
- aliases: the document expanded (each alias counted as the whole node it repeats) has at
  most `MAX_YAML_NODES` nodes, so anchors in a real config still work;
- duplicate keys: refused, naming the line of the second one.

Every problem is one line `FILE: line L, column C: ...` raised as the caller's error class
(a config is a ConfigError, a saved folder's file a DataError). Imports nothing of the
project but `innosd.errors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from innosd.errors import InnosdError

MAX_YAML_BYTES = 2 * 1024 * 1024   # 20x the largest shipped YAML; a 6 MB list took minutes to parse
MAX_YAML_DEPTH = 64                 # far below Python's recursion limit (PyYAML's composer recurses)
MAX_YAML_NODES = 200_000            # expanded nodes; a 293-byte alias bomb expands to 9^9


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting and duplicate keys while composing."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.YAMLError(_at(self.peek_event().start_mark,
                                         f"nested more than {MAX_YAML_DEPTH} levels deep"))
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node)
            except TypeError:  # an unhashable key: SafeLoader names it itself
                break
            if first is not key_node:
                raise yaml.YAMLError(_at(key_node.start_mark, f"duplicate key {key!r} (first at line "
                                                              f"{first.start_mark.line + 1})"))
        return super().construct_mapping(node, deep=deep)


def _at(mark, problem: str) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """Nodes of the document with every alias expanded (memoised: linear in the composed graph)."""
    stack = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        if id(current) in sizes:
            continue
        if isinstance(current, ScalarNode):
            sizes[id(current)] = 1
            continue
        children = ([c for pair in current.value for c in pair] if isinstance(current, MappingNode)
                    else list(current.value) if isinstance(current, SequenceNode) else [])
        if children_done:
            sizes[id(current)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
        else:
            stack.append((current, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
    return sizes[id(node)]


def decode_utf8(data: bytes, where: str, error: type[InnosdError]) -> str:
    """`data` as text; bytes that are not UTF-8 give one line naming the byte offset."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise error(f"{where}: not UTF-8 text: byte 0x{data[err.start]:02x} at byte offset {err.start} "
                    f"({err.reason}); save the file as UTF-8") from None


def read_text(path: Path, error: type[InnosdError], max_bytes: int | None = None) -> str:
    """A text file a user gave us: UTF-8, at most `max_bytes`, unreadable files named in one line."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1) if max_bytes is not None else fh.read()
    except OSError as err:
        raise error(f"{path}: cannot read: {err.strerror or err}") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise error(f"{path}: larger than {max_bytes:,} bytes; not a config innosd reads")
    return decode_utf8(data, str(path), error)


def parse_yaml(text: str, where: str, error: type[InnosdError]) -> Any:
    """Parse YAML text with the limits above; one line `where: line L, column C: problem`."""
    loader = None
    try:
        loader = _LimitedLoader(text)  # its reader refuses non-printable characters at once
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}) > MAX_YAML_NODES:
            raise yaml.YAMLError(f"more than {MAX_YAML_NODES:,} values once its aliases are expanded "
                                 "(an alias bomb?)")
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None)
        message = _at(mark, problem) if problem else (str(err).strip().splitlines() or ["malformed"])[0]
        raise error(f"{where}: malformed YAML: {message}") from None
    finally:
        if loader is not None:
            loader.dispose()


def load_yaml(path: Path, error: type[InnosdError]) -> Any:
    """Read and parse a YAML file with every limit above (the one YAML reader of innosd)."""
    return parse_yaml(read_text(path, error, MAX_YAML_BYTES), str(path), error)
