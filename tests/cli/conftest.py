"""Every command line test runs on its own embedded store."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "data"
    monkeypatch.setenv("DATA_DIR", str(directory))
    monkeypatch.delenv("MONGODB_URL", raising=False)
    return directory
