import subprocess
import sys

import pytest


@pytest.fixture
def srsci():
    """Run the installed CLI in a subprocess, as a user would."""

    def run(*args: str, check_rc: int | None = 0) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "srgan_sci.cli.main", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check_rc is not None:
            assert result.returncode == check_rc, result.stderr
        return result

    return run
