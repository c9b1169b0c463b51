"""Run under torchrun (2 ranks) or alone: train a tiny model, save final weights (rank 0)."""

import os
import sys

import torch
from safetensors.torch import save_file
from torch import nn

from rnnkit.training import Trainer, TrainerConfig, seed_everything


def main(out: str, batch_size: int) -> None:
    torch.set_num_threads(1)
    seed_everything(5)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 4, generator=g)
    data = list(zip(x, x.sum(1, keepdim=True).sin()))
    cfg = TrainerConfig(epochs=2, batch_size=batch_size, optimizer="sgd", lr=0.1,
                        momentum=0.9, progress="none", seed=7, clip_grad_norm=5.0)
    Trainer(cfg).fit(model, data, data[:16], loss_fn=nn.functional.mse_loss)
    if int(os.environ.get("RANK", "0")) == 0:
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
