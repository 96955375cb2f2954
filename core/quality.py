"""Quality of a variant: accuracy on the labelled dev set, chrF for translation.

The metrics are plain functions of lists, so they are tested without a model. `evaluate` runs a
loaded model over the project's data and keeps its predictions: the agreement with another row is
computed from them later (core.compare_data), once the user has picked the reference row.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import paths
from .cancel import CancelToken
from .errors import InputError
from .records import ModelKind

SENTIMENT_LABELS = ("negative", "positive")
BATCH = 32  # texts classified per call: big enough to be quick, small enough to check cancel often


def accuracy(predicted: list[str], gold: list[str]) -> float:
    """Fraction of predictions equal to the gold label."""
    if not gold or len(predicted) != len(gold):
        raise InputError("Accuracy needs one prediction per labelled example.")
    return sum(p == g for p, g in zip(predicted, gold)) / len(gold)


def chrf(hypotheses: list[str], references: list[str]) -> float:
    """Corpus chrF (sacrebleu's defaults: character 6-grams, beta 2), on a 0-100 scale."""
    from sacrebleu.metrics import CHRF  # here, not at the top: the GUI imports this module at start-up

    if not references or len(hypotheses) != len(references):
        raise InputError("chrF needs one translation per reference.")
    return CHRF().corpus_score(list(hypotheses), [list(references)]).score


def sentiment_dev() -> tuple[list[str], list[str]]:
    """(texts, labels) of the shipped sentiment dev set."""
    from .training import sentiment_split

    examples = sentiment_split("dev")
    return [e.text for e in examples], [e.label for e in examples]


def translation_set(pair: str) -> tuple[list[str], list[str]] | None:
    """(sources, references) for a language pair such as "en-de", or None if none is shipped."""
    path = paths.TRANSLATION_DATA / f"{pair}.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r["source"] for r in rows], [r["reference"] for r in rows]


@dataclass
class QualityResult:
    """What one row scored. value None means "n/a", and note says why."""

    metric: str  # "accuracy" | "chrF" | "perplexity" (lower is better) | ""
    value: float | None
    n: int = 0
    dataset: str = ""
    note: str = ""
    predictions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def evaluate(loaded, limit: int | None = None, cancel: CancelToken | None = None,
             max_new_tokens: int = 128) -> Iterator[tuple[float, str] | QualityResult]:
    """Run a loaded model over the project's data for its task.

    Yields (fraction, message) as it goes, then one QualityResult (like core.bench.run_benchmark).
    Synthetic models get "n/a", never a number: their outputs are meaningless. Predictions are
    kept even when the labels do not fit the gold ones, so agreement with another row still works.
    """
    from . import tasks

    cancel = cancel or CancelToken()
    entry = loaded.entry
    if entry.synthetic:
        yield QualityResult("", None, note="synthetic model: random weights, no quality")
        return
    if loaded.kind == ModelKind.CAUSAL_LM:
        from .generation import Perplexity, perplexity

        for item in perplexity(loaded, cancel=cancel):
            if isinstance(item, Perplexity):
                yield QualityResult("perplexity", item.value, item.tokens, item.dataset,
                                    note=f"strided sliding window {item.window}/{item.stride} tokens; lower is better")
            else:
                yield item
        return
    if loaded.kind == ModelKind.SEQ2SEQ:
        pair = entry.extra.get("pair", "")
        data = translation_set(pair) if pair else None
        if data is None:
            yield QualityResult("chrF", None, note=f"no reference translations for {pair or 'this model'}")
            return
        sources, references = data[0][:limit], data[1][:limit]
        hypotheses = []
        for i, source in enumerate(sources):
            cancel.check()
            # A translation is rarely over twice its source: the cap stops a model that never ends
            # a sentence from costing max_new_tokens each time. generate() cannot go past the
            # model's positions either (a small checkpoint may have only 64).
            source_tokens = len(loaded.tokenizer(entry.prefix + source)["input_ids"])
            limit = max(1, min(max_new_tokens, 2 * source_tokens + 10, loaded.info.max_length - 1))
            hypotheses.append(tasks.translate(loaded, source, max_new_tokens=limit, cancel=cancel).text)
            yield (i + 1) / len(sources), f"Quality: translated {i + 1}/{len(sources)}"
        yield QualityResult("chrF", chrf(hypotheses, references), len(sources), f"translation/{pair}.jsonl",
                            predictions=hypotheses)
        return
    texts, gold = sentiment_dev()
    texts, gold = texts[:limit], gold[:limit]
    predicted = []
    for start in range(0, len(texts), BATCH):
        cancel.check()
        batch = texts[start:start + BATCH]
        predicted += [p.label.lower() for p in tasks.classify(loaded, batch).predictions]
        yield len(predicted) / len(texts), f"Quality: classified {len(predicted)}/{len(texts)}"
    labels = {label.lower() for label in loaded.labels}
    if labels != set(SENTIMENT_LABELS):
        # e.g. LABEL_0/LABEL_1: which one means "positive" is not ours to guess
        yield QualityResult("accuracy", None, len(texts), "sentiment/dev.jsonl",
                            note=f"its labels ({', '.join(sorted(labels))}) are not negative/positive",
                            predictions=predicted)
        return
    yield QualityResult("accuracy", accuracy(predicted, gold), len(texts), "sentiment/dev.jsonl",
                        predictions=predicted)
