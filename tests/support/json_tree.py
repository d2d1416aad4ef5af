"""JSON trees for the never-a-500 tests: every value's path, one value swapped, junk of any JSON type."""
from __future__ import annotations

import copy
from collections.abc import Iterator

from hypothesis import strategies as st


def json_values(max_text: int = 12, max_key: int = 8, max_leaves: int = 6, int_bound: int | None = None):
    """Any JSON value (nested lists and objects included) as a hypothesis strategy."""
    ints = st.integers(min_value=-int_bound, max_value=int_bound) if int_bound else st.integers()
    return st.recursive(
        st.none() | st.booleans() | ints | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=max_text),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=max_key), inner, max_size=3),
        max_leaves=max_leaves)


JUNK = json_values()


def paths(node, trail: tuple = ()) -> Iterator[tuple]:
    """Every path (keys and indexes) in a JSON tree, to replace one value at a time."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield trail + (key,)
        yield from paths(value, trail + (key,))


def replace(tree, path: tuple, value):
    """A deep copy of `tree` with the value at `path` swapped for `value`."""
    out = copy.deepcopy(tree)
    target = out
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out
