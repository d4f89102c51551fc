"""YAML files people write (table mappings, connectors): parsed with the line of every key.

Both kinds of files are checked key by key, and an error names the line a user finds in
their editor: :func:`parse_yaml` returns the document and that line map.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cohesion.errors import InputFileError


def parse_yaml(path: Path | str, text: str,
               loader: type[yaml.SafeLoader] = yaml.SafeLoader
               ) -> tuple[Any, dict[tuple[Any, ...], int]]:
    r"""The document of ``text`` and the 1-based line of each key path.

    A key path is a tuple of mapping keys and list positions; ``()`` is the document.

    Raises
    ------
    InputFileError
        When ``text`` is not valid YAML (with the line of the problem).

    Examples
    --------
    >>> data, lines = parse_yaml("m.yaml", "a: 1\nb:\n  - x\n  - y\n")
    >>> data, lines[("b", 1)]
    ({'a': 1, 'b': ['x', 'y']}, 4)
    """
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        raise InputFileError(path, f"YAML non valide : {problem}",
                             None if mark is None else mark.line + 1) from None
    lines: dict[tuple[Any, ...], int] = {}

    def walk(current: yaml.Node, key: tuple[Any, ...]) -> None:
        lines.setdefault(key, current.start_mark.line + 1)
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                lines[(*key, key_node.value)] = key_node.start_mark.line + 1
                walk(value_node, (*key, key_node.value))
        elif isinstance(current, yaml.SequenceNode):
            for position, item in enumerate(current.value):
                walk(item, (*key, position))

    if node is not None:
        walk(node, ())
    return data, lines
