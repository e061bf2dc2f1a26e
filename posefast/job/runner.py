"""The batch job behind ``posefast run``: two stages of processes and the plan that sizes them.

Preparation processes (``preparation.py``: read, decode, resize; videos decoded
there too, each by one process, sequentially) write network inputs into
shared-memory slots (``slots.py``); few inference processes (``inference.py``)
run them through the network in batches; the scheduler (``scheduler.py``) in the
main process hands out work, retries what a dead or overrunning process held, and
emits the records in input order. ``Runner`` puts these together; ``plan_job``
chooses the number of processes, threads and the batch size from the cores and
the backend.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..backend import InputSpec
from ..config import Config
from ..reading.images import DEFAULT_MAX_PIXELS
from ..runtime_logs import verbose
from . import forkserver
from .inference import inference_main
from .plan import MAX_BATCH, MAX_PROCESSES, available_cores, with_backend_threads
from .preparation import preparation_main
from .scheduler import PER_INFER, PER_PREP, VIDEO_CREDITS, Scheduler
from .slots import SHM_FOLDER, SlotPool, shm_free_bytes
from .tasks import JobAborted, RunStats, Task, WorkerStartError

#: Seconds one input (or one frame, or one image of a batch) may take in a process
#: before the process is taken for hung, killed and replaced.
DEFAULT_TIME_LIMIT = 120.0
#: Deaths allowed within ``DEATH_WINDOW`` seconds, per process of the job, plus a few.
DEATHS_PER_PROCESS = 2
DEATH_WINDOW = 60.0

__all__ = ["Runner", "Plan", "plan_job", "Task", "RunStats", "WorkerStartError", "JobAborted",
           "SharedMemoryTooSmall", "available_cores", "DEFAULT_TIME_LIMIT"]


@dataclass(frozen=True)
class Plan:
    """How a job uses the machine: ``workers`` inference processes with ``threads``
    threads each (None: the backend's own choice), ``preparers`` preparation
    processes, ``batch_size`` images per network call; ``chosen`` names what was
    chosen from the machine rather than given."""

    workers: int
    threads: int | None
    preparers: int
    batch_size: int
    cores: int
    exclusive: bool  # the inference processes share one device (a GPU)
    chosen: tuple[str, ...] = ()
    #: Images in flight (shared-memory slots): None, as many as the processes can use
    #: (``slots_wanted``); fewer where /dev/shm holds no more (``plan_job``'s ``spec``).
    slots: int | None = None

    def describe(self) -> str:
        threads = f" x {self.threads} thread{'s' if self.threads != 1 else ''}" \
            if self.threads else ""
        device = (", " + ("sharing" if self.workers > 1 else "owning") + " the device"
                  if self.exclusive else "")
        line = (f"{self.workers} inference process{'es' if self.workers != 1 else ''}{threads}"
                f"{device}, {self.preparers} preparation process"
                f"{'es' if self.preparers != 1 else ''}, batches of {self.batch_size}")
        if self.chosen:
            line += f" ({', '.join(self.chosen)} chosen for {self.cores} cores)"
        wanted = slots_wanted(self.preparers, self.workers, self.batch_size)
        if self.slots is not None and self.slots < wanted:
            line += (f"; {self.slots} images in flight, not {wanted}: {SHM_FOLDER} holds "
                     f"no more")
        return line


#: Fewest images in flight a job runs with: one being prepared while one is posed.
MIN_SLOTS = 2
#: Bytes of /dev/shm left to others (the semaphores of the job's pipes, other programs).
SHM_MARGIN = 1 << 20


def slots_wanted(preparers: int, workers: int, batch_size: int) -> int:
    """The images in flight that keep every process busy: each preparation process's
    tasks (or a video's credits), each inference process's batches, and a spare pair."""
    return preparers * max(PER_PREP, VIDEO_CREDITS) + workers * PER_INFER * batch_size + 2


class SharedMemoryTooSmall(ValueError):
    """/dev/shm cannot hold even the fewest images a job runs with; says what to do."""


def fit_slots(wanted: int, spec: InputSpec, free: int | None) -> int:
    """The images in flight, at most ``wanted``, that ``free`` bytes of shared memory
    hold (None: not known, ``wanted``), each a network input of ``spec``. Raises
    SharedMemoryTooSmall naming /dev/shm and the options that need less."""
    import numpy as np

    one = spec.height * spec.width * 3 * np.dtype(spec.dtype).itemsize
    if free is None or wanted * one <= free - SHM_MARGIN:
        return wanted
    fit = max(0, free - SHM_MARGIN) // one
    if fit >= MIN_SLOTS:
        return min(wanted, fit)
    raise SharedMemoryTooSmall(
        f"{SHM_FOLDER} has {_mb(free)} free: too little for the job's shared memory, where "
        f"each image in flight takes {_mb(one)} (the {spec.height}x{spec.width} network "
        f"input) and the job needs room for at least {MIN_SLOTS} ({wanted} with this plan). "
        f"Give {SHM_FOLDER} more room (Docker: --shm-size=1g), or choose a smaller "
        f"--input-size; fewer --workers, --preparers and a smaller --batch-size need "
        f"fewer images in flight")


def _mb(n: int) -> str:
    return f"{n / 2 ** 20:.1f} MB"


def plan_job(config: Config, *, workers: int | None = None, preparers: int | None = None,
             batch_size: int | None = None, cores: int | None = None,
             inputs: int | None = None, spec: InputSpec | None = None,
             shm_free: Callable[[], int | None] = shm_free_bytes) -> Plan:
    """The plan for ``config`` on ``cores`` cores (default: those this process may use)
    and ``inputs`` images (None: not known, videos among them), each kind of
    process at most one per input. Given the network input ``spec``, the images in
    flight are fitted to the shared memory ``shm_free()`` says is free (bytes; None:
    not known): fewer, or SharedMemoryTooSmall (a ValueError) where not even
    ``MIN_SLOTS`` fit.

    A backend on a device (``Backend.job_defaults``: a GPU) gets the few inference
    processes it asks for, at most one per 4 cores; CPU backends one per core with
    the cores shared out as threads. Preparation gets a process per core: they wait
    when they are ahead (the slots are full), so they cost nothing then. The batch
    size is the backend's measured default.
    """
    from ..backend_registry import get_backend_class

    cls = get_backend_class(config.backend)
    cores = cores or available_cores()
    on_device, default_batch = cls.job_defaults(dict(config.backend_options))
    exclusive = int(on_device) > 0
    chosen = []
    if workers is None:
        # Each process on the device keeps about a core busy with host work (copies,
        # the runtime's share, decoding); preparation needs the other cores.
        workers = min(int(on_device), max(1, cores // 4)) if exclusive else cores
        chosen.append("workers")
    if preparers is None:
        preparers = cores
        chosen.append("preparers")
    if batch_size is None:
        batch_size = default_batch
        chosen.append("batch size")
    if inputs is not None and inputs >= 1:
        # no more processes than inputs: the others would start only to wait
        workers, preparers = min(workers, inputs), min(preparers, inputs)
    threads_option = getattr(cls, "threads_option", None)
    threads = config.backend_options.get(threads_option) if threads_option else None
    if threads_option and threads is None:
        threads = 1 if exclusive else max(1, cores // workers)
        chosen.append("threads")
    for name, value, most in (("workers", workers, MAX_PROCESSES),
                              ("preparers", preparers, MAX_PROCESSES),
                              ("batch_size", batch_size, MAX_BATCH)):
        if not 1 <= value <= most:
            raise ValueError(f"{name} must be between 1 and {most}, got {value}")
    slots = None
    if spec is not None:
        slots = fit_slots(slots_wanted(preparers, workers, batch_size), spec, shm_free())
    return Plan(workers, threads, preparers, batch_size, cores, exclusive, tuple(chosen),
                slots)


class Runner:
    """Runs tasks over the two stages and emits records in input order.

    ``emit(record)`` is called in the main thread, in input order, as soon as a
    record and all before it are done; ``on_progress(stats)`` after each. Call
    ``check()`` first to find a configuration that cannot work (model, backend)
    before any process starts; ``run`` calls it otherwise. A caller that has loaded
    the model already passes its ``spec`` (the backend's input), and the model is
    not loaded again here.
    """

    def __init__(self, config: Config, *, plan: Plan | None = None,
                 max_pixels: int = DEFAULT_MAX_PIXELS,
                 time_limit: float = DEFAULT_TIME_LIMIT,
                 emit: Callable[[dict[str, Any]], None],
                 on_progress: Callable[[RunStats], None] | None = None,
                 death_window: float = DEATH_WINDOW, spec: InputSpec | None = None) -> None:
        if not time_limit > 0:
            raise ValueError(f"time_limit must be > 0 seconds, got {time_limit}")
        self.plan = plan or plan_job(config)
        self.config = (config if self.plan.threads is None
                       else with_backend_threads(config, self.plan.threads))
        self.max_pixels = max_pixels
        self.time_limit = time_limit
        self.death_window = death_window
        self.emit = emit
        self.on_progress = on_progress
        self.stats = RunStats()
        self.spec: InputSpec | None = spec  # None: check() loads the model to find it
        self._backend_module = _backend_module(config)
        self._ctx = forkserver.context(self._backend_module)

    def check(self) -> InputSpec:
        """Load the model on the backend once, here, and return its input spec.

        Raises what creating a ``PoseEstimator`` raises (a missing or invalid model,
        an unusable backend, a bad option), before any process is started.
        """
        # The fork server imports its modules while this process loads the model
        # (started here unless the caller did).
        forkserver.start(self._backend_module)
        if self.spec is None:
            from ..estimator import PoseEstimator

            with PoseEstimator(config=self.config, max_pixels=self.max_pixels) as probe:
                self.spec = probe.input_spec
        return self.spec

    def run(self, tasks: Iterable[Task]) -> RunStats:
        start = time.perf_counter()
        scheduler = None
        pool = None
        graceful = False
        try:
            it = iter(tasks)
            first = next(it, None)
            if first is not None:  # no processes to start when there is nothing to do
                spec = self.check()
                plan = self.plan
                count = plan.slots
                if count is None:
                    try:
                        count = fit_slots(slots_wanted(plan.preparers, plan.workers,
                                                       plan.batch_size),
                                          spec, shm_free_bytes())
                    except SharedMemoryTooSmall as exc:
                        raise JobAborted(str(exc)) from None
                try:
                    pool = SlotPool.create(count, (spec.height, spec.width, 3), spec.dtype)
                except (OSError, OverflowError) as exc:
                    raise JobAborted(
                        f"cannot set aside shared memory ({SHM_FOLDER}) for {count} images "
                        f"of {spec.height}x{spec.width} (what --workers, --batch-size and "
                        f"--preparers ask for): "
                        f"{getattr(exc, 'strerror', None) or exc}") from None
                scheduler = Scheduler(
                    pool=pool, spawn=lambda kind: self._spawn(kind, pool), preparers=plan.preparers,
                    workers=plan.workers, batch_size=plan.batch_size, time_limit=self.time_limit,
                    max_deaths=DEATHS_PER_PROCESS * (plan.workers + plan.preparers) + 3,
                    death_window=self.death_window, emit=self.emit,
                    on_progress=self.on_progress, stats=self.stats)
                scheduler.run(_chain(first, it))
            graceful = True
        finally:
            self.stats.seconds = time.perf_counter() - start
            if scheduler is not None:
                scheduler.shutdown(graceful)
            if pool is not None:
                pool.close()
        return self.stats

    def _spawn(self, kind: str, pool: SlotPool) -> tuple[Any, Any]:
        # A second try (the fork server failed and was started again) gets a pipe of
        # its own: a process the failed server forked may hold the first one.
        for tries in (1, 2):
            parent, child = self._ctx.Pipe(duplex=True)
            proc = self._process(kind, pool, child)
            try:
                forkserver.start_process(proc)
            except forkserver.ForkServerError as exc:
                parent.close()
                child.close()
                if tries == 2:
                    raise JobAborted(f"the job's processes cannot be started: {exc}") from None
                continue
            child.close()  # the process holds its end; EOF here means it is gone
            return proc, parent
        raise AssertionError("unreachable")

    def _process(self, kind: str, pool: SlotPool, child: Any) -> Any:
        # said in so many words: a fork server started before --verbose was read
        # does not pass it on in its environment
        loud = verbose()
        if kind == "preparation":
            target, args = preparation_main, (child, pool.layout, self.spec, self.config.resize,
                                              self.max_pixels, loud)
        else:
            target, args = inference_main, (child, pool.layout, self.config, self.max_pixels,
                                            loud)
        return self._ctx.Process(target=target, args=args, name=f"posefast-{kind}", daemon=True)


def start_fork_server_early(config: Config) -> None:
    """Start the fork server the job's processes will come from (where processes come
    from one), unless it runs already, so that it imports their modules while the
    caller still checks the inputs, the output and the model: the processes cannot
    start before the server is done importing (0.2-0.5 s)."""
    forkserver.start(_backend_module(config))


def _backend_module(config: Config) -> str | None:
    """The module of the configured backend's class, for the fork server to import;
    None when it cannot be loaded (the checks say why, before any process starts)."""
    from ..backend_registry import get_backend_class

    try:
        return get_backend_class(config.backend).__module__
    except Exception:
        return None


def _chain(first: Task, rest: Iterable[Task]):
    yield first
    yield from rest
