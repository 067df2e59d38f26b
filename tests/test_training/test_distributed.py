import json
import subprocess
import sys


def test_two_process_ddp_on_gloo_keeps_replicas_identical(pairs_path, tiny_options, tmp_path):
    options = tiny_options(pairs_path, tmp_path / "ddp")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
        "--master_addr", "127.0.0.1", "--master_port", "29517",
        "-m", "srgan_sci.cli.main", "train", "--data", options["data"], "--out", options["out"],
        "--steps", "2", "--batch-size", "2", "--patch-size", "12", "--channels", "8",
        "--blocks", "1", "--device", "cpu", "--no-progress",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = json.loads((tmp_path / "ddp" / "model" / "model.json").read_text())
    training = metadata["metadata"]["training"] if "metadata" in metadata else metadata["training"]
    assert training["world_size"] == 2
    first, second = training["rank_checksums"]
    assert first == second
