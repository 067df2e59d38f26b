"""The notebooks in ``notebooks/``: stored without outputs, in sync with their generator,
and executed top to bottom by a real Jupyter kernel.

Kernel choice: the notebooks name the ``python3`` kernel.  Which interpreter that runs
depends on the kernel specs Jupyter finds, and a user-level ``python3`` spec (say, from
another Python) would shadow the one ipykernel installs in this environment.  The tests
therefore write a ``python3`` spec for *this* interpreter (``sys.executable``) into a
temporary prefix and put it first on ``JUPYTER_PATH``, the highest-priority search path:
the kernel always has srgan_sci installed, and nothing outside the temporary folder is
touched (``install(user=True)`` would overwrite the user's own spec).
"""

import runpy
import sys
from pathlib import Path

import nbformat
import pytest
from ipykernel.kernelspec import install
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
ANALYSIS = NOTEBOOK_DIR / "analysis.ipynb"


@pytest.fixture(scope="module")
def python3_kernel(tmp_path_factory):
    """A ``python3`` kernel spec running this interpreter, first on ``JUPYTER_PATH``."""
    prefix = tmp_path_factory.mktemp("jupyter")
    install(kernel_name="python3", prefix=str(prefix))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("JUPYTER_PATH", str(prefix / "share" / "jupyter"))
        # As in CI (.ci/run): the notebooks must still show their figures inline.
        patch.setenv("MPLBACKEND", "Agg")
        spec = KernelSpecManager().get_kernel_spec("python3")
        assert spec.argv[0] == sys.executable
        yield


@pytest.fixture(scope="module")
def execute(python3_kernel, tmp_path_factory):
    """Execute a notebook once per module, in a fresh working folder; return it."""
    done = {}

    def run(path: Path) -> nbformat.NotebookNode:
        if path not in done:
            notebook = nbformat.read(path, as_version=4)
            workdir = tmp_path_factory.mktemp(path.stem)
            client = NotebookClient(
                notebook,
                timeout=600,
                kernel_name="python3",
                resources={"metadata": {"path": str(workdir)}},
            )
            client.execute()  # raises CellExecutionError on the first failing cell
            done[path] = notebook
        return done[path]

    return run


def _outputs(notebook):
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return [output for cell in code for output in cell.outputs]


def _text(notebook) -> str:
    parts = []
    for output in _outputs(notebook):
        if output.output_type == "stream":
            parts.append(output.text)
        parts.append(output.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


def test_notebooks_exist():
    assert ANALYSIS in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: outputs stored; run nbstripout"
            assert cell.execution_count is None, f"{path.name}: execution count stored"
    assert "widgets" not in notebook.metadata


def test_analysis_notebook_matches_its_generator():
    build = runpy.run_path(str(NOTEBOOK_DIR / "build_analysis.py"))["build_notebook"]
    stored = ANALYSIS.read_text(encoding="utf-8")
    assert nbformat.writes(build()).rstrip("\n") == stored.rstrip("\n"), (
        "notebooks/analysis.ipynb is out of date: run python notebooks/build_analysis.py"
    )


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_executes(path, execute):
    notebook = execute(path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    assert not [output for output in _outputs(notebook) if output.output_type == "error"]


@pytest.mark.slow
def test_analysis_notebook_shows_the_metrics_table_and_figures(execute):
    notebook = execute(ANALYSIS)
    tables = [
        output.data["text/html"]
        for output in _outputs(notebook)
        if "srsci-metrics" in output.get("data", {}).get("text/html", "")
    ]
    assert len(tables) == 1
    for heading in ("PSNR", "SSIM", "χ²/pixel"):
        assert heading in tables[0]
    for method in ("astro-x4", "bicubic", "lanczos", "richardson-lucy"):
        assert f"<th>{method}</th>" in tables[0]
    # 4 inline matplotlib figures (despite MPLBACKEND=Agg) + the panels and consistency PNGs.
    images = [output for output in _outputs(notebook) if "image/png" in output.get("data", {})]
    assert len(images) == 6
    text = _text(notebook)
    assert "chi2/pixel" in text
    assert "fifth of pixels by spread" in text
    assert "notebook ran in" in text
