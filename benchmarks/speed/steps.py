"""Where a training step's time goes: one step (forward, backward, AdamW) of logbert's encoder against
torch's own layers, fp32 against bf16 autocast, logits at the masked keys only (``predict_at``)
against at every position. One process, the same batch for every variant.

    .venv/bin/python -m benchmarks.speed.steps [--device cuda] [--batch 512] [--steps 30]

Prints one line per variant: milliseconds per step (median of ``--steps`` after 5 warm-up steps,
``torch.cuda.synchronize`` around each on a GPU). A diagnosis, not a headline figure: the
headline ratios come from ``benchmarks.speed``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from logbert.config import ModelConfig
from logbert.model.encoder import LogBertEncoder, masked_positions


class TorchLayers(LogBertEncoder):
    """logbert's encoder with torch's ``nn.TransformerEncoder`` in place of its own layers."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        layer = nn.TransformerEncoderLayer(
            config.d_model, config.n_heads, config.d_ff, config.dropout, activation="gelu", batch_first=True,
            norm_first=True,
        )
        self.torch_encoder = nn.TransformerEncoder(layer, config.n_layers, enable_nested_tensor=False)

    def forward(self, token_ids: Tensor, pad_mask: Tensor, *args: object, predict_at: Tensor | None = None,
                **kwargs: object) -> Tensor:  # type: ignore[override]
        pos = torch.arange(token_ids.shape[1], device=token_ids.device)
        x = F.dropout(self.token_emb(token_ids) + self.pos_emb(pos), self.config.dropout, self.training)
        out: Tensor = self.head(self.norm(self.torch_encoder(x, src_key_padding_mask=pad_mask)))
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="the top kernels of the bf16 logbert step")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = ModelConfig(vocab_size=34, max_len=32, d_model=128, d_ff=256, n_heads=4, n_layers=2, dropout=0.1)
    gen = torch.Generator().manual_seed(0)
    tokens = torch.randint(4, 34, (args.batch, 33), generator=gen)
    tokens[:, 0] = 1  # DIST
    pad = torch.zeros(args.batch, 33, dtype=torch.bool)
    chosen = (torch.rand(args.batch, 33, generator=gen) < 0.5) & ~pad
    chosen[:, 0] = False
    labels = torch.where(chosen, tokens, torch.full_like(tokens, -100))
    inputs = tokens.masked_fill(chosen, 2).to(device)
    pad, labels, chosen = pad.to(device), labels.to(device), chosen.to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    for name, cls, bf16, at_masked in (
        ("logbert layers, fp32, logits at masked keys", LogBertEncoder, False, True),
        ("logbert layers, fp32, logits everywhere", LogBertEncoder, False, False),
        ("logbert layers, bf16, logits at masked keys", LogBertEncoder, True, True),
        ("logbert layers, bf16, logits everywhere", LogBertEncoder, True, False),
        ("torch layers, fp32, logits everywhere", TorchLayers, False, False),
        ("torch layers, bf16, logits everywhere", TorchLayers, True, False),
    ):
        torch.manual_seed(0)
        model = cls(config).to(device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type in ("cpu", "cuda"))
        times = []
        for step in range(5 + args.steps):
            sync()
            start = time.perf_counter()
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                if at_masked:
                    positions, used = masked_positions(chosen)
                    logits = model(inputs, pad, predict_at=positions).logits
                    target = labels.gather(1, positions).masked_fill(~used, -100)
                else:
                    out = model(inputs, pad)
                    logits, target = (out if isinstance(out, Tensor) else out.logits), labels
                loss = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=-100)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            opt.step()
            sync()
            if step >= 5:
                times.append(time.perf_counter() - start)
        print(f"{name}: {1000 * statistics.median(times):.2f} ms/step (batch {args.batch}, {device})", flush=True)
        if args.profile and cls is LogBertEncoder and bf16 and at_masked:
            activities = [torch.profiler.ProfilerActivity.CPU]
            if device.type == "cuda":
                activities.append(torch.profiler.ProfilerActivity.CUDA)
            with torch.profiler.profile(activities=activities) as prof:
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    positions, used = masked_positions(chosen)
                    logits = model(inputs, pad, predict_at=positions).logits
                    target = labels.gather(1, positions).masked_fill(~used, -100)
                    loss = F.cross_entropy(logits.flatten(0, 1).float(), target.flatten(), ignore_index=-100)
                opt.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                opt.step()
                sync()
            key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
            print(prof.key_averages().table(sort_by=key, row_limit=12, max_name_column_width=50), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
