"""Train a bundled default model from its recipe: ``python -m benchmarks.train_zoo NAME``.

The recipe ``srgan_sci/zoo/recipes/NAME.toml`` holds every ``srsci train`` option plus a
list of ``[[simulate]]`` runs that make its training data: synthetic scenes (``scene``) or
scikit-image sample photographs (``samples = ["camera", ...]``, written as float32 grey
TIFFs into ``--work`` first, never the real images a model card evaluates on).  This
script runs those simulations into ``--work`` (default ``zoo-work/``), trains, and stores
the EMA generator with float16 weights in ``srgan_sci/zoo/NAME/`` (``--install``).

Equivalent shell commands, for one simulate entry and the training::

    srsci simulate --scene galaxies --preset ground-seeing --size 2048 --seed 41 \
        --out zoo-work/astro-x4/pairs-0.zarr
    srsci train --config srgan_sci/zoo/recipes/astro-x4.toml \
        --data zoo-work/astro-x4/pairs-0.zarr ... --out zoo-work/astro-x4/run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from srgan_sci.models.bundle import load_bundle, save_bundle
from srgan_sci.simulate import SimulateConfig, simulate_pairs
from srgan_sci.training.config import TrainConfig, load_toml
from srgan_sci.training.loop import train
from srgan_sci.zoo import RECIPES_DIR, ZOO_DIR

EVALUATION_IMAGES = frozenset({"hubble_deep_field", "cell", "moon"})
"""scikit-image samples the model cards evaluate on: never training data."""


def sample_tiff(name: str, folder: Path) -> str:
    """Write scikit-image sample ``name`` as a float32 grey TIFF in ``folder``; its path."""
    import tifffile
    from skimage import color, data

    if name in EVALUATION_IMAGES:
        raise ValueError(f"{name!r} is an evaluation image of the model cards, not training data")
    path = folder / f"{name}.tif"
    if not path.exists():
        image = getattr(data, name)()
        if image.ndim == 3:
            image = color.rgb2gray(image[..., :3])
        image = np.asarray(image, dtype=np.float32)
        image /= max(float(image.max()), 1e-12)
        folder.mkdir(parents=True, exist_ok=True)
        tifffile.imwrite(path, image)
    return str(path)


def simulate_data(name: str, runs: list[dict], work: Path) -> list[str]:
    """Make (or reuse) the pairs datasets of a recipe; returns their paths."""
    paths = []
    for index, options in enumerate(runs):
        out = work / f"pairs-{index}.zarr"
        options = dict(options)
        samples = options.pop("samples", [])
        inputs = [sample_tiff(sample, work / "samples") for sample in samples]
        if samples:
            options.setdefault("crop", True)  # photographs need not be multiples of the scale
        if not out.exists():
            simulate_pairs(SimulateConfig(out=str(out), progress=False, inputs=inputs, **options))
        paths.append(str(out))
    return paths


def main(argv: list[str] | None = None) -> None:
    """Simulate, train and install one zoo model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="recipe name, e.g. astro-x4")
    parser.add_argument("--work", default="zoo-work", help="folder for data and the run")
    parser.add_argument("--steps", type=int, help="override pretrain_steps (smoke runs)")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument(
        "--install-only", action="store_true", help="install the finished run in --work as is"
    )
    parser.add_argument(
        "--install", action="store_true", help="copy the result into srgan_sci/zoo/NAME"
    )
    args = parser.parse_args(argv)

    options = load_toml(RECIPES_DIR / f"{args.name}.toml")
    runs = options.pop("simulate")
    work = Path(args.work) / args.name
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    options["data"] = simulate_data(args.name, runs, work)
    options["out"] = str(work / "run")
    options["progress"] = False
    if args.steps is not None:
        options["pretrain_steps"] = args.steps
    config = TrainConfig.from_dict(options)
    if args.install_only:
        bundle = Path(options["out"]) / "model"
        record = json.loads((bundle / "model.json").read_text())
        _install(args.name, bundle, runs, record["metadata"]["training"]["seconds_this_session"])
        return
    result = train(config, resume=args.resume)
    seconds = time.perf_counter() - started
    summary = {"name": args.name, "seconds": round(seconds, 1), **(result.last_validation or {})}
    print(json.dumps(summary))
    if args.install and result.bundle is not None:
        _install(args.name, result.bundle, runs, seconds)


def _install(name: str, bundle: Path, runs: list[dict], seconds: float) -> None:
    """Store a trained bundle as zoo model ``name`` with float16 weights and its recipe."""
    generator, metadata = load_bundle(bundle)
    training = dict(metadata.training) | {
        "recipe": f"srgan_sci/zoo/recipes/{name}.toml",
        "simulate": runs,
        "wall_seconds": round(seconds, 1),
    }
    metadata = type(metadata)(**{**metadata.__dict__, "training": training, "name": name})
    card = ZOO_DIR / name / "MODEL_CARD.md"
    card_text = card.read_text() if card.exists() else None
    target = save_bundle(ZOO_DIR / name, generator, metadata, half=True, overwrite=True)
    if card_text is not None:  # stale until `python -m benchmarks.model_cards NAME --write-cards`
        card.write_text(card_text)
    print(f"installed {target}")


if __name__ == "__main__":
    main()
