"""A partitioned claims dataset: one Parquet file per (insured region, person bucket), person-complete.

Layout (Hive-style, so DuckDB can also read it as one table)::

    DIR/manifest.json
    DIR/insuplc_admdvs=410800/bucket=0003/claims.parquet   one row per claim (cap group, person, discharge day)
    DIR/insuplc_admdvs=410800/bucket=0003/items.parquet    one row per fee item (for the scalar cross-check)

Every claim of a person is in the same partition (the bucket is the person number modulo the region's
bucket count), so running annual caps (B9, B10) can be kept partition by partition and stay exact.
Categories are stored as small integer codes into the vocabularies of the manifest (the dataset's own
dictionary encoding); ``read_partition`` maps them to a ``PolicyTables``' codes with one gather per column.
Amounts are integer fen, INTEGER (int32) when every value fits, else BIGINT; the engine computes in int64.
claims.parquet is LZ4-compressed (read on every simulation: about 30 % faster to decode than zstd for
about 1.6× the bytes), items.parquet zstd (read only by the cross-check).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from yidi.domain.errors import invalid
from yidi.domain.kinds import BENEFIT_KINDS
from yidi.domain.regions import same_province
from yidi.engine.adjudicate import ClaimTable
from yidi.engine.tables import MED_TYPES, PolicyTables

FORMAT = "yidi-claims-dataset/1"
MANIFEST = "manifest.json"
SCOPE_COLUMNS = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt")
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Partition:
    region: str  # insuplc_admdvs
    bucket: int
    buckets: int  # the region's bucket count: person number % buckets == bucket
    claims: int
    persons: int
    first_claim_no: int
    first_person: int  # the region's persons are numbered first_person … stop_person − 1
    stop_person: int

    @property
    def folder(self) -> str:
        return f"insuplc_admdvs={self.region}/bucket={self.bucket:04d}"


@dataclass(frozen=True)
class Manifest:
    claims: int
    persons: int
    seed: int | None
    vocabularies: dict[str, list[str]]  # column -> the text of each code
    partitions: tuple[Partition, ...]

    def write(self, folder: Path) -> None:
        data = {"format": FORMAT, "claims": self.claims, "persons": self.persons, "seed": self.seed,
                "vocabularies": self.vocabularies, "partitions": [vars(p) for p in self.partitions]}
        (folder / MANIFEST).write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> "Manifest":
        path = Path(folder) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise invalid("--claims", f"不是理赔数据集目录（缺少或无法读取 {MANIFEST}）: {exc}") from exc
        if data.get("format") != FORMAT:
            raise invalid("--claims", f"数据集格式 {data.get('format')!r} 不受支持（需要 {FORMAT}）")
        return cls(data["claims"], data["persons"], data.get("seed"), data["vocabularies"],
                   tuple(Partition(**p) for p in data["partitions"]))


def is_dataset(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / MANIFEST).exists()


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def write_table(con: duckdb.DuckDBPyConnection, columns: dict[str, np.ndarray], path: Path, select: str = "*",
                compression: str = "zstd") -> None:
    """numpy columns → one Parquet file; integer columns keep the numpy dtype they were given."""
    numpy_columns = columns  # noqa: F841 - DuckDB scans this dict of numpy arrays by its variable name
    con.execute(f"COPY (SELECT {select} FROM numpy_columns) TO '{_sql_path(path)}' "
                f"(FORMAT parquet, COMPRESSION {compression})")


def fen_column(values: np.ndarray) -> np.ndarray:
    """Amounts in fen as int32 when every value fits (smaller file, faster read), else int64."""
    if len(values) == 0 or (int(values.min()) >= -INT32_MAX and int(values.max()) <= INT32_MAX):
        return values.astype(np.int32)
    return values.astype(np.int64)


@dataclass
class PartitionClaims:
    """What the engine reads of one partition: the ClaimTable, plus per-claim ids for the cross-check."""

    claims: ClaimTable
    claim_no: np.ndarray | None  # None when read for totals only
    treatment: np.ndarray | None  # codes into the manifest's "treatment" vocabulary
    person_no: np.ndarray  # the stored person numbers (``claims.person`` is renumbered densely)


def _code_map(vocabulary: list[str], target: tuple[str, ...]) -> np.ndarray:
    """Dataset code → target code (−1 where the target has no such value). The last slot serves the
    dataset's −1 ("none"), which numpy's ``take`` reads as the last element: one gather, no shift."""
    index = {v: i for i, v in enumerate(target)}
    return np.array([index.get(v, -1) for v in vocabulary] + [-1], dtype=np.int8)


def dense_persons(person: np.ndarray, partition: Partition) -> np.ndarray:
    """Person numbers → small ids in the order of the numbers (the engine's sort key needs as few bits as
    there are persons). A partition's persons are the numbers ≡ bucket (mod buckets), so ``number //
    buckets`` is dense and keeps the order; numbers that break the rule fall back to a sort."""
    if len(person) and bool((person % partition.buckets == partition.bucket).all()):
        dense = person // partition.buckets
        dense -= dense.min()
        return dense
    return np.unique(person, return_inverse=True)[1].reshape(-1)


def read_partition(folder: Path, manifest: Manifest, partition: Partition, tables: PolicyTables,
                   con: duckdb.DuckDBPyConnection | None = None, *, totals_only: bool = False) -> PartitionClaims:
    """One partition's claims in file order, codes mapped to ``tables``.

    ``totals_only`` reads just what fund and personal totals need: the three scope parts that only pass
    through the calculation (fulamt_ownpay_amt, overlmt_selfpay, preselfpay_amt) are then zero, and
    ``claim_no`` is not read (``treatment`` is: it decides the B10 province-only refusal). Codes stay int8 (the engine widens them as it indexes)."""
    own = con is None
    con = con or duckdb.connect(config={"threads": 1})
    path = Path(folder) / partition.folder / "claims.parquet"
    amounts = ("medfee_sumamt", "inscp_scp_amt") if totals_only else SCOPE_COLUMNS
    # the treatment region is read even for totals: it decides the B10 province-only refusal
    ids = "treatment, " if totals_only else "claim_no, treatment, "
    try:
        columns = con.execute(f"""
            SELECT {ids}person, insutype, hospital_level, med_type, disease,
                   endtime - DATE '1970-01-01' AS discharge_day, benefit_kind, {", ".join(amounts)}
            FROM read_parquet('{_sql_path(path)}')""").fetchnumpy()
    except duckdb.Error as exc:
        raise invalid("--claims", f"无法读取分区 {partition.folder}: {exc}") from exc
    finally:
        if own:
            con.close()
    vocab = manifest.vocabularies
    region = tables.regions.index(partition.region) if partition.region in tables.regions else -1

    def mapped(name: str, target: tuple[str, ...]) -> np.ndarray:
        return _code_map(vocab[name], target).take(np.asarray(columns[name]))

    person = np.asarray(columns["person"])
    n = len(person)
    scope = {c: np.asarray(columns[c], dtype=np.int64) for c in amounts}
    zeros = np.zeros(n, np.int64)  # calloc'd: pages are only touched if read
    claims = ClaimTable(
        person=dense_persons(person, partition), region=np.full(n, region, np.int64),
        insutype=mapped("insutype", tables.insutypes), hospital_level=np.asarray(columns["hospital_level"]),
        med_type=mapped("med_type", MED_TYPES), disease=mapped("disease", tables.diseases),
        discharge_day=np.asarray(columns["discharge_day"]), benefit_kind=mapped("benefit_kind", BENEFIT_KINDS),
        **{c: scope.get(c, zeros) for c in SCOPE_COLUMNS},
        cross_province=_cross_province_map(vocab["treatment"], partition.region).take(np.asarray(columns["treatment"])))
    return PartitionClaims(claims, None if totals_only else np.asarray(columns["claim_no"]),
                           None if totals_only else np.asarray(columns["treatment"]), person)


def _cross_province_map(treatment_vocabulary: list[str], insured: str) -> np.ndarray:
    """Treatment code → outside the insured province (B10); the last slot serves code −1 (unknown: not across)."""
    return np.array([not same_province(insured, str(v)) for v in treatment_vocabulary] + [False], dtype=bool)


def read_items(folder: Path, partition: Partition, claim_nos: np.ndarray,
               con: duckdb.DuckDBPyConnection | None = None) -> dict[str, np.ndarray]:
    """The fee items of the given claims (sorted by claim_no), for the scalar cross-check."""
    own = con is None
    con = con or duckdb.connect(config={"threads": 1})
    path = Path(folder) / partition.folder / "items.parquet"
    wanted = {"claim_no": np.unique(np.asarray(claim_nos, dtype=np.int64))}  # noqa: F841 - scanned by DuckDB
    try:
        return con.execute(f"""
            SELECT claim_no, item_code, amount_fen, qty_milli FROM read_parquet('{_sql_path(path)}')
            WHERE claim_no IN (SELECT claim_no FROM wanted) ORDER BY claim_no, item_no""").fetchnumpy()
    finally:
        if own:
            con.close()


def export_single_file(folder: Path, path: Path) -> None:
    """The whole dataset as one claims file in the text format of ``engine.io`` (``CLAIM_COLUMNS``)."""
    manifest = Manifest.read(folder)
    vocab = manifest.vocabularies

    def text(column: str) -> str:
        return f"({vocab[column]!r})[{column} + 1]"

    con = duckdb.connect()
    try:
        con.execute(f"""
            COPY (SELECT claim_no, 'G' || lpad(person::VARCHAR, 9, '0') AS psn_no, insuplc_admdvs::VARCHAR AS insuplc_admdvs,
                         {text('insutype')} AS insutype, {text('treatment')} AS mdtrtarea_admvs,
                         hospital_level, {text('med_type')} AS med_type,
                         CASE WHEN disease >= 0 THEN {text('disease')} END AS dise_codg,
                         begntime, endtime, {text('benefit_kind')} AS benefit_kind, item_count,
                         {", ".join(f"{c}::BIGINT AS {c}" for c in SCOPE_COLUMNS)}
                  FROM read_parquet('{_sql_path(Path(folder))}/*/*/claims.parquet', hive_partitioning = true,
                                    hive_types = {{'insuplc_admdvs': VARCHAR, 'bucket': INTEGER}})
                  ORDER BY claim_no)
            TO '{_sql_path(path)}' (FORMAT parquet, COMPRESSION zstd)""")
    finally:
        con.close()
