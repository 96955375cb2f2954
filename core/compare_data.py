"""Comparing a size ladder, the data: the request, the records, and what is made of them.

Torch-free by construction (an import contract in pyproject.toml checks it): the window imports this
module; core.compare, which measures, imports torch. `RunCollector` folds the records that
core.compare.run_compare yields into one run dict; that dict is what is saved as JSON: every raw
latency sample, the protocol, the environment, and each row's predictions.

Everything relative to a reference row (speedup, memory saving, agreement) is derived afterwards
by `table`, so the user can pick another reference, or re-open a saved run, without measuring again.
The columns of every table (the CLI's text, the CSV, the diff, the window's) are core.columns'.
"""

import copy
import csv
import io
import json
from dataclasses import asdict, dataclass
from enum import StrEnum
from datetime import datetime, timezone
from pathlib import Path

from .catalog import LadderMember, known_depth
from .columns import COLUMNS, DIFFED, GENERATION_COLUMNS, SHOWN, diff_cells, diff_headers
from .records import Outcome
from .errors import InputError
from .report import write_atomic, write_json_atomic
from .requests import Protocol
from .safe_files import read_json

SCHEMA = "sizelab-compare/1"
SWEEP_AXES = ("seq_len", "batch_size")


class RowStatus(StrEnum):
    """A row's status in the run dict (saved as its value: a saved run reads back as plain strings,
    equal to these)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the run was cancelled before this row finished
    NOT_RUN = "not run"  # the run ended (the engine died) before this row finished

# ---------------------------------------------------------------- the request


@dataclass(frozen=True)
class Sweep:
    """Run the protocol again with each of these sequence lengths or batch sizes."""

    axis: str  # "seq_len" | "batch_size"
    values: tuple[int, ...]

    def __post_init__(self):
        if self.axis not in SWEEP_AXES:
            raise InputError(f"A sweep goes over {' or '.join(SWEEP_AXES)}, not {self.axis!r}.")
        if not self.values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in self.values):
            raise InputError("Sweep values must be whole numbers of at least 1.")
        if self.axis == "seq_len" and min(self.values) < 4:
            raise InputError("A sequence length must be at least 4 tokens (the special tokens take 2).")

    @classmethod
    def parse(cls, text: str) -> "Sweep":
        """The CLI form: "seq_len=32,64,128" or "batch_size=1,8"."""
        axis, _, values = text.partition("=")
        try:
            numbers = tuple(int(v) for v in values.split(",") if v.strip())
        except ValueError as exc:
            raise InputError(f"Cannot read sweep values from {values!r}; write e.g. seq_len=32,64,128.") from exc
        return cls(axis.strip().replace("-", "_"), numbers)


@dataclass(frozen=True)
class CompareRequest:
    """Everything one ladder run needs; immutable, so it can cross to the engine process."""

    members: tuple[LadderMember, ...]
    protocol: Protocol
    device: str = "cpu"
    threads: int | None = None
    sweep: Sweep | None = None
    quality: bool = True
    quality_limit: int | None = None  # first N examples of the dev set; None: all of them
    ladder: str = ""  # the catalog ladder's id, or "" for a hand-picked set
    peak_size: int = 2048  # matrix side for the fp32 matmul peak

    def __post_init__(self):
        if not self.members:
            raise InputError("Tick at least one model variant to compare.")
        if self.quality_limit is not None and (isinstance(self.quality_limit, bool) or self.quality_limit < 1):
            # 0 failed every row after measuring it; a negative one sliced from the end of the data
            raise InputError(f"Score at least 1 example for quality, not {self.quality_limit}.")

    def to_dict(self) -> dict:
        return {
            "ladder": self.ladder,
            "members": [member_dict(m) for m in self.members],
            "protocol": asdict(self.protocol),
            "device": self.device,
            "threads": self.threads,
            "sweep": asdict(self.sweep) if self.sweep else None,
            "quality": self.quality,
            "quality_limit": self.quality_limit,
        }


def member_dict(member: LadderMember) -> dict:
    entry = member.model
    return {"id": entry.id, "name": entry.name, "task": entry.task, "source": entry.source,
            "synthetic": entry.synthetic, "variant": member.variant.to_dict(),
            "variant_label": member.variant.label(known_depth(entry))}


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class RunStarted:
    run: dict  # the header: request, environment, peak and one pending row per member


@dataclass(frozen=True)
class RowStarted:
    index: int
    label: str


@dataclass(frozen=True)
class RowProgress:
    """index -1 is the run itself (measuring the peak). sample: the latest iteration's seconds."""

    index: int
    fraction: float | None
    message: str
    sample: float | None = None


@dataclass(frozen=True)
class RowFinished:
    index: int
    row: dict


@dataclass(frozen=True)
class RowFailed:
    index: int
    row: dict  # status RowStatus.FAILED and the error message; the other rows go on


@dataclass(frozen=True)
class RunFinished:
    outcome: Outcome


Record = RunStarted | RowStarted | RowProgress | RowFinished | RowFailed | RunFinished


class RunCollector:
    """Folds records into the run dict that is shown, saved and re-opened."""

    def __init__(self) -> None:
        self.run: dict | None = None

    def add(self, record: Record) -> None:
        if isinstance(record, RunStarted):
            self.run = copy.deepcopy(record.run)
        elif isinstance(record, RowProgress):
            pass  # progress is for the eyes; the run keeps results only
        elif self.run is None:
            raise ValueError("records arrived before RunStarted")
        elif isinstance(record, RowStarted):
            self.run["rows"][record.index]["status"] = RowStatus.RUNNING
        elif isinstance(record, (RowFinished, RowFailed)):
            self.run["rows"][record.index] = copy.deepcopy(record.row)
        elif isinstance(record, RunFinished):
            self.run["outcome"] = record.outcome
            self.run["finished"] = now()
            for row in self.run["rows"]:
                if row["status"] in (RowStatus.PENDING, RowStatus.RUNNING):
                    row["status"] = RowStatus.CANCELLED if record.outcome == Outcome.CANCELLED else RowStatus.NOT_RUN


def row_base(index: int, member: LadderMember) -> dict:
    return {"index": index, "status": RowStatus.PENDING, "model": member_dict(member), "error": None}

def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- the table and the frontier


def default_reference(run: dict) -> int | None:
    """The finished row with the most parameters (the first of equals), or None if none finished."""
    done = [row for row in run["rows"] if row["status"] == RowStatus.DONE]
    if not done:
        return None
    # an endpoint row has no parameter count here: a local row is the reference when there is one
    return max(done, key=lambda row: (row["params_total"] or 0, -row["index"]))["index"]


def table(run: dict, reference: int | None = None) -> list[dict]:
    """One flat dict per row, with speedup, memory saving and agreement against the reference row.

    reference: a row index; None (or a row that did not finish) means the default reference.
    """
    rows = run["rows"]
    if reference is None or not (0 <= reference < len(rows)) or rows[reference]["status"] != RowStatus.DONE:
        reference = default_reference(run)
    ref = rows[reference] if reference is not None else None
    out = []
    for row in rows:
        flat = {"index": row["index"], "status": row["status"], "error": row.get("error"),
                "model": row["model"]["name"], "model_id": row["model"]["id"],
                "variant": row.get("label") or row["model"]["variant_label"],
                "synthetic": row["model"]["synthetic"], "reference": row["index"] == reference}
        if row["status"] == RowStatus.DONE:
            scored = row.get("quality") or {}
            p50 = row["latency"]["p50"]
            flat |= {
                "params_total": row["params_total"], "params_non_embedding": row["params_non_embedding"],
                "weight_bytes": row["weight_bytes"], "load_s": row["load_seconds"],
                "first_inference_s": row["first_inference_seconds"],
                "p50_s": p50, "p90_s": row["latency"]["p90"], "p99_s": row["latency"]["p99"],
                "noisy": row["latency"]["noisy"],
                "items_per_s": row["throughput_items_per_s"], "tokens_per_s": row["throughput_tokens_per_s"],
                "memory_bytes": row["memory_bytes"],
                "quality_metric": scored.get("metric", ""), "quality": scored.get("value"),
                "quality_note": scored.get("note", ""),
                "agreement": None, "speedup": None, "memory_saving": None, "weight_saving": None,
                "gflops": row["efficiency"]["gflops"],
            } | _share_of_peak(run, row) | _generation_columns(row.get("generation"))
            if ref is not None:
                flat["speedup"] = ref["latency"]["p50"] / p50
                if (ref["memory_bytes"] or 0) > 0 and row["memory_bytes"] is not None:  # None: an endpoint's
                    flat["memory_saving"] = 1 - row["memory_bytes"] / ref["memory_bytes"]
                # Both savings are shown: in one process, RSS also holds what loading and int8
                # packing left behind, so it can disagree with what the variant stores.
                if ref["weight_bytes"] and row["weight_bytes"] is not None:
                    flat["weight_saving"] = 1 - row["weight_bytes"] / ref["weight_bytes"]
                if not row["model"]["synthetic"] and not ref["model"]["synthetic"]:
                    flat["agreement"] = agreement(scored.get("predictions") or [],
                                                          (ref.get("quality") or {}).get("predictions") or [])
        out.append(flat)
    on_front = set(frontier(out))
    for flat in out:
        flat["frontier"] = flat["index"] in on_front
    return out


def compute_precision(variant: dict) -> str:
    """What a variant's matmuls run in: "int8", or its precision ("fp32", "fp16", "bf16")."""
    return "int8" if variant.get("int8") else variant.get("precision") or "fp32"


def _share_of_peak(run: dict, row: dict) -> dict:
    """A finished row's GFLOP/s as a share of the machine's peak at the row's precision, and why not.

    core.compare measures the fp32 matmul peak; int8 work against it read 154-185% and meant nothing.
    A peak of another precision is used when the run records one (run["peaks"], e.g. {"int8": 400.0}
    in G(FL)OP/s); else the share is None and peak_note says why.
    """
    precision = compute_precision(row["model"].get("variant") or {})
    if precision == "fp32":
        return {"precision": precision, "fraction_of_peak": row["efficiency"]["fraction_of_peak"], "peak_note": ""}
    peak = (run.get("peaks") or {}).get(precision)
    gflops = row["efficiency"]["gflops"]
    if peak and gflops is not None:
        return {"precision": precision, "fraction_of_peak": gflops / peak,
                "peak_note": f"Against this machine's {precision} peak ({peak:.1f} G/s)"}
    return {"precision": precision, "fraction_of_peak": None,
            "peak_note": f"n/a: {precision} work against the fp32 matmul peak means nothing, and no {precision} "
                         "peak was measured on this machine"}


def agreement(a: list[str], b: list[str]) -> float | None:
    """Fraction of items where two rows gave the same output (label, or identical translation).

    None when the rows were not measured on the same items (different lengths or nothing at all).
    """
    if not a or len(a) != len(b):
        return None
    return sum(x == y for x, y in zip(a, b)) / len(a)


LOWER_IS_BETTER = ("perplexity",)


def _generation_columns(decoding: dict | None) -> dict:
    """Causal-LM rows: the decoding figures (None for rows of other tasks)."""
    return {name: (decoding or {}).get(name) for name in GENERATION_COLUMNS}


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats, by increasing x (then y), in O(n log n).

    Lower x (latency) and higher y (quality) are better; a point is beaten when another one is at
    least as good on both and strictly better on one. One sweep by increasing x: among the points
    of one x only those of the highest y can stand, and only above the best y of every faster point.
    (Comparing every pair took minutes on a saved run of 20,000 rows.)
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front: list[int] = []
    best_faster = float("-inf")  # the best y among points of a strictly smaller x
    start = 0
    while start < len(order):
        x, top = points[order[start]]
        end = start
        while end < len(order) and points[order[end]][0] == x:
            end += 1
        if top > best_faster:  # ties with the group's top are not beaten by each other
            front += sorted((i for i in order[start:end] if points[i][1] == top), key=lambda i: (points[i], i))
            best_faster = top
        start = end
    return front


def frontier(rows: list[dict]) -> list[int]:
    """Row indices on the latency-quality Pareto frontier (rows with a quality number only)."""
    scored = [r for r in rows if r["status"] == RowStatus.DONE and r.get("quality") is not None]
    # perplexity: lower is better, so it enters the frontier negated
    front = pareto_front([(r["p50_s"], -r["quality"] if r["quality_metric"] in LOWER_IS_BETTER else r["quality"])
                          for r in scored])
    return [scored[i]["index"] for i in front]


# ---------------------------------------------------------------- files

def table_csv(run: dict, reference: int | None = None) -> str:
    """The table as CSV; a missing quality reads "n/a", never a number."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(column.key for column in COLUMNS)
    for row in table(run, reference):
        cells = []
        for column in (c.key for c in COLUMNS):
            value = row.get(column)
            if (value is None and column in ("quality", "agreement", "fraction_of_peak")
                    and row["status"] == RowStatus.DONE):
                value = "n/a"
            cells.append("" if value is None else f"{value:.6g}" if isinstance(value, float) else value)
        writer.writerow(cells)
    return buffer.getvalue()


def caption(run: dict) -> str:
    """One line of the settings a run was measured with, for a picture of its plots: batch, sequence
    length, new tokens (when a row generates), sweep, device and threads, the machine, the date."""
    request = run.get("request") or {}
    protocol = request.get("protocol") or {}
    environment = run.get("environment") or {}
    parts = [f"batch {protocol.get('batch_size', '?')}", f"sequence length {protocol.get('seq_len', '?')}"]
    tasks = {(member.get("task") or "") for member in request.get("members") or []}
    tasks |= {(row.get("model") or {}).get("task") or "" for row in run.get("rows") or []}
    if tasks & {"translation", "generation"} and protocol.get("new_tokens"):
        parts.append(f"{protocol['new_tokens']} new tokens")
    sweep = request.get("sweep")
    if sweep:
        axis = "sequence length" if sweep["axis"] == "seq_len" else "batch size"
        parts.append(f"{axis} sweep {', '.join(str(v) for v in sweep['values'])}")
    device = request.get("device") or environment.get("device") or "cpu"
    threads = request.get("threads") or environment.get("threads")
    parts.append(device + (f", {threads} thread{'s' if threads != 1 else ''}" if threads and device == "cpu" else ""))
    if environment.get("cpu"):
        parts.append(str(environment["cpu"]))
    when = run.get("finished") or run.get("created") or ""
    if when:
        parts.append(when[:10])  # the date of an ISO time
    return "Model Size Lab · " + " · ".join(parts)


def save_run(path: str | Path, run: dict) -> Path:
    return write_json_atomic(path, run)


def save_csv(path: str | Path, run: dict, reference: int | None = None) -> Path:
    return write_atomic(path, table_csv(run, reference))


def save_png(path: str | Path, data: bytes) -> Path:
    """A picture of the plots (encoded by the window), written like the JSON and the CSV: atomically,
    over a regular file only, new files by the umask and overwritten ones keeping their mode."""
    return write_atomic(path, data)


def load_run(path: str | Path, progress=None) -> dict:
    """A run saved by save_run (or the CLI), checked to be one. progress(message) hears each step
    (a run of 20,000 rows takes seconds: the window reads it on a thread and shows these)."""
    path = Path(path)
    say = progress or (lambda _message: None)
    say(f"Reading {path.name}")
    run = read_json(path, path.name)  # a regular file, of bounded size and depth, or one clear line
    if not isinstance(run, dict) or run.get("schema") != SCHEMA or not isinstance(run.get("rows"), list):
        raise InputError(f"{path.name} is not a saved comparison (no {SCHEMA!r} schema).")
    say(f"Checking {len(run['rows']):,} rows of {path.name}")
    try:  # the right schema but rows, request or figures of the wrong shape (edited by hand, or damaged)
        text_table(run)
        text_diff(diff_runs(run, run))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise InputError(f"{path.name} is a damaged comparison ({type(exc).__name__}: {exc}).") from exc
    return run


def _key(row: dict) -> tuple[str, str]:
    return row["model"]["id"], json.dumps(row["model"]["variant"], sort_keys=True)


def diff_runs(a: dict, b: dict) -> dict:
    """Rows of two runs matched by model and variant: B against A, plus what changed in the setup."""
    def keyed(run: dict) -> dict:
        flat = table(run)
        return {_key(raw): flat[i] for i, raw in enumerate(run["rows"])}

    rows_a = keyed(a)
    rows_b = rows_a if b is a else keyed(b)  # load_run checks a file against itself: one table, not two
    keys = list(rows_a) + [k for k in rows_b if k not in rows_a]
    rows = []
    for key in keys:
        ra, rb = rows_a.get(key), rows_b.get(key)
        some = ra or rb
        row = {"model": some["model"], "variant": some["variant"],
               "status_a": ra["status"] if ra else "absent", "status_b": rb["status"] if rb else "absent",
               # the unit of the quality columns (core.columns writes 87.3% for accuracy, not 0.873)
               "quality_metric": (ra or {}).get("quality_metric") or (rb or {}).get("quality_metric") or ""}
        for column in DIFFED:
            va = ra.get(column.key) if ra else None
            vb = rb.get(column.key) if rb else None
            row[f"{column.key}_a"], row[f"{column.key}_b"] = va, vb
            if column.diff == "ratio":
                row[f"{column.key}_change"] = vb / va - 1 if va and vb is not None else None
            else:
                row[f"{column.key}_delta"] = vb - va if va is not None and vb is not None else None
        rows.append(row)

    def changes(part_a: dict, part_b: dict) -> dict:
        return {k: (part_a.get(k), part_b.get(k)) for k in sorted(set(part_a) | set(part_b))
                if part_a.get(k) != part_b.get(k) and not isinstance(part_a.get(k, part_b.get(k)), (list, dict))}

    return {"rows": rows,
            "protocol_changes": changes(a["request"]["protocol"], b["request"]["protocol"]),
            "setup_changes": changes({k: v for k, v in a["request"].items() if k != "protocol"},
                                     {k: v for k, v in b["request"].items() if k != "protocol"}),
            "environment_changes": changes(a.get("environment", {}), b.get("environment", {}))}


# ---------------------------------------------------------------- plain text (CLI)


def _aligned(lines: list[tuple[str, ...]], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(lines, widths)).rstrip()


def text_table(run: dict, reference: int | None = None) -> str:
    """The table as aligned text, for a terminal: the window's columns (core.columns)."""
    rows = table(run, reference)
    head = tuple(column.title for column in SHOWN)
    status = SHOWN.index(next(c for c in SHOWN if c.key == "status"))
    lines = [tuple(column.cell(row) for column in SHOWN) for row in rows]
    # an unfinished row's status holds its error: it runs on at the end of its line, not as a wide column
    measured = [head] + [line for line, row in zip(lines, rows) if row["status"] == RowStatus.DONE]
    widths = [max(len(line[i]) for line in measured) for i in range(len(head))]
    text = [_aligned(head, widths)]
    for line, row in zip(lines, rows):
        text.append(_aligned(line, widths) if row["status"] == RowStatus.DONE
                    else _aligned(line[:status], widths) + "  " + line[status])
    memory = ("CUDA allocation" if run["request"]["device"].startswith("cuda")
              else "RSS over the pre-load baseline")
    without_peak = sorted({row["precision"] for row in rows
                           if row["status"] == RowStatus.DONE and row["peak_note"].startswith("n/a")})
    text.append("◆ on the latency-quality Pareto frontier; ~ noisy (IQR over 10% of p50); "
                f"memory = peak {memory}"
                + f"; peak {run['peak_gflops']:.1f} GFLOP/s ({run['peak_method']})"
                + (f"; of peak n/a for {', '.join(without_peak)}: no peak of that precision measured"
                   if without_peak else "")
                + ("; mem saved below 0: more memory than the reference row"
                   if any((row.get("memory_saving") or 0) < 0 for row in rows) else "") + ".")
    return "\n".join(text + generation_text(run))


def generation_text(run: dict) -> list[str]:
    """Causal-LM rows: decoding figures, and how memory and the KV cache grow over a prompt-length sweep."""
    rows = [r for r in run["rows"] if r["status"] == "done" and r.get("generation")]
    if not rows:
        return []
    lines = ["", "Generation (streamed, greedy): TTFT = prefill; ITL = time between tokens; decode tok/s excludes the first token."]
    def ms(value) -> str:
        return "n/a" if value is None else f"{value * 1000:.2f}"

    for r in rows:
        g = r["generation"]
        rate = "n/a" if g["decode_tokens_per_s"] is None else f"{g['decode_tokens_per_s']:.1f}"
        kv = ("not seen (remote)" if g["kv_cache_bytes"] is None else f"{g['kv_cache_bytes'] / 2**20:.2f} MiB")
        prompt = g["prompt_tokens"] if g["prompt_tokens"] is not None else "?"
        lines.append(f"  {r['index'] + 1}  {r['model']['name']} [{r.get('label', '')}]: prompt {prompt} + "
                     f"{g['new_tokens']} tokens: TTFT {ms(g['ttft_s'])} ms, ITL p50 {ms(g['itl_p50_s'])} / "
                     f"p99 {ms(g['itl_p99_s'])} ms, decode {rate} tok/s, KV cache {kv}")
        if r.get("output_text"):  # an endpoint: no perplexity over a chat API, so its text is shown
            lines.append(f"       text: {' '.join(r['output_text'].split())[:160]}")
        for point in r.get("sweep") or []:
            if "kv_cache_bytes" in point:
                lines.append(f"       {run['request']['sweep']['axis']} {point['value']}: KV cache "
                             f"{point['kv_cache_bytes'] / 2**20:.2f} MiB, peak RSS {point['rss_peak'] / 2**20:.0f} MiB, "
                             f"TTFT {point['ttft_s'] * 1000:.1f} ms, decode {point['decode_tokens_per_s']:.1f} tok/s")
    return lines


def text_diff(diff: dict, name_a: str = "A", name_b: str = "B") -> str:
    """diff_runs as aligned text: B's figures against A's, row by row."""
    lines = [diff_headers()] + [diff_cells(row) for row in diff["rows"]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    text = [f"A = {name_a}, B = {name_b}; change is B against A."]
    text += [_aligned(line, widths) for line in lines]
    for title, key in (("protocol", "protocol_changes"), ("setup", "setup_changes"),
                       ("environment", "environment_changes")):
        for name, (va, vb) in diff[key].items():
            text.append(f"{title} {name}: {va!r} -> {vb!r}")
    return "\n".join(text)
