"""An RBF-network head over the encoder's mean-pooled sentence embedding, one per depth.

    f(x) = sum_i w_i exp(-gamma ||x - c_i||^2) + b      (w_i, b: one number per label)

The centres c_i come from k-means over the training sentences' embeddings at that depth; gamma
(one per depth, positive through its logarithm) and the weights are fitted to the full model's
calibrated probabilities (distillation). The weights are an nn.Linear, so int8 reaches them too.
It is the alternative to the linear head the bundled model uses: same encoder, same adapter.
"""

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

CENTRES = 48
KMEANS_ITERATIONS = 30


class RBFHead(nn.Module):
    def __init__(self, centres: torch.Tensor, log_gamma: float, labels: int = 2):
        super().__init__()
        self.centres = nn.Parameter(centres.clone())
        self.log_gamma = nn.Parameter(torch.tensor(float(log_gamma)))
        self.output = nn.Linear(centres.shape[0], labels)

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        # ||x - c||^2 expanded: one matmul, and a backward far cheaper than cdist's
        distances = (x.square().sum(1, keepdim=True) - 2 * x @ self.centres.T
                     + self.centres.square().sum(1)).clamp(min=0)
        return torch.exp(-self.log_gamma.exp() * distances)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.activations(x))


def kmeans(points: torch.Tensor, k: int, iterations: int = KMEANS_ITERATIONS, seed: int = 0) -> torch.Tensor:
    """Lloyd's k-means from a k-means++ start, deterministic for a seed; empty clusters keep their centre."""
    generator = torch.Generator().manual_seed(seed)
    centres = [points[torch.randint(len(points), (1,), generator=generator)].squeeze(0)]
    for _ in range(1, k):
        distances = torch.cdist(points, torch.stack(centres)).square().min(dim=1).values
        centres.append(points[torch.multinomial(distances / distances.sum(), 1, generator=generator)].squeeze(0))
    centres = torch.stack(centres)
    for _ in range(iterations):
        assignment = torch.cdist(points, centres).argmin(dim=1)
        for j in range(k):
            members = points[assignment == j]
            if len(members):
                centres[j] = members.mean(dim=0)
    return centres


def fit_head(features: torch.Tensor, teacher: torch.Tensor, labels: torch.Tensor, centres: int = CENTRES,
             epochs: int = 300, seed: int = 0) -> RBFHead:
    """Centres by k-means, gamma from the median distance to the nearest centre, then gamma, weights and
    centres fitted by full-batch Adam to the teacher's probabilities (half) and the gold labels (half)."""
    torch.manual_seed(seed)
    features, teacher = features.clone().float(), teacher.clone()  # may come from inference mode
    start = kmeans(features, centres, seed=seed)
    nearest = torch.cdist(features, start).square().min(dim=1).values.median().clamp(min=1e-4)
    head = RBFHead(start, log_gamma=float(torch.log(1 / nearest)), labels=teacher.shape[1])
    optimizer = torch.optim.Adam(head.parameters(), lr=0.02)
    for _ in range(epochs):
        logits = head(features)
        log_probs = logits.log_softmax(dim=1)
        loss = 0.5 * -(teacher * log_probs).sum(dim=1).mean() + 0.5 * nn.functional.nll_loss(log_probs, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return head.eval()


def save_head(head: RBFHead, path: Path, depth: int, labels) -> None:
    save_file({"centres": head.centres.detach().contiguous(), "log_gamma": head.log_gamma.detach().reshape(1),
               "weight": head.output.weight.detach().contiguous(), "bias": head.output.bias.detach().contiguous()},
              str(path), metadata={"labels": ",".join(labels), "depth": str(depth)})


def load_head(path: Path) -> RBFHead:
    tensors = load_file(str(path))
    head = RBFHead(tensors["centres"], float(tensors["log_gamma"][0]), labels=tensors["weight"].shape[0])
    with torch.no_grad():
        head.output.weight.copy_(tensors["weight"])
        head.output.bias.copy_(tensors["bias"])
    return head.eval()
