"""sizelab-cli: the headless face of the core. Never imports Qt.

    sizelab-cli --version
    sizelab-cli COMMAND -h                (every option, with its default)
    sizelab-cli models [--task T] [--json]
    sizelab-cli run [--text T ... | --file F | stdin] [model options] [--json]
    sizelab-cli bench [model options] [--batch B --seq-len L ...] [--out report.json]
    sizelab-cli train-head [--keep-encoder | --cross-validate [--folds K]]
    sizelab-cli compare (--ladder ID | --member SPEC ...) [--batch B --seq-len L ...] [--out run.json]
    sizelab-cli runtimes [--remove NAME | --clear] [--json]
    sizelab-cli endpoint --url URL --model NAME [--prompt P ...] [--concurrency 1,2,4] [--json]
    sizelab-cli serve [model options] [--host 127.0.0.1] [--port 8000] [--token-env VAR]
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from .catalog import DEFAULT_MODEL_ID, TASKS, ModelEntry, load_catalog
from .errors import InputError, SizeLabError
from .records import ModelKind
from .report import json_text
from .requests import Protocol, RunRequest
from .safe_files import check_writable, open_regular
from .variants import Variant

MAX_LINE_CHARS = 100_000  # a text to classify or translate; the models see a few hundred tokens of it


def _protocol_options(p) -> None:
    """The benchmark protocol's options; their defaults are core.requests.Protocol's, written once."""
    defaults = Protocol()
    p.add_argument("--batch", type=int, default=defaults.batch_size, help="inputs per forward pass")
    p.add_argument("--seq-len", type=int, default=defaults.seq_len,
                   help="tokens per input, special tokens included (generation: prompt tokens); "
                        "capped at the model's limit, and a warning says so")
    p.add_argument("--warmup", type=int, default=defaults.warmup, help="untimed iterations before measuring")
    p.add_argument("--min-iterations", type=int, default=defaults.min_iterations,
                   help="measure at least this many iterations")
    p.add_argument("--min-seconds", type=float, default=defaults.min_seconds,
                   help="and for at least this many seconds")
    p.add_argument("--new-tokens", type=int, default=defaults.new_tokens,
                   help="translation, generation: tokens per iteration")


def _model_options(parser: argparse.ArgumentParser, default_task: str = "classification") -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", default=None, help=f"catalog id, see `models` (default: {DEFAULT_MODEL_ID})")
    source.add_argument("--folder", type=Path, help="a local transformers checkpoint folder")
    source.add_argument("--hub", help="a Hugging Face model id (cache first; downloads when online)")
    parser.add_argument("--task", choices=TASKS, help=f"task for --folder/--hub (default: {default_task})")
    parser.add_argument("--variant", default=Variant().label(), type=_variant,  # a string: shown as such in -h
                        help="e.g. fp32, fp16, bf16, int8, int8,per-channel, int8,L3 (layers kept), L6,keep-last, "
                             "ort,int8 or ov,bf16 (runtime)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda:0, mps")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="allow pickle-only checkpoints (loaded with weights_only=True)")
    parser.add_argument("--no-download", action="store_true", help="never download; use the local cache only")
    _verbose_option(parser)


def _verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true",
                        help="on an error, also print what the libraries reported, in full")


def _variant(text: str) -> Variant:
    try:
        return Variant.parse(text)
    except SizeLabError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _entry(args) -> ModelEntry:
    task = args.task or "classification"
    if args.folder is not None:
        return ModelEntry.for_folder(args.folder, task)
    if args.hub is not None:  # "" too: an empty id must not quietly mean the bundled model
        if not args.hub.strip():
            raise InputError("--hub needs a Hugging Face model id, e.g. philschmid/tiny-bert-sst2-distilled.")
        return ModelEntry.for_hub(args.hub, task)
    if args.model is not None and not args.model.strip():
        raise InputError("--model needs a catalog id; `sizelab-cli models` lists them.")
    return load_catalog().get(args.model or DEFAULT_MODEL_ID)


def _load(args):
    from .loading import load_model
    from .requests import LoadRequest

    request = LoadRequest(entry=_entry(args), variant=args.variant, device=args.device, threads=args.threads,
                          allow_pickle=args.allow_pickle, allow_download=not args.no_download)
    return load_model(request, progress=_stderr_progress if sys.stderr.isatty() else _no_progress)


def _warn(message: str) -> None:
    """A warning about a result (random weights, emulated precision, a cut text): on stderr, one line
    each, so stdout stays one result per line for whatever reads it."""
    print(f"sizelab-cli: warning: {' '.join(message.split())}", file=sys.stderr, flush=True)


def _stderr_progress(fraction, message):
    percent = f"{fraction:4.0%} " if fraction is not None else ""
    print(f"\r{percent}{message:<60}", end="", file=sys.stderr, flush=True)


def _no_progress(fraction, message):
    pass


def cmd_models(args) -> int:
    catalog = load_catalog()
    models = catalog.for_task(args.task) if args.task else list(catalog.models)
    if args.json:
        print(json.dumps([{"id": m.id, "name": m.name, "task": m.task, "source": m.source, "ref": m.ref,
                           "params": m.params, "license": m.license, "about": m.about, "local": _local(m)}
                          | {k: m.extra[k] for k in ("weight_bytes", "accuracy") if k in m.extra}
                          for m in models], indent=2))
        return 0
    width = max([len(m.id) for m in models] + [2])
    print(f"{'ID':<{width}}  {'TASK':<14} {'SOURCE':<9} {'PARAMS':>9}  {'LOCAL':<10}  NAME")
    for m in models:
        params = f"{m.params / 1e6:8.1f}M" if m.params else "        ?"
        print(f"{m.id:<{width}}  {m.task:<14} {m.source:<9} {params}  {_local(m):<10}  {m.name}")
    print(f"\nLadders: {', '.join(l.id for l in catalog.ladders)}")
    return 0


def _local(entry: ModelEntry) -> str:
    """Whether a catalog model can be used offline: shipped (bundled), built from a config
    (synthetic), or a hub model that is in the local cache or not."""
    if entry.source == "hub":
        from .catalog import is_cached

        return "cached" if is_cached(entry) else "not cached"
    return entry.source


def read_lines(stream, max_chars: int = MAX_LINE_CHARS, on_blank=None):
    """(text, note) per non-blank line, as it arrives: an endless stream is served line by line.

    At most max_chars + 1 characters are held at a time; the rest of a longer line is skipped
    (read in pieces of the same size) and the note says how much. A blank line is skipped, and
    on_blank(line_number) hears of it: the lines after it are still read.
    """
    number = 0
    while line := stream.readline(max_chars + 1):
        number += 1
        note = None
        if len(line) > max_chars and not line.endswith("\n"):
            skipped = len(line) - max_chars
            line = line[:max_chars]
            while (rest := stream.readline(max_chars + 1)) and not rest.endswith("\n"):
                skipped += len(rest)
            skipped += len(rest.rstrip("\n"))
            note = f"line {number} was cut to its first {max_chars:,} characters ({skipped:,} more skipped)."
        if line.strip():
            yield line.rstrip("\r\n"), note
        elif on_blank is not None:
            on_blank(number)


def _texts(args):
    """(text, note) pairs from --text, --file or standard input, read lazily."""
    if args.text:
        yield from ((text, None) for text in args.text)
        return
    where = args.file or "standard input"

    def on_blank(number: int) -> None:
        _warn(f"line {number} of {where} is empty: skipped.")

    try:
        if args.file:  # a regular file or a pipe (<(...), /dev/stdin); never a device such as /dev/zero
            stream = open_regular(args.file, f"the texts from {where}", allow_fifo=True)
            with open(stream.fileno(), encoding="utf-8", closefd=False) as text, stream:
                yield from read_lines(text, on_blank=on_blank)
        else:
            yield from read_lines(sys.stdin, on_blank=on_blank)
    except (OSError, UnicodeDecodeError) as exc:  # unreadable, not UTF-8 text
        raise InputError(f"Cannot read the texts from {where}: {exc}") from exc


def _is_folder(path: str) -> bool:
    try:
        return Path(path).is_dir()
    except OSError:  # a name too long for the file system: not a folder, so maybe a catalog id
        return False


def _check_outputs(args, *paths) -> None:
    """Before any work: every output can be written (a file that exists is kept unless --force),
    and no two outputs are the same file (the CSV would replace the JSON run)."""
    given = [path for path in paths if path is not None]
    for path in given:
        check_writable(path, force=args.force)
    seen = {}
    for path in given:
        real = os.path.realpath(path)
        if real in seen:
            raise InputError(f"{seen[real]} and {path} are the same file; give each output its own name.")
        seen[real] = path


def _save(save, path, *args) -> None:
    """Write an output file; a path that cannot be written is the user's error, not a traceback."""
    try:
        save(path, *args)
    except OSError as exc:
        raise SizeLabError(f"Cannot write {path}: {exc}") from exc


def cmd_run(args) -> int:
    from . import tasks

    loaded = _load(args)
    if not args.json:  # --json repeats them in every record; here once, before the first result
        for warning in loaded.info.warnings:
            _warn(warning)
    if loaded.kind == ModelKind.CAUSAL_LM:
        return _run_generation(args, loaded, _texts(args))
    count = 0
    for text, note in _texts(args):
        count += 1
        if note:
            _warn(note)
        if loaded.kind == ModelKind.SEQ2SEQ:
            result = tasks.translate(loaded, text, max_new_tokens=args.max_new_tokens, num_beams=args.beams)
            record = {"text": text, "translation": result.text, "new_tokens": result.new_tokens,
                      "time_to_first_token_s": result.time_to_first_token,
                      "tokens_per_s": result.tokens_per_second}
        else:
            result = tasks.classify(loaded, [text])
            prediction = result.predictions[0]
            record = {"text": text, "label": prediction.label, "scores": prediction.scores,
                      "uncertain": prediction.uncertain}
        record |= {"phases_s": result.phases, "latency_s": result.latency,
                   "warnings": loaded.info.warnings + result.warnings + ([note] if note else []),
                   "model": loaded.entry.id, "variant": loaded.request.variant.to_dict(), "device": args.device}
        if args.json:
            print(json_text(record), flush=True)
        else:
            answer = record.get("translation") or f"{record['label']} ({record['scores'][record['label']]:.0%})"
            answer = f"uncertain: {answer}" if record.get("uncertain") else answer
            print(f"{answer}\t{result.latency * 1000:.1f} ms\t{text[:60]}", flush=True)
            for warning in result.warnings:
                _warn(warning)
    if not count:
        raise SizeLabError("No text given: use --text, --file or standard input.")
    return 0


def _generation_settings(args):
    from .requests import GenerationSettings

    return GenerationSettings(max_new_tokens=args.max_new_tokens, do_sample=args.sample,
                              temperature=args.temperature, top_p=args.top_p, seed=args.seed)


def generation_record(loaded, result) -> dict:
    """One generation as JSON: the result's fields plus what produced it (the GUI keeps the same)."""
    return result.to_dict() | {"warnings": loaded.info.warnings + result.warnings, "model": loaded.entry.id,
                               "variant": loaded.request.variant.to_dict(), "device": loaded.request.device}


def _run_generation(args, loaded, prompts) -> int:
    """prompts: (text, note) pairs, as _texts reads them."""
    from . import generation

    settings = _generation_settings(args)
    count = 0
    for prompt, note in prompts:
        count += 1
        if note:
            _warn(note)
        stream = None
        if not args.json and sys.stdout.isatty():
            def stream(event):
                print(event.delta, end="", flush=True)
        result = generation.generate(loaded, prompt, settings, on_token=stream)
        if args.json:
            print(json_text({"prompt": prompt} | generation_record(loaded, result)), flush=True)
            continue
        print(("\n" if stream else result.text + "\n"), end="")
        itl = result.inter_token["p50"] * 1000 if result.inter_token else float("nan")
        rate = result.decode_tokens_per_second
        print(f"TTFT {result.time_to_first_token * 1000:.1f} ms  ITL p50 {itl:.1f} ms  "
              f"{'%.1f' % rate if rate else 'n/a'} tok/s  {result.new_tokens} tokens  "
              f"stopped: {result.stop_reason_text}  KV cache {result.kv_cache_bytes / 2**20:.1f} MiB",
              file=sys.stderr)
        for warning in result.warnings:
            _warn(warning)
    if not count:
        raise SizeLabError("No text given: use --text, --file or standard input.")
    return 0


def _bench_generation(args, loaded) -> int:
    from . import generation
    from .environment import environment
    from .report import write_json_atomic

    bench = generation.benchmark_generation(loaded, prompt_tokens=args.seq_len, new_tokens=args.new_tokens,
                                            iterations=args.min_iterations, warmup=args.warmup)
    report = {"model": {"id": loaded.entry.id, "name": loaded.entry.name, "variant": loaded.request.variant.to_dict(),
                        "device": args.device} | loaded.info.to_dict(),
              "generation": bench.to_dict(), "environment": environment(args.device)}
    if args.out:
        _save(write_json_atomic, args.out, report)
    itl = bench.inter_token
    print(f"{loaded.entry.id} [{args.variant.label()}] prompt {bench.prompt_tokens} + {bench.new_tokens} new tokens: "
          f"TTFT p50 {bench.time_to_first_token['p50'] * 1000:.1f} ms  ITL p50 {itl['p50'] * 1000:.2f} "
          f"p90 {itl['p90'] * 1000:.2f} p99 {itl['p99'] * 1000:.2f} ms  decode {bench.decode_tokens_per_second:.1f} tok/s  "
          f"KV cache {bench.kv_cache_bytes / 2**20:.1f} MiB  (n={bench.iterations})")
    for warning in loaded.info.warnings:
        _warn(warning)
    if bench.prompt_tokens < args.seq_len:  # core.generation caps it silently
        _warn(f"--seq-len {args.seq_len} was capped to {bench.prompt_tokens}, so that the prompt and "
              f"{bench.new_tokens} new tokens fit in {loaded.entry.name}'s context.")
    return 0


def cmd_bench(args) -> int:
    from .bench import benchmark
    from .environment import environment
    from .report import write_json_atomic

    protocol = Protocol(batch_size=args.batch, seq_len=args.seq_len, warmup=args.warmup,
                        min_iterations=args.min_iterations, min_seconds=args.min_seconds,
                        new_tokens=args.new_tokens)
    _check_outputs(args, args.out)
    loaded = _load(args)
    if loaded.kind == ModelKind.CAUSAL_LM:
        return _bench_generation(args, loaded)
    report = benchmark(loaded, protocol, environment=environment(args.device)).to_dict()
    if args.out:
        _save(write_json_atomic, args.out, report)
    latency = report["latency"]
    print(f"{loaded.entry.id} [{args.variant.label()}] batch {args.batch} x {report['protocol']['seq_len_used']}: "
          f"p50 {latency['p50'] * 1000:.2f} ms  p90 {latency['p90'] * 1000:.2f} ms  p99 {latency['p99'] * 1000:.2f} ms"
          f"  (n={latency['n']}{', noisy' if latency['noisy'] else ''})  "
          f"peak RSS over baseline {report['memory']['rss_peak_over_baseline'] / 2**20:.0f} MiB")
    for warning in loaded.info.warnings + report["warnings"]:
        _warn(warning)
    _warn_capped(args.seq_len, report["protocol"]["seq_len_used"], loaded.entry.name)
    return 0


def _warn_capped(asked: int, used: int, name: str, option: str = "--seq-len ") -> None:
    """core.bench takes min(seq_len, the model's max length) without a word; say so here."""
    if used < asked:
        _warn(f"{option}{asked} was capped to {used}, the longest input {name} takes.")


def cmd_train_head(args) -> int:
    from . import paths, sentence
    from .report import write_json_atomic
    from .training import cross_validate, train_family

    progress = _stderr_progress if sys.stderr.isatty() else _no_progress
    if args.cross_validate:
        report = cross_validate(args.folds, args.epochs, args.sample, progress=progress)
        _save(write_json_atomic, paths.HEADS / sentence.HEAD_NAME / "cross_validation.json", report)
        print(file=sys.stderr)
        for method, result in report["results"].items():
            print(f"{method}: {args.folds}-fold accuracy by depth "
                  + " ".join(f"L{k} {v:.1%}" for k, v in result["accuracy"].items()) + f" ({result['seconds']} s)")
        print(f"chosen: {report['chosen']}")
        return 0
    reports = train_family(progress=progress, epochs=args.epochs, retrain_encoder=not args.keep_encoder)
    print(file=sys.stderr)
    for name, report in reports.items():
        for depth, variants in sorted(report["results"]["fp32"].items()):
            int8 = report["results"]["int8"][depth]
            cells = [f"{split} {variants[split]['accuracy']:.1%} (int8 {int8[split]['accuracy']:.1%})"
                     for split in ("dev", "hard_test") if split in variants]
            print(f"{name} depth {depth}: " + ", ".join(cells)
                  + f"; ECE dev {variants['dev']['ece']:.3f} -> {variants['dev']['ece_calibrated']:.3f}")
    return 0


def cmd_compare(args) -> int:
    from . import compare_data as compare  # the run's records, tables and files
    from .compare import run_compare  # the measuring (imports torch)
    from .catalog import LadderMember, is_cached

    if args.diff:
        a, b = (_saved_run(path) for path in args.diff)
        print(compare.text_diff(compare.diff_runs(a, b), *(Path(p).name for p in args.diff)))
        return 0
    reference = args.reference - 1 if args.reference else None
    if args.open:
        print(compare.text_table(_saved_run(args.open), reference))
        return 0
    _check_outputs(args, args.out, args.csv)
    catalog = load_catalog()
    members = list(catalog.ladder(args.ladder).members) if args.ladder else []
    for spec in args.member or []:
        where, _, variant = spec.partition("@")
        entry = (ModelEntry.for_folder(where, args.task or "classification") if _is_folder(where)
                 else catalog.get(where))
        members.append(LadderMember(entry, Variant.parse(variant) if variant else Variant()))
    for url, model in args.endpoint or []:  # remote rows beside the local ones, measured the same way
        members.append(LadderMember(ModelEntry.for_endpoint(url, model, key_env=args.key_env), Variant()))
    for member in [m for m in members if m.model.source == "hub" and not is_cached(m.model)]:
        print(f"skipped {member.model.id}: not in the local Hugging Face cache", file=sys.stderr)
        members.remove(member)
    if not members:
        raise SizeLabError("Nothing to compare: give --ladder or --member (`sizelab-cli models` lists both).")
    request = compare.CompareRequest(
        members=tuple(members), ladder=args.ladder or "", device=args.device, threads=args.threads,
        protocol=Protocol(batch_size=args.batch, seq_len=args.seq_len, warmup=args.warmup,
                          min_iterations=args.min_iterations, min_seconds=args.min_seconds,
                          new_tokens=args.new_tokens),
        sweep=compare.Sweep.parse(args.sweep) if args.sweep else None,
        quality=not args.no_quality, quality_limit=args.quality_limit)
    tty = sys.stderr.isatty()
    collector = compare.RunCollector()
    with _sigterm_as_interrupt():
        try:
            for record in run_compare(request):
                collector.add(record)
                run = collector.run
                if isinstance(record, compare.RowProgress) and tty:
                    _stderr_progress(record.fraction, record.message[:60])
                elif isinstance(record, (compare.RowFinished, compare.RowFailed)):
                    row = record.row
                    outcome = (f"p50 {row['latency']['p50'] * 1000:.2f} ms" if row["status"] == "done"
                               else f"FAILED: {row['error']}")
                    print(("\r" if tty else "") + f"[{record.index + 1}/{len(members)}] {row['model']['name']} "
                          f"[{row.get('label') or row['model']['variant_label']}]: {outcome}", file=sys.stderr)
                    if row["status"] == "done":
                        _warn_row_capped(row, request)
                # the file is rewritten after every row: a killed run loses at most the row in progress
                if args.out and not isinstance(record, (compare.RowProgress, compare.RowStarted)):
                    _save(compare.save_run, args.out, run)
        except KeyboardInterrupt:  # Ctrl+C, or SIGTERM (see _sigterm_as_interrupt)
            if args.out and collector.run is not None:
                collector.add(compare.RunFinished("interrupted"))  # unfinished rows become "not run"
                _save(compare.save_run, args.out, collector.run)
            raise
    run = collector.run
    if args.csv:
        _save(compare.save_csv, args.csv, run, reference)
    print(compare.text_table(run, reference))
    return 1 if any(row["status"] == "failed" for row in run["rows"]) else 0


def _saved_run(path: Path) -> dict:
    """compare.load_run, whose message for a file that is not JSON at all is the parser's alone."""
    from .compare_data import load_run

    try:
        return load_run(path)
    except InputError as exc:
        if isinstance(exc.__cause__, ValueError):  # JSONDecodeError, UnicodeDecodeError: not JSON text
            raise InputError(f"{path} is not JSON, so not a saved comparison (`compare --out FILE` writes one): "
                             f"{exc.__cause__}.") from exc
        raise


def _warn_row_capped(row: dict, request) -> None:
    """A measured row whose inputs were shorter than asked (core.bench caps at the model's max length)."""
    if row.get("kind") == "endpoint":  # its prompt is counted in words, and never capped
        return
    name = f"{row['model']['name']} [{row.get('label') or row['model']['variant_label']}]"
    _warn_capped(request.protocol.seq_len, row["protocol_used"]["seq_len_used"], name)
    if request.sweep is not None and request.sweep.axis == "seq_len":
        for point in row.get("sweep") or []:
            _warn_capped(point["value"], point["seq_len_used"], name, option="--sweep seq_len=")


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (kill, a session's end, a CI timeout) ends a long run as Ctrl+C does: the saved run
    says "interrupted". Without this, Python dies at once and the file says "running"."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _quiet_broken_pipe() -> int:
    """The reader of our output went away (`| head -1`): stop quietly, as Unix tools do.

    Python would report the failed flush of stdout once more at exit; stdout now points to /dev/null.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # a stdout with no file descriptor (tests): nothing to flush
        pass
    return 128 + signal.SIGPIPE  # 141, what a shell reports for a tool ended by SIGPIPE


def cmd_runtimes(args) -> int:
    from . import runtimes
    from .runtimes import cache
    from .variants import RUNTIMES

    if args.remove or args.clear:
        for name in cache.remove(None if args.clear else args.remove):
            print(f"removed {name}")
        return 0
    found = cache.entries()
    if args.json:
        print(json.dumps({"runtimes": [{"runtime": r, "installed": runtimes.installed(r),
                                        "int8": runtimes.installed(r, int8=True), "version": runtimes.version(r),
                                        "install": runtimes.install_hint(r)} for r in RUNTIMES],
                          "cache": str(cache.cache_root()),
                          "converted": [{"name": e.name, "bytes": e.bytes} | e.meta for e in found]}, indent=2))
        return 0
    for runtime in RUNTIMES:
        spec = runtimes.SPECS[runtime]
        if runtimes.installed(runtime):
            int8 = "" if runtimes.installed(runtime, int8=True) else f" (int8 needs {', '.join(spec.int8_modules)})"
            print(f"{spec.title:<14} {runtimes.version(runtime)}{int8}")
        else:
            print(f"{spec.title:<14} not installed: {runtimes.install_hint(runtime)}")
    total = sum(e.bytes for e in found)
    print(f"\nConverted models in {cache.cache_root()}: {len(found)}, {total / 2**20:.1f} MiB")
    for e in found:
        print(f"  {e.name}  {e.bytes / 2**20:7.1f} MiB  {e.meta.get('model_name', '?')} [{e.meta.get('label', '?')}]")
    return 0




def cmd_endpoint(args) -> int:
    """Measure an OpenAI-compatible endpoint from this side: one streamed request, then each concurrency level."""
    from . import endpoint as remote
    from .report import write_json_atomic

    _check_outputs(args, args.out)
    target = remote.Endpoint(base_url=args.url, model=args.model, key_env=args.key_env, api=args.api,
                             timeout_s=args.timeout, max_retries=args.retries)
    for warning in target.warnings():
        print(f"sizelab-cli: warning: {warning}", file=sys.stderr)
    prompts = args.prompt or [DEFAULT_PROMPT]
    first = remote.stream(target, prompts[0], max_tokens=args.max_new_tokens, temperature=args.temperature,
                          on_text=None if args.json else _echo_delta)
    if not args.json:
        print(file=sys.stderr)
    report = {"endpoint": target.to_dict(), "single": first.to_dict(), "levels": []}
    levels = tuple(_whole_numbers(args.concurrency)) if args.concurrency else ()
    for level in remote.measure_concurrency(target, prompts, levels, args.requests, args.max_new_tokens) if levels else ():
        summary = level.to_dict()
        report["levels"].append(summary)
        if not args.json:
            ttft, itl = summary["time_to_first_token_s"], summary["inter_token_latency_s"]
            print(f"concurrency {level.concurrency}: {summary['requests_per_s'] or 0:.2f} req/s, "
                  f"{summary['output_tokens_per_s'] or 0:.1f} tok/s, TTFT p50 "
                  f"{ttft['p50'] * 1000 if ttft else float('nan'):.0f} ms, ITL p50 "
                  f"{itl['p50'] * 1000 if itl else float('nan'):.1f} ms, errors {level.errors}", file=sys.stderr)
    if args.out:
        _save(write_json_atomic, args.out, report)
    if args.json:
        print(json_text(report))
    else:
        single = report["single"]
        itl = single["inter_token_latency_s"]
        print(f"{target.host} {target.model}: TTFT {single['time_to_first_token_s'] * 1000:.0f} ms, "
              f"ITL p50 {itl['p50'] * 1000 if itl else float('nan'):.1f} ms, "
              f"{single['decode_tokens_per_s'] or float('nan'):.1f} tok/s decode, "
              f"{single['completion_tokens']} tokens ({single['token_count_source']}), "
              f"end to end {single['end_to_end_s']:.2f} s, retries {single['retries']}")
    return 0


def cmd_serve(args) -> int:
    """A causal LM behind an OpenAI-compatible endpoint, until Ctrl+C (or SIGTERM)."""
    from . import serve

    token = os.environ.get(args.token_env, "").strip() or None
    serve.check_bind(args.host, token)  # before loading: a refused address costs no minutes
    if args.task is None:
        args.task = "generation"
    loaded = _load(args)
    if loaded.kind != "causal-lm":
        raise InputError(f"{loaded.entry.name} is not a causal language model; serve generates text "
                         "(e.g. --model synthetic/gpt2, or --folder with a GPT-2, Pythia, Llama or Qwen2 checkpoint).")
    name = args.served_name or loaded.entry.name
    try:
        server = serve.make_server(serve.ServerConfig(model_name=name, backend=serve.generation_backend(loaded),
                                                      token=token), host=args.host, port=args.port)
    except OSError as exc:
        raise SizeLabError(f"Cannot listen on {args.host}:{args.port}: {exc.strerror or exc}.") from exc
    host, port = server.server_address[:2]
    for warning in loaded.info.warnings:
        _warn(warning)
    print(f"serving {name!r} [{loaded.request.variant.label(loaded.info.layers_full)}] at "
          f"http://{'[' + host + ']' if ':' in host else host}:{port}/v1"
          + (" (token required)" if token else ""), flush=True)
    with _sigterm_as_interrupt():
        try:
            server.serve_forever()
        finally:
            server.server_close()
    return 0


DEFAULT_PROMPT = "Explain in three sentences why smaller language models can be faster."


def _echo_delta(delta: str, text: str) -> None:
    print(delta, end="", file=sys.stderr, flush=True)


def _whole_numbers(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise InputError(f"Cannot read {text!r}: write whole numbers separated by commas, e.g. 1,2,4.") from None


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Every option's default after its help. None and False (a flag, or "not given") add nothing:
    their help says what not giving them means."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


class _VersionAction(argparse.Action):
    """--version: this app's version and the libraries' that measure, from their installed metadata
    (no torch import: that alone takes seconds)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())  # on stdout, as argparse's own version action does
        parser.exit()


def version_text() -> str:
    """"sizelab-cli 0.1.0 (torch 2.5.1, transformers 4.48.0, Python 3.11.7)"."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from . import __version__

    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "not installed"

    try:
        app = version("model-size-lab")
    except PackageNotFoundError:  # run from a source tree, or frozen without the metadata
        app = __version__
    return (f"sizelab-cli {app} (torch {installed('torch')}, transformers {installed('transformers')}, "
            f"Python {platform.python_version()})")


def _command(sub, name: str, help: str) -> argparse.ArgumentParser:
    """A subcommand whose -h says what it does and every option's default."""
    return sub.add_parser(name, help=help, description=help[:1].upper() + help[1:] + ".",
                          formatter_class=_HelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sizelab-cli", formatter_class=_HelpFormatter,
        description="Model Size Lab, headless: what a smaller model buys, measured on this machine.",
        epilog="`sizelab-cli COMMAND -h` lists a command's options and their defaults.")
    parser.add_argument("--version", action=_VersionAction,
                        help="print the version of sizelab-cli, torch and transformers, and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = _command(sub, "models", "list the models the app offers, and whether each can be used offline")
    p.add_argument("--task", choices=TASKS, help="only the models of this task (default: every task)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_models)
    p = _command(sub, "run", "classify, translate or generate from texts (one result per line on stdout)")
    _model_options(p)
    p.add_argument("--text", action="append",
                   help="a text (repeatable); with neither --text nor --file, one text per line of standard input")
    p.add_argument("--file", help="a file with one text per line (empty lines are skipped)")
    p.add_argument("--json", action="store_true", help="one JSON object per text")
    p.add_argument("--max-new-tokens", type=int, default=RunRequest.max_new_tokens,
                   help="translation, generation: the most tokens to generate")
    p.add_argument("--beams", type=int, default=1, help="translation: beam search width (1 is greedy)")
    p.add_argument("--sample", action="store_true", help="generation: sample instead of greedy")
    p.add_argument("--temperature", type=float, default=1.0, help="generation with --sample")
    p.add_argument("--top-p", type=float, default=1.0, help="generation with --sample")
    p.add_argument("--seed", type=int, default=None,
                   help="generation with --sample: reproducible text (default: not seeded, new text each run)")
    p.set_defaults(func=cmd_run)
    p = _command(sub, "bench", "benchmark one model variant")
    _model_options(p)
    _protocol_options(p)
    p.add_argument("--out", type=Path, help="write the JSON report here (default: print the summary only)")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_bench)
    p = _command(sub, "train-head", "retrain the bundled sentiment family (deterministic; writes each "
                                    "model's report.json and calibration.json)")
    p.add_argument("--keep-encoder", action="store_true",
                   help="keep the shipped adapter and linear heads; redo calibration and the distilled models")
    p.add_argument("--cross-validate", action="store_true",
                   help="instead: k-fold accuracy of the adapter against full fine-tuning, on the training data")
    p.add_argument("--folds", type=int, default=3, help="folds for --cross-validate")
    p.add_argument("--sample", type=int, default=None,
                   help="--cross-validate on this many training sentences (default: all of them)")
    p.add_argument("--epochs", type=int, default=5, help="passes over the training data (adapter and heads)")
    p.set_defaults(func=cmd_train_head)
    p = _command(sub, "compare", "run one benchmark protocol over a size ladder (exit 1 if a row failed)")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--ladder", help="a catalog ladder id (see `models`), e.g. bundled-depths")
    what.add_argument("--open", type=Path, help="print the table of a saved run (a JSON file from --out) "
                                                "instead of measuring")
    what.add_argument("--diff", type=Path, nargs=2, metavar=("A", "B"), help="compare two saved runs")
    p.add_argument("--member", action="append",
                   help="MODEL[@VARIANT]: a catalog id or checkpoint folder, e.g. synthetic/bert-tiny@int8,L1 "
                        "(repeatable; added after the ladder's members)")
    p.add_argument("--endpoint", nargs=2, action="append", metavar=("URL", "MODEL"),
                   help="an OpenAI-compatible endpoint as a row, e.g. http://127.0.0.1:8000/v1 gpt2 (repeatable)")
    p.add_argument("--key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the endpoints' API key")
    p.add_argument("--task", choices=TASKS, help="task of --member folders (default: classification)")
    p.add_argument("--device", default="cpu", help="cpu, cuda:0, mps")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: torch's choice)")
    _protocol_options(p)
    p.add_argument("--sweep", help="also time each row at these sizes, e.g. seq_len=32,64,128 or batch_size=1,8")
    p.add_argument("--no-quality", action="store_true", help="skip accuracy / chrF")
    p.add_argument("--quality-limit", type=int, default=None,
                   help="score only the first N examples (default: every example)")
    p.add_argument("--reference", type=int, default=None,
                   help="row number (#) to compare against (default: the most parameters)")
    p.add_argument("--out", type=Path, help="write the run as JSON (rewritten after every row)")
    p.add_argument("--csv", type=Path, help="write the table as CSV")
    p.add_argument("--force", action="store_true", help="overwrite --out and --csv if they exist")
    _verbose_option(p)
    p.set_defaults(func=cmd_compare)
    p = _command(sub, "runtimes", "list runtimes (torch, ONNX Runtime, OpenVINO) and converted models")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--remove", metavar="NAME", help="delete one converted model (a name from the list)")
    which.add_argument("--clear", action="store_true", help="delete every converted model")
    p.add_argument("--json", action="store_true", help="print the runtimes and converted models as JSON")
    p.set_defaults(func=cmd_runtimes)
    p = _command(sub, "endpoint", "measure an OpenAI-compatible endpoint (a hosted API, vLLM, llama.cpp, ...)")
    p.add_argument("--url", required=True, help="the API root, e.g. https://api.example.com/v1 or http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="the model name the server knows")
    p.add_argument("--key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (never pass a key itself)")
    p.add_argument("--api", choices=("chat", "completions"), default="chat", help="which API to call")
    p.add_argument("--prompt", action="append",
                   help="a prompt (repeatable; concurrency levels cycle through them; default: a built-in one)")
    p.add_argument("--max-new-tokens", type=int, default=64, help="tokens to generate per request")
    p.add_argument("--temperature", type=float, default=0.0, help="0 is greedy")
    p.add_argument("--concurrency", help="also measure these levels of requests in flight, e.g. 1,2,4,8")
    p.add_argument("--requests", type=int, default=8, help="requests per concurrency level")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for any byte")
    p.add_argument("--retries", type=int, default=2, help="retries on 429/5xx before the first token")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    p.set_defaults(func=cmd_endpoint)
    p = _command(sub, "serve", "serve a causal LM behind an OpenAI-compatible endpoint (loopback by default)")
    _model_options(p, default_task="generation")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (any but loopback needs a token)")
    p.add_argument("--port", type=int, default=8000, help="port (0 picks a free one)")
    p.add_argument("--token-env", default="SIZELAB_SERVE_TOKEN",
                   help="environment variable holding the token clients must send (unset: no token)")
    p.add_argument("--served-name", help="the model name clients ask for (default: the model's name)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        # An argument with bytes that are not UTF-8 arrives as lone surrogates (PEP 383); echoing it
        # back must not raise UnicodeEncodeError where the stream is strict (a UTF-8 locale that is not C).
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) == "strict":
            stream.reconfigure(errors="backslashreplace")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except SizeLabError as exc:
        details = getattr(exc, "details", "")
        if getattr(args, "verbose", False) and details:
            print(details.rstrip("\n"), file=sys.stderr)
        # one line, even when the message came from a library in several
        message = " ".join(line.strip() for line in str(exc).splitlines())
        if details and not getattr(args, "verbose", False):
            message += " (--verbose prints the library's full report)"
        print(f"sizelab-cli: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sizelab-cli: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
