"""Where dask runs the tiles: the embedded schedulers, a local cluster, a remote one, SLURM.

Every scheduler and cluster started here binds to 127.0.0.1; remote clusters are reached
at the address the user gives.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import dask

from srgan_sci.errors import SrsciError

EMBEDDED = ("threads", "synchronous", "processes")
SLURM_DEFAULTS: dict[str, Any] = {
    "queue": None,
    "cores": 1,
    "processes": 1,
    "memory": "4GB",
    "walltime": "01:00:00",
    "jobs": 1,
    "gpus": 0,
    "job_extra_directives": [],
    "log_directory": None,
}
"""``[slurm]`` options of ``--slurm-config``; ``log_directory`` holds the jobs' ``slurm-*.out``
files (default: SLURM's, the directory ``srsci`` was started in)."""


class SchedulerError(SrsciError, ValueError):
    """A scheduler specification is invalid or the cluster cannot be reached."""


def parse_scheduler(spec: str) -> tuple[str, Any]:
    """Split ``threads|synchronous|processes|local:N|tcp://host:port|slurm`` into kind, argument."""
    if spec in EMBEDDED:
        return spec, None
    if spec.startswith("local:"):
        count = spec.removeprefix("local:")
        if not count.isdigit() or int(count) < 1:
            raise SchedulerError(f"local:N needs a positive worker count, got {spec!r}")
        return "local", int(count)
    if spec.startswith("tcp://"):
        return "tcp", spec
    if spec == "slurm":
        return "slurm", None
    raise SchedulerError(
        f"unknown scheduler {spec!r}; use threads, synchronous, processes, local:N, "
        "tcp://host:port or slurm"
    )


def slurm_options(path: str | Path | None) -> dict[str, Any]:
    """SLURM options: :data:`SLURM_DEFAULTS` updated by the ``[slurm]`` table of ``path``."""
    options = dict(SLURM_DEFAULTS)
    if path is None:
        return options
    path = Path(path)
    if not path.is_file():
        raise SchedulerError(f"{path}: SLURM config file not found")
    try:
        table = tomllib.loads(path.read_text()).get("slurm", {})
    except tomllib.TOMLDecodeError as error:
        raise SchedulerError(f"{path}: not valid TOML ({error})") from error
    unknown = sorted(set(table) - set(SLURM_DEFAULTS))
    if unknown:
        raise SchedulerError(f"{path}: unknown [slurm] options {', '.join(unknown)}")
    return options | table


@contextmanager
def dask_scheduler(spec: str, *, slurm_config: str | Path | None = None) -> Iterator[str]:
    """Run the enclosed dask computations on the scheduler named by ``spec``.

    Yields a short description (``"threads"``, the cluster's dashboard-free address...).
    """
    kind, argument = parse_scheduler(spec)
    if kind in EMBEDDED:
        with dask.config.set(scheduler=kind):
            yield kind
        return
    import distributed

    with ExitStack() as stack:
        if kind == "local":
            cluster = stack.enter_context(
                distributed.LocalCluster(
                    n_workers=argument,
                    threads_per_worker=1,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    processes=True,
                )
            )
            client = stack.enter_context(distributed.Client(cluster))
        elif kind == "tcp":
            try:
                client = stack.enter_context(distributed.Client(argument, timeout="20s"))
            except OSError as error:
                raise SchedulerError(f"cannot reach dask scheduler {argument}: {error}") from error
        else:
            client = stack.enter_context(_slurm_client(stack, slurm_options(slurm_config)))
        yield client.scheduler.address


@contextmanager
def _slurm_client(stack: ExitStack, options: dict[str, Any]) -> Iterator[Any]:
    """A client of a dask-jobqueue SLURMCluster scaled to ``options["jobs"]`` jobs."""
    import sys

    import distributed

    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as error:
        raise SchedulerError(
            "--scheduler slurm needs dask-jobqueue: pip install srgan_sci[hpc]"
        ) from error
    extra = list(options["job_extra_directives"])
    if options["gpus"]:
        extra.append(f"--gres=gpu:{options['gpus']}")
    cluster = stack.enter_context(
        SLURMCluster(
            queue=options["queue"],
            cores=options["cores"],
            processes=options["processes"],
            memory=options["memory"],
            walltime=options["walltime"],
            job_extra_directives=extra,
            log_directory=options["log_directory"],
            interface="lo",
            scheduler_options={"interface": "lo", "dashboard_address": "127.0.0.1:0"},
            python=sys.executable,
        )
    )
    cluster.scale(jobs=options["jobs"])
    client = stack.enter_context(distributed.Client(cluster))
    client.wait_for_workers(1, timeout=300)
    yield client
