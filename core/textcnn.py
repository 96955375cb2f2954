"""A convolutional sentence classifier (Kim 2014): the smallest real model of the bundled ladder.

Token embeddings -> 1-D convolutions of widths 2, 3 and 4 -> ReLU -> max over time -> a linear
output. The embedding table is not trained and not shipped: it is the bundled encoder's own word
embedding table (30,522 x 384) projected on its top principal directions, computed at load time
from the installed pack with the projection that is shipped. The convolutions and the output are
distilled from the full model's calibrated probabilities (core.training). It uses the bundled
tokenizer, so it runs on exactly the inputs the encoder sees, and answers in well under a millisecond.
"""

from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

DIM = 128  # principal directions of the encoder's word embeddings kept
WIDTHS = (2, 3, 4)
CHANNELS = 128  # filters per width
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def encoder_word_embeddings() -> torch.Tensor:
    from . import paths

    with safe_open(str(paths.bundled_encoder_dir() / "model.safetensors"), framework="pt") as handle:
        return handle.get_tensor(WORD_EMBEDDINGS).float()


def principal_projection(table: torch.Tensor, dim: int = DIM) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, projection) of the table onto its top `dim` principal directions, signs fixed."""
    mean = table.mean(dim=0)
    _, _, vh = torch.linalg.svd(table - mean, full_matrices=False)
    projection = vh[:dim].T.contiguous()  # (384, dim)
    signs = torch.sign(projection.sum(dim=0))
    return mean, projection * torch.where(signs == 0, 1.0, signs)


class TextCNN(nn.Module):
    """HF-classifier-like interface: forward(input_ids, attention_mask) -> logits."""

    def __init__(self, table: torch.Tensor, widths=WIDTHS, channels: int = CHANNELS, labels: int = 2,
                 dropout: float = 0.3):
        super().__init__()
        self.embedding = nn.Embedding.from_pretrained(table, freeze=True, padding_idx=0)
        self.widths = tuple(widths)
        self.convs = nn.ModuleList(nn.Conv1d(table.shape[1], channels, w, padding=w - 1) for w in self.widths)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(channels * len(self.widths), labels)

    def forward(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        mask = attention_mask.unsqueeze(1).to(self.embedding.weight.dtype)
        x = self.embedding(input_ids).transpose(1, 2) * mask  # (batch, dim, tokens), padding zeroed
        lengths = attention_mask.sum(dim=1, keepdim=True)  # (batch, 1)
        pooled = []
        for width, conv in zip(self.widths, self.convs):
            y = torch.relu(conv(x))  # (batch, channels, tokens + width - 1)
            # windows that touch only padding are not part of the sentence: batched = alone
            valid = torch.arange(y.shape[2], device=y.device).unsqueeze(0) < lengths + width - 1
            pooled.append(y.masked_fill(~valid.unsqueeze(1), 0.0).amax(dim=2))
        return self.output(self.dropout(torch.cat(pooled, dim=1)))


def save(model: TextCNN, mean: torch.Tensor, projection: torch.Tensor, path: Path, labels) -> None:
    tensors = {"mean": mean.contiguous(), "projection": projection.contiguous(),
               "output.weight": model.output.weight.detach().contiguous(),
               "output.bias": model.output.bias.detach().contiguous()}
    for i, conv in enumerate(model.convs):
        tensors[f"convs.{i}.weight"] = conv.weight.detach().contiguous()
        tensors[f"convs.{i}.bias"] = conv.bias.detach().contiguous()
    save_file(tensors, str(path), metadata={"labels": ",".join(labels), "widths": ",".join(map(str, model.widths))})


def load(path: Path) -> TextCNN:
    """The trained model: the pack's embedding table projected with the shipped projection."""
    with safe_open(str(path), framework="pt") as handle:
        widths = tuple(int(w) for w in (handle.metadata() or {})["widths"].split(","))
    tensors = load_file(str(path))
    table = (encoder_word_embeddings() - tensors["mean"]) @ tensors["projection"]
    model = TextCNN(table, widths, channels=tensors["convs.0.weight"].shape[0],
                    labels=tensors["output.weight"].shape[0])
    state = {k: v for k, v in tensors.items() if k.startswith(("convs.", "output."))}
    model.load_state_dict(state | {"embedding.weight": table})
    return model.eval()
