"""The Examples sections of the public docstrings run and print what they claim."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import detkit

PUBLIC_MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(detkit.__path__, "detkit.")
    if not name.split(".")[-1].startswith("_") and name != "detkit.cli"
)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    with np.printoptions(legacy=False):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                                 extraglobs={"np": np}, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


def test_every_public_function_has_a_docstring_with_an_example():
    missing = [name for name in detkit.ops.__all__ if "Examples" not in (getattr(detkit.ops, name).__doc__ or "")]
    assert not missing, f"public functions without an Examples section: {missing}"
