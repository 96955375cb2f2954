"""The columns of a comparison table, in one place: key, title, unit, format, tooltip, and how two runs differ.

Every view of a run reads COLUMNS: the CLI's text table and diff and the CSV (core.compare_data),
and the window's table and diff (gui/compare_table.py). A new column is one line here plus its
value in core.compare_data.table. The number formats are the ones the window has always shown
("22.7 M", "87.3 MiB"); there is no other formatter. Torch-free and Qt-free.
"""

from collections.abc import Callable
from dataclasses import dataclass


def fmt_count(n: int | None) -> str:
    if n is None:
        return "?"
    return f"{n / 1e9:.2f} B" if n >= 1e9 else f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n:,}"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "?"
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def fmt_pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def fmt_quality(metric: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if metric == "perplexity":
        return f"ppl {value:.1f}"
    return f"{value:.1%}" if metric == "accuracy" else f"{value:.1f}"


def fmt_quality_change(metric: str, delta: float) -> str:
    """A change of quality between two runs: percentage points of accuracy, else the metric's units."""
    return f"{delta * 100:+.1f} pts" if metric == "accuracy" else f"{delta:+.1f}"


def _ms(decimals: int) -> Callable[[float], str]:
    return lambda seconds: f"{seconds * 1000:.{decimals}f}"


def _fixed(decimals: int) -> Callable[[float], str]:
    return lambda value: f"{value:.{decimals}f}"


@dataclass(frozen=True)
class Column:
    key: str  # the key in core.compare_data.table's rows; the CSV's header
    title: str  # the header on screens (terminal and window); "" for a column only the CSV has
    unit: str = ""  # of the raw value (CSV, JSON)
    fmt: Callable = str  # a raw value -> its text on screens (never called with None: see cell)
    tip: str = ""
    diff: str = ""  # "ratio" (B / A - 1) or "delta" (B - A): compared between two saved runs
    row_cell: Callable[[dict], str] | None = None  # the cell from the whole row, when the value alone is not enough
    # (row, value) -> text, for a value whose unit is its row's (a quality is accuracy, chrF or perplexity):
    # the diff's A and B go through it, and change_fmt writes their difference
    fmt_in_row: Callable[[dict, object], str] | None = None
    change_fmt: Callable[[dict, float], str] | None = None

    @property
    def shown(self) -> bool:
        return bool(self.title)

    def cell(self, row: dict) -> str:
        """The text of this column in a row of core.compare_data.table; unfinished rows show
        only who they are and why."""
        if row["status"] != "done" and self.key not in IDENTITY:
            return ""
        if self.row_cell is not None:
            return self.row_cell(row)
        value = row.get(self.key)
        return "n/a" if value is None else self.fmt(value)

    def value_text(self, value, row: dict | None = None) -> str:
        """A value of this column outside its table row (the diff's A and B), "—" when absent.

        row: the row the value belongs to, for a column whose unit is the row's (fmt_in_row)."""
        if value is None:
            return "—"
        if self.fmt_in_row is not None and row is not None:
            return self.fmt_in_row(row, value)
        return self.fmt(value)

    def change_text(self, change: float | None, row: dict | None = None) -> str:
        """The diff's change of this column: a ratio as "+25%", a delta in the column's own unit."""
        if change is None:
            return ""
        if self.diff == "ratio":
            return f"{change:+.0%}"
        if self.change_fmt is not None and row is not None:
            return self.change_fmt(row, change)
        return f"{change:+.3g}"


def _status(row: dict) -> str:
    if row["status"] == "done":
        return "reference" if row["reference"] else "done"
    return row["status"] + (f": {row['error']}" if row.get("error") else "")


IDENTITY = ("index", "model", "variant", "status")
# Causal-LM rows' decoding figures (core.generation): in the CSV; the terminal prints them under the table.
GENERATION_UNITS = {"ttft_s": "s", "itl_p50_s": "s", "itl_p99_s": "s", "decode_tokens_per_s": "1/s",
                    "kv_cache_bytes": "bytes"}
GENERATION_COLUMNS = tuple(GENERATION_UNITS)  # shown for every row, finished or not

COLUMNS = (
    Column("index", "#", row_cell=lambda r: str(r["index"] + 1)),
    Column("model", "model"),
    Column("variant", "variant", row_cell=lambda r: r["variant"] + (" ◆" if r.get("frontier") else ""),
           tip="◆: on the latency-quality Pareto frontier"),
    Column("status", "status", row_cell=_status),
    Column("params_total", "params", fmt=fmt_count),
    Column("params_non_embedding", "non-emb", fmt=fmt_count,
           tip="Parameters outside the embedding tables: what the FLOPs estimate counts"),
    Column("weight_bytes", "weights", "bytes", fmt_bytes,
           tip="Bytes of every tensor the variant stores (int8 weights packed)"),
    Column("load_s", "load s", "s", _fixed(2)),
    Column("first_inference_s", "1st ms", "s", _ms(1), tip="The first inference after loading (warm-up iteration 1)"),
    Column("p50_s", "p50 ms", "s", _ms(2), diff="ratio",
           row_cell=lambda r: _ms(2)(r["p50_s"]) + (" ~" if r["noisy"] else ""),
           tip="Median latency of one iteration; ~: noisy (the IQR is over 10% of the median)"),
    Column("p90_s", "p90 ms", "s", _ms(2)),
    Column("p99_s", "p99 ms", "s", _ms(2)),
    Column("items_per_s", "items/s", "1/s", _fixed(1), diff="ratio"),
    Column("tokens_per_s", "", "1/s"),
    Column("memory_bytes", "memory", "bytes", fmt_bytes, diff="ratio",
           tip="Peak RSS over the RSS just before loading (on a GPU: peak CUDA allocation)"),
    Column("quality_metric", ""),
    Column("quality", "quality", fmt=lambda value: f"{value:.3g}", diff="delta",
           row_cell=lambda r: fmt_quality(r["quality_metric"], r["quality"]),
           fmt_in_row=lambda r, value: fmt_quality(r.get("quality_metric") or "", value),
           change_fmt=lambda r, delta: fmt_quality_change(r.get("quality_metric") or "", delta),
           tip="Accuracy on the shipped sentiment dev set, or chrF against reference translations; "
               "n/a for synthetic (random-weight) models"),
    Column("agreement", "agreement", "fraction", fmt_pct, tip="Share of outputs identical to the reference row's"),
    Column("speedup", "speedup", "x", lambda value: f"{value:.2f}×", tip="Reference p50 / this row's p50"),
    Column("memory_saving", "mem saved", "fraction", fmt_pct,
           tip="Memory saved against the reference row (in bold; pick it under Reference row): "
               "1 - this row's memory / the reference row's memory. Negative: this row used more memory "
               "than the reference (-36% = 36% more). Memory is measured, and in one process it also holds "
               "what loading and int8 conversion left behind, so an int8 row can use more than fp32 "
               "although its weights are smaller (see weights saved)"),
    Column("weight_saving", "weights saved", "fraction", fmt_pct,
           tip="1 - weight bytes / the reference row's weight bytes"),
    Column("gflops", "GFLOP/s", "GFLOP/s", _fixed(1),
           tip="FLOPs per iteration ≈ 2 × non-embedding params × tokens, divided by p50"),
    Column("fraction_of_peak", "of peak", "fraction", fmt_pct,
           tip="GFLOP/s as a share of this machine's matmul peak at the row's precision (the fp32 peak is "
               "measured at the start of the run); n/a for int8, fp16 and bf16 rows when no peak of their "
               "precision was measured: their work against the fp32 peak says nothing"),
    Column("reference", ""),
    Column("error", ""),
) + tuple(Column(key, "", unit) for key, unit in GENERATION_UNITS.items())

SHOWN = tuple(column for column in COLUMNS if column.shown)
DIFFED = tuple(column for column in COLUMNS if column.diff)


def diff_headers() -> tuple[str, ...]:
    """The diff's headers: model, variant, then per compared column its A, its B and the change."""
    headers = ["model", "variant"]
    for column in DIFFED:
        headers += [f"{column.title} A", f"{column.title} B", "change" if column.diff == "ratio" else "Δ"]
    return tuple(headers)


def diff_cells(row: dict) -> tuple[str, ...]:
    """One row of core.compare_data.diff_runs as text, in diff_headers' order."""
    cells = [row["model"], row["variant"]]
    for column in DIFFED:
        change = row[f"{column.key}_{'change' if column.diff == 'ratio' else 'delta'}"]
        cells += [column.value_text(row[f"{column.key}_a"], row), column.value_text(row[f"{column.key}_b"], row),
                  column.change_text(change, row)]
    return tuple(cells)
