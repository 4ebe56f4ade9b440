"""Re-price a partitioned claims dataset (``engine.dataset``) under two policies, partition by partition.

Each partition holds every claim of its persons, so the running annual caps (B9, B10) computed inside
one partition are the caps of the whole year: the dataset never has to be in memory at once. Worker
processes (``workers``; forked, so they share the loaded policy tables) each take one partition at a
time — read its columns with DuckDB, adjudicate twice, add up the totals — and send back only the
totals, a few hundred integers. Peak memory is about ``workers`` × one partition's working set.

``check_sample`` persons per partition (drawn with a seeded generator) are also replayed through the
scalar engine (``engine.check``) from their fee items, under both policies, and every fen field of
every one of their claims is compared with the batch engine's result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing import get_context
from pathlib import Path

import duckdb
import numpy as np

from yidi.domain.catalog import FeeItem
from yidi.domain.kinds import BENEFIT_KINDS
from yidi.domain.policy import PolicyBook
from yidi.engine.adjudicate import ERRORS, Adjudication, adjudicate
from yidi.engine.check import ScalarClaim, scalar_replay
from yidi.engine.dataset import Manifest, Partition, PartitionClaims, read_items, read_partition
from yidi.engine.simulate import Totals, check_vocabularies
from yidi.engine.tables import MED_TYPES, PolicyTables


@dataclass
class Repricing:
    totals: Totals = field(default_factory=Totals)
    partitions: int = 0
    read_seconds: float = 0.0  # summed over workers (CPU-side time, not wall time)
    adjudicate_seconds: float = 0.0
    checked_persons: int = 0
    checked_claims: int = 0  # claims compared (each under both policies)
    mismatched: int = 0  # (claim, policy) pairs where any fen field differs
    mismatches: list[str] = field(default_factory=list)  # the first few, described

    def merge(self, part: "Repricing") -> None:
        self.totals.merge(part.totals)
        self.partitions += part.partitions
        self.read_seconds += part.read_seconds
        self.adjudicate_seconds += part.adjudicate_seconds
        self.checked_persons += part.checked_persons
        self.checked_claims += part.checked_claims
        self.mismatched += part.mismatched
        self.mismatches += part.mismatches[:max(0, 20 - len(self.mismatches))]


@dataclass
class _Job:
    folder: Path
    manifest: Manifest
    baseline: tuple[PolicyBook, PolicyTables]
    changed: tuple[PolicyBook, PolicyTables]
    check_sample: int
    seed: int


_JOB: _Job | None = None  # set before the workers fork, so they inherit the policy tables
_CONNECTION: duckdb.DuckDBPyConnection | None = None  # one per worker process, reused for every partition


def _start_worker() -> None:
    """Worker set-up. Every partition allocates and frees the same few arrays of a few MB; by default
    glibc gives such blocks back to the kernel (mmap threshold, heap trimming) and faults them in again
    for the next partition, which cost about a third of the CPU time in page faults (measured: system time
    130 → 50 ns per claim). Keeping them in the process's heap is worth it in a short-lived worker."""
    global _CONNECTION
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 << 20)  # M_MMAP_THRESHOLD: blocks below 256 MB come from the heap
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: keep up to 1 GB of freed heap
    except (OSError, AttributeError):  # not glibc: the defaults are correct, only slower
        pass
    _CONNECTION = duckdb.connect(config={"threads": 1})


def reprice_partition(index: int) -> Repricing:
    job = _JOB
    assert job is not None
    partition = job.manifest.partitions[index]
    out = Repricing(partitions=1)
    con = _CONNECTION or duckdb.connect(config={"threads": 1})
    try:
        started = time.perf_counter()
        part = read_partition(job.folder, job.manifest, partition, job.baseline[1], con,
                              totals_only=not job.check_sample)
        read = time.perf_counter()
        claims = part.claims
        before = adjudicate(claims, job.baseline[1])
        after = adjudicate(claims, job.changed[1], same_claims=before)
        med_type, med_names = claims.med_type, MED_TYPES
        if len(med_type) and med_type.min() < 0:  # a med_type the policy does not know: its own group, "?"
            med_type, med_names = med_type + 1, ("?", *MED_TYPES)
        out.totals.add(0, (partition.region,), med_type, med_names, claims.hospital_level, before, after)
        out.read_seconds, out.adjudicate_seconds = read - started, time.perf_counter() - read
        if job.check_sample:
            _check(job, index, partition, part, before, after, con, out)
    finally:
        if con is not _CONNECTION:
            con.close()
    return out


def _check(job: _Job, index: int, partition: Partition, part: PartitionClaims, before: Adjudication,
           after: Adjudication, con: duckdb.DuckDBPyConnection, out: Repricing) -> None:
    persons = np.unique(part.claims.person)
    rng = np.random.default_rng([job.seed, index])
    chosen = rng.choice(persons, size=min(job.check_sample, len(persons)), replace=False)
    rows = np.flatnonzero(np.isin(part.claims.person, chosen))
    items = read_items(job.folder, partition, part.claim_no[rows], con)
    bounds = np.searchsorted(items["claim_no"], part.claim_no[rows], side="left"), \
        np.searchsorted(items["claim_no"], part.claim_no[rows], side="right")
    vocab, tables = job.manifest.vocabularies, job.baseline[1]
    code_text = lambda names, code: names[code] if code >= 0 else ""  # noqa: E731
    c = part.claims
    scalar_claims = [ScalarClaim(
        int(part.person_no[r]), partition.region, code_text(tables.insutypes, c.insutype[r]),
        vocab["treatment"][part.treatment[r]], int(c.hospital_level[r]), code_text(MED_TYPES, c.med_type[r]),
        code_text(tables.diseases, c.disease[r]) or None, np.datetime64(int(c.discharge_day[r]), "D").item(),
        code_text(BENEFIT_KINDS, c.benefit_kind[r]),
        tuple(FeeItem(vocab["item_code"][int(items["item_code"][j])], int(items["amount_fen"][j]),
                      qty=_qty(int(items["qty_milli"][j])))
              for j in range(bounds[0][k], bounds[1][k])))
        for k, r in enumerate(rows)]
    for name, (book, _), result in (("baseline", job.baseline, before), ("changed", job.changed, after)):
        for k, expected in enumerate(scalar_replay(book, scalar_claims)):
            r = int(rows[k])
            got = ({"error": ERRORS[result.error[r]]} if result.error[r] else result.fields_fen(r))
            if got != expected:
                out.mismatched += 1
                if len(out.mismatches) < 20:
                    out.mismatches.append(f"{partition.folder} claim {int(part.claim_no[r])} ({name}): "
                                          f"engine {got} scalar {expected}")
    out.checked_claims, out.checked_persons = len(rows), len(chosen)


def _qty(milli: int) -> Decimal:
    return Decimal(milli) / 1000


def reprice_dataset(folder: Path, baseline: tuple[PolicyBook, PolicyTables], changed: tuple[PolicyBook, PolicyTables],
                    *, workers: int = 2, check_sample: int = 0, seed: int = 2024,
                    progress: Callable[[int], None] = lambda claims: None) -> Repricing:
    """Every partition under both policies; ``progress`` gets each finished partition's claim count."""
    global _JOB
    check_vocabularies(baseline[1], changed[1])
    manifest = Manifest.read(folder)
    baseline[1].grid.claim_grid(), changed[1].grid.claim_grid()  # built once here, inherited by the workers
    _JOB = _Job(Path(folder), manifest, baseline, changed, check_sample, seed)
    total = Repricing()
    indexes = range(len(manifest.partitions))
    try:
        if workers <= 1:
            for i in indexes:
                part = reprice_partition(i)
                total.merge(part)
                progress(manifest.partitions[i].claims)
        else:
            with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork"),
                                     initializer=_start_worker) as pool:
                for i, part in zip(indexes, pool.map(reprice_partition, indexes)):
                    total.merge(part)
                    progress(manifest.partitions[i].claims)
    finally:
        _JOB = None
    return total
