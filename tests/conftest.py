"""Shared test fixtures."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def load_script():
    """Imports a script of the repository (recipes/, benchmarks/) by its path from the root."""

    def load(*parts):
        path = os.path.join(ROOT, *parts)
        name = os.path.splitext(parts[-1])[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return load
