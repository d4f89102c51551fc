"""Benchmark: French search of 100,000 innovations, tantivy vs SQLite FTS5 vs PostgreSQL.

Documents
    The real records: the Transiscope export (700 initiatives) and the ANCT dotations
    d'investissement 2019 (24,811 funded projects), shaped into search documents by the
    tiny loader below (the service will feed entity documents merged by deduplication;
    the samples have no update dates, so each document gets a synthetic one). To reach
    100,000, the real records are repeated as *variants*: a new id ``…~vN``, the point
    moved by up to 3 km, another date; the text is the real one. The output says how many
    documents are real and how many are variants.

Backends, same documents, same queries, same run
    - product: :class:`~cohesion.innovations.search.tantivy_index.TantivyIndex`, the
      embedded default (French analysis, typo tolerance);
    - baseline: SQLite FTS5, ``unicode61 remove_diacritics 2`` tokenizer, every query word
      a prefix query (the usual way to get plurals without a stemmer), French stop words
      dropped from the query, ``bm25`` with the title weighing twice, ``snippet()``, facets
      counted by SQL over a side table. FTS5 has no stemming and no typo tolerance: a
      misspelt word finds nothing;
    - server mode: :class:`~cohesion.innovations.search.postgres_index.PostgresIndex` on a
      PostgreSQL started by the project (``running_postgres``).

Queries (``benchmarks/data/search-queries.yaml``)
    French queries, some misspelt, some with facet filters or as-you-type; every query
    asks for five facet counts. Latency: each query run ``repeat × 5`` times per backend
    after a warm-up, alternating backends; p50 and p95 over all runs. Relevance: nDCG@10
    of each backend against the graded judgments (0-2, judged by reading the real
    records), measured on an index of the real records only (the judgments name real
    records; variants would only repeat them); a record of the same text as a judged one
    gets its grade.

Memory: the peak resident memory of the benchmark process (all documents, tantivy and
SQLite in it; PostgreSQL is a server of its own), and that of a tantivy rebuild of the
100,000 documents alone, in a child process.

Targets: tantivy indexes 100,000 documents in under 60 s and answers at p95 < 30 ms.
"""

from __future__ import annotations

import csv
import json
import math
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml
from python_calamine import CalamineWorkbook

from benchmarks.common import REPO, BenchmarkResult, Context, check
from cohesion.errors import UnavailableError
from cohesion.innovations import fold
from cohesion.innovations.search import (
    Hit,
    SearchIndex,
    SearchQuery,
    SearchResult,
    prepare_document,
    sort_facet,
)
from cohesion.innovations.search.tantivy_index import TantivyIndex
from cohesion.store.postgres import PostgresServer, running_postgres

NAME = "search"
TITLE = "Search 100k innovations (tantivy vs FTS5 vs PostgreSQL)"
MAX_INDEX_S = 60.0
MAX_P95_MS = 30.0
TARGET = f"tantivy: index 100k < {MAX_INDEX_S:.0f} s, p95 < {MAX_P95_MS:.0f} ms"
DOCUMENTS = 100_000
TRANSISCOPE = "social_innovation/gogocarto_transiscope_sample/elements_pwa_alternatives.csv"
DOTATIONS = ("subventions/anct_dotations_investissement_2019/"
             "projets_dotations_investissement_2019.xlsx")
QUERIES = Path(__file__).resolve().parent / "data" / "search-queries.yaml"
FACETS = ("domaines", "sources", "programmes", "departement", "qpv")
RUNS_PER_REPEAT = 5
DATABASE = "search_bench"


#: Indexing 100,000 documents with tantivy in a child process, so that its peak memory
#: (``VmHWM``) is the loading and indexing's alone.
CHILD = """
import json, sys, time
from pathlib import Path
from benchmarks.bench_search import (DOCUMENTS, dotations_documents, peak_rss_gib,
                                     transiscope_documents, with_variants)
from cohesion.innovations.search.tantivy_index import TantivyIndex
transiscope, dotations, folder = map(Path, sys.argv[1:4])
real = [*transiscope_documents(transiscope), *dotations_documents(dotations)]
documents = with_variants(real, DOCUMENTS)
loaded = peak_rss_gib()
start = time.perf_counter()
TantivyIndex(folder).rebuild(documents)
print(json.dumps({"index_s": time.perf_counter() - start, "loaded_gib": loaded,
                  "peak_rss_gib": peak_rss_gib()}))
"""


# -- documents ---------------------------------------------------------------------------

def synthetic_date(n: int) -> str:
    """A deterministic update date (the samples have none)."""
    return (date(2023, 1, 1) + timedelta(days=n * 37 % 700)).isoformat()


def transiscope_documents(path: Path) -> Iterator[dict]:
    """The Transiscope rows as documents, ids ``transiscope:<row>``."""
    with path.open(encoding="utf-8", newline="") as file:
        for n, row in enumerate(csv.DictReader(file), start=1):
            yield {"id": f"transiscope:{n}", "title": row["name"].strip(),
                   "description": row["description"].strip(),
                   "tags": [t.strip() for t in row["tags"].split(",") if t.strip()],
                   "domaines": [t for t in row["taxonomy"].split(";") if t],
                   "sources": ["transiscope"], "url": row["site"] or None,
                   "lat": float(row["lat"]), "lon": float(row["lon"]),
                   "updated": synthetic_date(n)}


def dotations_documents(path: Path, departements: set[str] | None = None
                        ) -> Iterator[dict]:
    """The funded projects as documents, ids ``dotations-2019:<id_projet>``.

    ``departements`` keeps only the projects of these départements (the tests' corpus).
    """
    rows = CalamineWorkbook.from_path(path).get_sheet_by_index(1).to_python()
    for n, values in enumerate(rows[1:]):
        row = dict(zip(rows[0], values, strict=True))
        if departements is not None and row["id_dep"] not in departements:
            continue
        text = " ".join(str(row["description"]).split())
        is_commune = row["echelon"] == "commune"
        yield {"id": f"dotations-2019:{row['id_projet']}",
               "title": text if len(text) <= 90 else text[:90].rsplit(" ", 1)[0] + "…",
               "description": text, "porteur": row["nom_terr"],
               "commune": row["id_terr"] if is_commune else None,
               "commune_name": row["nom_terr"] if is_commune else None,
               "departement": row["id_dep"],
               "territories": [f"EPCI:{row['id_terr']}"] if row["echelon"] == "epci" else [],
               "lat": float(row["lat"]), "lon": float(row["long"]),
               "programmes": [row["dotation"]],
               "domaines": [re.sub(r"^\d+ - ", "", row["categorie"]).strip().capitalize()],
               "sources": ["dotations-2019"], "updated": synthetic_date(n)}


def with_variants(real: list[dict], total: int, seed: int = 2019) -> list[dict]:
    """``real`` followed by variants of its records up to ``total`` documents."""
    rng = random.Random(seed)
    documents = list(real)
    for n in range(total - len(real)):
        doc = real[n % len(real)]
        variant = {**doc, "id": f"{doc['id']}~v{n // len(real) + 1}",
                   "variant_of": doc["id"], "updated": synthetic_date(n + 7)}
        if doc.get("lat") is not None:
            variant["lat"] = doc["lat"] + rng.uniform(-0.027, 0.027)
            variant["lon"] = doc["lon"] + rng.uniform(-0.038, 0.038)
        documents.append(variant)
    return documents


# -- the FTS5 baseline -------------------------------------------------------------------

#: Dropped from FTS5 queries (its tokenizer knows no stop words; a prefix « de* » would
#: match most of the index).
STOP_WORDS = frozenset(("a", "au", "aux", "avec", "ce", "ces", "d", "dans", "de", "des", "du",
                        "en", "et", "l", "la", "le", "les", "leur", "n", "ou", "par", "pour",
                        "qu", "que", "qui", "sa", "se", "ses", "son", "sur", "un", "une"))


class Fts5Index:
    """SQLite FTS5 over the same documents, answering the same queries."""

    def __init__(self, path: Path) -> None:
        self.connection = sqlite3.connect(path)
        self.connection.executescript("""
            CREATE VIRTUAL TABLE docs USING fts5(
                title, body, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3');
            CREATE TABLE meta (rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, document TEXT,
                               lat REAL, lon REAL, updated INTEGER);
            CREATE TABLE facets (rowid INTEGER, name TEXT, value TEXT);""")

    def rebuild(self, documents: Iterable[dict]) -> int:
        written = 0
        with self.connection:
            for rowid, document in enumerate(documents, start=1):
                doc = prepare_document(document)
                self.connection.execute("INSERT INTO docs (rowid, title, body) "
                                        "VALUES (?, ?, ?)", (rowid, doc.title, doc.body))
                self.connection.execute("INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?)",
                                        (rowid, doc.id, doc.source, doc.lat, doc.lon,
                                         doc.updated))
                self.connection.executemany(
                    "INSERT INTO facets VALUES (?, ?, ?)",
                    [(rowid, name, value) for name, values in doc.facets.items()
                     for value in values]
                    + [(rowid, "territories", value) for value in doc.territories])
                written += 1
            self.connection.execute("CREATE INDEX facets_value ON facets (name, value, rowid)")
            self.connection.execute("CREATE INDEX facets_rowid ON facets (rowid, name, value)")
        return written

    @staticmethod
    def match(query: SearchQuery) -> str | None:
        """The FTS5 ``MATCH`` expression: every word a prefix, phrases quoted."""
        parsed = query.parsed()
        positive, negative = [], []
        for word in parsed.words:
            folded = fold(word.text)
            if folded and (folded not in STOP_WORDS or word.prefix):
                (negative if word.excluded else positive).append(f'"{folded}"*')
        for phrase in parsed.phrases:
            folded = fold(phrase.text)
            if folded:
                (negative if phrase.excluded else positive).append(f'"{folded}"')
        if not positive:
            return None
        return " AND ".join(positive) + "".join(f" NOT {term}" for term in negative)

    def search(self, query: SearchQuery) -> SearchResult:
        """The page, total and facets of ``query``, in the product's result shape.

        The matching rows are kept in a temporary table, so that the total, the facets
        and the page each read only them.
        """
        started = time.perf_counter()
        match = self.match(query)
        # constraints on the rowid of an FTS5 table are run as one full-text query per
        # value: the matches go to a table of their own, then the filters apply there
        for table in ("hits", "page"):
            self.connection.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} "
                                    "(rowid INTEGER PRIMARY KEY)")
            self.connection.execute(f"DELETE FROM temp.{table}")
        if match:
            self.connection.execute("INSERT INTO temp.hits SELECT rowid FROM docs "
                                    "WHERE docs MATCH ?", [match])
        else:
            self.connection.execute("INSERT INTO temp.hits SELECT rowid FROM meta")
        for name, values in query.filters.items():
            self.connection.execute(
                "DELETE FROM temp.hits WHERE rowid NOT IN (SELECT rowid FROM facets "
                f"WHERE name = ? AND value IN ({', '.join('?' * len(values))}))",
                [name, *values])
        total = self.connection.execute("SELECT count(*) FROM temp.hits").fetchone()[0]
        if match and query.order == "relevance":
            # ranked first, snippets made for the page only (SQLite would make them for
            # every hit before sorting)
            self.connection.execute(
                "INSERT INTO temp.page SELECT docs.rowid FROM docs CROSS JOIN temp.hits h "
                "ON h.rowid = docs.rowid WHERE docs MATCH ? "
                "ORDER BY bm25(docs, 2.0, 1.0), docs.rowid LIMIT ? OFFSET ?",
                [match, query.per_page, query.offset])
            page = self.connection.execute(
                "SELECT m.id, m.document, snippet(docs, 1, '<mark>', '</mark>', '…', 20) "
                "FROM docs CROSS JOIN temp.page p ON p.rowid = docs.rowid "
                "JOIN meta m ON m.rowid = docs.rowid WHERE docs MATCH ? "
                "ORDER BY bm25(docs, 2.0, 1.0), docs.rowid", [match]).fetchall()
        else:
            page = self.connection.execute(
                "SELECT m.id, m.document, '' FROM meta m WHERE m.rowid IN temp.hits "
                "ORDER BY m.updated DESC, m.id LIMIT ? OFFSET ?",
                [query.per_page, query.offset]).fetchall()
        hits = [Hit(id=doc_id, title=(doc := json.loads(document))["title"], score=0.0,
                    snippet=snippet, document=doc) for doc_id, document, snippet in page]
        counts: dict[str, list[tuple[str, int]]] = {name: [] for name in query.facets}
        if query.facets:
            for name, value, number in self.connection.execute(
                    "SELECT f.name, f.value, count(*) FROM temp.hits h CROSS JOIN facets f "
                    f"ON f.rowid = h.rowid WHERE f.name IN "
                    f"({', '.join('?' * len(query.facets))}) GROUP BY 1, 2", query.facets):
                counts[name].append((value, number))
        return SearchResult(total=total, hits=hits,
                            facets={name: sort_facet(values, query.facet_limit)
                                    for name, values in counts.items()},
                            took_ms=(time.perf_counter() - started) * 1000)

    def __len__(self) -> int:
        return self.connection.execute("SELECT count(*) FROM meta").fetchone()[0]

    def close(self) -> None:
        self.connection.close()


def answer(backend: SearchIndex | Fts5Index, query: SearchQuery) -> tuple[int, list[str]]:
    """Total and ids of the first page, whichever the backend."""
    result = backend.search(query)
    return result.total, [hit.id for hit in result.hits]


# -- queries, latency, relevance ---------------------------------------------------------

def load_queries(path: Path = QUERIES) -> list[tuple[str, SearchQuery, dict[str, int]]]:
    """The labelled queries: (name, query asking for the facets, graded judgments)."""
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))["queries"]
    return [(entry["id"],
             SearchQuery(text=entry["text"], filters=entry.get("filters", {}),
                         as_you_type=entry.get("as_you_type", False), per_page=10,
                         facets=FACETS),
             entry["judgments"])
            for entry in entries]


def with_twins(queries: list, real: list[dict]) -> list:
    """The judgments extended to the records of the same text as a judged one.

    Records of the same text (« Construction d'une micro crèche » in several communes)
    are as relevant as each other, and tie: which of them a backend puts first is luck.
    """
    text = {doc["id"]: (doc["title"], doc.get("description") or "") for doc in real}
    twins: dict[tuple[str, str], list[str]] = {}
    for doc_id, key in text.items():
        twins.setdefault(key, []).append(doc_id)
    return [(name, query, {**{twin: grade for doc_id, grade in judgments.items()
                              for twin in twins[text[doc_id]]}, **judgments})
            for name, query, judgments in queries]


def latencies(backends: dict[str, Any], queries: list,
              runs: int) -> dict[str, dict[str, list[float]]]:
    """Milliseconds of every run, per backend and query (alternated, warmed up)."""
    for backend in backends.values():
        for _, query, _ in queries:
            answer(backend, query)
    times: dict[str, dict[str, list[float]]] = {
        label: {name: [] for name, _, _ in queries} for label in backends}
    for _ in range(runs):
        for name, query, _ in queries:
            for label, backend in backends.items():
                start = time.perf_counter()
                answer(backend, query)
                times[label][name].append((time.perf_counter() - start) * 1000)
    return times


def percentile(values: list[float], share: float) -> float:
    """The ``share`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def ndcg(ranked: list[str], judgments: dict[str, int], k: int = 10) -> float:
    """nDCG@k of ``ranked`` ids with graded gains 2^grade - 1 (unjudged: 0)."""
    def dcg(grades: list[int]) -> float:
        return sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(grades[:k]))
    ideal = dcg(sorted(judgments.values(), reverse=True))
    return dcg([judgments.get(doc_id, 0) for doc_id in ranked]) / ideal if ideal else 0.0


def relevance(backends: dict[str, Any], queries: list) -> dict[str, dict[str, float]]:
    """nDCG@10 of every query, per backend."""
    return {label: {name: ndcg(answer(backend, query)[1], judgments)
                    for name, query, judgments in queries}
            for label, backend in backends.items()}


def peak_rss_gib() -> float:
    """High-water mark of this process's resident memory."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 2**20


def build(label: str, backend: Any, documents: list[dict]) -> float:
    """Index ``documents`` in ``backend`` (timed) and check they are all there."""
    start = time.perf_counter()
    backend.rebuild(documents)
    elapsed = time.perf_counter() - start
    check(len(backend) == len(documents), f"{label} holds {len(backend)} documents, "
                                          f"{len(documents)} indexed")
    print(f"    {label:<10} indexed {len(documents):,} documents in {elapsed:.1f} s "
          f"(peak RSS so far {peak_rss_gib():.2f} GiB)", flush=True)
    return elapsed


def open_backends(context: Context, name: str,
                  postgres: PostgresServer | None) -> dict[str, Any]:
    """An empty index of each backend, in the work folder or the PostgreSQL database."""
    from cohesion.innovations.search.postgres_index import PostgresIndex

    folder = context.work / f"search-{name}"
    folder.mkdir()
    backends: dict[str, Any] = {"tantivy": TantivyIndex(folder / "tantivy"),
                                "fts5": Fts5Index(folder / "fts5.sqlite")}
    if postgres is not None:
        backends["postgres"] = PostgresIndex(postgres.url(DATABASE), table=f"search_{name}")
    return backends


def tantivy_memory(context: Context) -> dict[str, float]:
    """Time and peak memory of a tantivy rebuild of 100,000 documents, in a child process."""
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, str(context.sample(TRANSISCOPE)),
         str(context.sample(DOTATIONS)), str(context.work / "search-child")],
        capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def postgres_mib(dsn: str, table: str) -> float:
    """Size of a PostgreSQL search table, its words table and their indexes, in MiB."""
    import psycopg

    with psycopg.connect(dsn) as connection:
        return connection.execute(
            "SELECT pg_total_relation_size(%s) + pg_total_relation_size(%s)",
            [table, f"{table}_words"]).fetchone()[0] / 2**20


def size_mib(path: Path) -> float:
    """Size of a file or folder, in MiB."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def measure(context: Context, result: BenchmarkResult,
            postgres: PostgresServer | None) -> None:
    """Index, time the queries at 100k, and measure relevance on the real records."""
    real = [*transiscope_documents(context.sample(TRANSISCOPE)),
            *dotations_documents(context.sample(DOTATIONS))]
    documents = with_variants(real, DOCUMENTS)
    print(f"  {len(documents):,} documents: {len(real):,} real records (Transiscope and "
          f"dotations 2019) + {len(documents) - len(real):,} variants of them (new id, "
          "point moved ≤ 3 km, other date)", flush=True)
    queries = load_queries()
    typos = sum(1 for name, _, _ in queries if "typo" in name)
    print(f"  {len(queries)} labelled queries ({typos} with typos), each asking for "
          f"{len(FACETS)} facet counts", flush=True)

    backends = open_backends(context, "large", postgres)
    index_s = {label: build(label, backend, documents) for label, backend in backends.items()}
    rss_after_index = peak_rss_gib()
    for name, query, _ in queries:
        totals = {label: answer(backend, query)[0] for label, backend in backends.items()}
        check(totals["tantivy"] > 0, f"tantivy finds nothing for {name} ({query.text!r})")
        if "postgres" in totals:
            check(totals["postgres"] > 0, f"PostgreSQL finds nothing for {name}")
    runs = context.repeat * RUNS_PER_REPEAT
    per_query = latencies(backends, queries, runs)
    times = {label: [t for values in by_query.values() for t in values]
             for label, by_query in per_query.items()}
    sizes = {"tantivy": size_mib(context.work / "search-large" / "tantivy"),
             "fts5": size_mib(context.work / "search-large" / "fts5.sqlite")}
    if postgres is not None:
        sizes["postgres"] = postgres_mib(postgres.dsn(DATABASE), "search_large")
    for backend in backends.values():
        backend.close()

    child = tantivy_memory(context)
    print(f"  tantivy alone, in a child process: {child['index_s']:.1f} s, peak RSS "
          f"{child['peak_rss_gib']:.2f} GiB ({child['loaded_gib']:.2f} GiB once the "
          "documents are loaded)", flush=True)
    print("  relevance on the real records only:", flush=True)
    small = open_backends(context, "real", postgres)
    for label, backend in small.items():
        build(label, backend, real)
    scores = relevance(small, with_twins(queries, real))
    for backend in small.values():
        backend.close()

    print(f"  {'backend':<10} {'index 100k':>11} {'p50':>8} {'p95':>8} {'nDCG@10':>8} "
          f"{'size':>9}")
    figures = {}
    for label in backends:
        figures[label] = {
            "index_s": round(index_s[label], 1),
            "p50_ms": round(statistics.median(times[label]), 2),
            "p95_ms": round(percentile(times[label], 0.95), 2),
            "ndcg10": round(statistics.mean(scores[label].values()), 3),
            "size_mib": round(sizes[label], 1)}
        f = figures[label]
        print(f"  {label:<10} {f['index_s']:>9.1f} s {f['p50_ms']:>5.1f} ms "
              f"{f['p95_ms']:>5.1f} ms {f['ndcg10']:>8.3f} {f['size_mib']:>5.0f} MiB")
    typo_names = [name for name, _, _ in queries if "typo" in name]
    for label in backends:
        figures[label]["ndcg10_typos"] = round(statistics.mean(
            scores[label][name] for name in typo_names), 3)
    # the times of the result are p95 latencies: overall, and of each repetition
    for label, attribute in (("tantivy", "product_times"), ("fts5", "baseline_times")):
        setattr(result, attribute, [round(percentile(
            [t for values in per_query[label].values()
             for t in values[r * RUNS_PER_REPEAT:(r + 1) * RUNS_PER_REPEAT]], 0.95) / 1000, 5)
            for r in range(context.repeat)])
    result.product_s = figures["tantivy"]["p95_ms"] / 1000
    result.baseline_s = figures["fts5"]["p95_ms"] / 1000
    result.checks.append(f"{len(documents):,} documents in each backend ({len(real):,} real, "
                         f"{len(documents) - len(real):,} variants); every query finds "
                         "something on tantivy and PostgreSQL")
    result.details.update({
        "documents": len(documents), "real_records": len(real),
        "variants": len(documents) - len(real), "queries": len(queries),
        "queries_with_typos": len(typo_names), "runs_per_query": runs,
        "backends": figures, "peak_rss_gib_after_indexing": round(rss_after_index, 2),
        "tantivy_child": {k: round(v, 2) for k, v in child.items()},
        "peak_rss_gib": round(peak_rss_gib(), 2),
        "ndcg10_per_query": {label: {n: round(v, 3) for n, v in values.items()}
                             for label, values in scores.items()},
        "median_ms_per_query": {label: {n: round(statistics.median(v), 2)
                                        for n, v in values.items()}
                                for label, values in per_query.items()}})
    result.passed = (figures["tantivy"]["index_s"] < MAX_INDEX_S
                     and figures["tantivy"]["p95_ms"] < MAX_P95_MS)


def run(context: Context, result: BenchmarkResult) -> None:
    """Measure the three backends; PostgreSQL is skipped (and said so) when absent."""
    try:
        with running_postgres() as server:
            server.create_database(DATABASE)
            measure(context, result, server)
    except UnavailableError as error:
        print(f"  PostgreSQL not measured: {error}", flush=True)
        result.details["postgres"] = f"not measured: {error}"
        measure(context, result, None)
