"""The build config lists every subpackage, and the CLI installs as srgan_sci.cli."""

import subprocess
import sys
import tomllib
from pathlib import Path

import srgan_sci

ROOT = Path(__file__).resolve().parents[1]


def _configured_packages() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(config["tool"]["setuptools"]["packages"])


def test_every_subpackage_is_listed_in_pyproject():
    on_disk = {"srgan_sci"}
    for init in (ROOT / "srgan_sci").rglob("__init__.py"):
        relative = init.parent.relative_to(ROOT)
        on_disk.add(".".join(relative.parts))
    on_disk.add("srgan_sci.cli")
    assert on_disk == _configured_packages()


def test_cli_is_mapped_under_srgan_sci_not_top_level():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["package-dir"] == {"srgan_sci.cli": "cli"}
    assert "cli" not in _configured_packages()
    import srgan_sci.cli.main as cli_main

    assert Path(cli_main.__file__).resolve().parent == ROOT / "cli"


def test_console_script_reports_version():
    result = subprocess.run(
        [sys.executable, "-c", "from srgan_sci.cli.main import main; main(['--version'])"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0
    assert result.stdout.strip() == f"srsci {srgan_sci.__version__}"


def test_test_module_names_are_unique():
    """pytest imports test files by basename (no __init__.py): duplicates fail collection."""
    names = [path.name for path in (ROOT / "tests").rglob("test_*.py")]
    assert sorted(names) == sorted(set(names))


def test_bundled_models_ship_as_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["srgan_sci.zoo"]
    assert {"*/model.json", "*/model.safetensors", "*/MODEL_CARD.md", "recipes/*.toml"} <= set(
        patterns
    )
