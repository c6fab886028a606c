"""`python -m bench.guard_memory [--gpu-gb 24]`: the GPU memory each guard model needs, computed from the
architecture in its config.json (no download, no GPU), and what the compose shares leave for the KV cache.

Weights: parameters × 2 bytes (bf16). Parameters of a Llama/Qwen3 decoder: per layer the attention
projections (q: hidden × heads × head_dim, k and v: hidden × kv_heads × head_dim each, o: heads × head_dim ×
hidden), the MLP (3 × hidden × intermediate) and the norms; plus the embedding (vocab × hidden), and once
more for the output layer when the checkpoint stores it apart from the embedding. KV cache per token:
2 (K and V) × layers × kv_heads × head_dim × 2 bytes. The engine's own overhead (CUDA context, activations of
the largest prefill, CUDA graphs) is not computed here: docs/operations.md budgets about 1 GB for it.
The architectures are those of the base models' config.json (Qwen/Qwen3-0.6B, meta-llama/Llama-3.2-1B).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

GB = 1e9
MIB = 2**20


@dataclass(frozen=True)
class Arch:
    name: str
    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab: int
    qk_norm: bool = False

    def parameters(self, *, separate_output: bool) -> int:
        h, d = self.hidden, self.head_dim
        attention = h * self.heads * d + 2 * h * self.kv_heads * d + self.heads * d * h
        layer = attention + 3 * h * self.intermediate + 2 * h + (2 * d if self.qk_norm else 0)
        embedding = self.vocab * h
        return self.layers * layer + embedding * (2 if separate_output else 1) + h

    @property
    def kv_bytes_per_token(self) -> int:
        return 2 * self.layers * self.kv_heads * self.head_dim * 2


QWEN3GUARD_0_6B = Arch("Qwen3Guard-Gen-0.6B", 1024, 28, 3072, 16, 8, 128, 151_936, qk_norm=True)
LLAMA_GUARD_3_1B = Arch("Llama-Guard-3-1B", 2048, 16, 8192, 32, 8, 64, 128_256)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guard_memory")
    parser.add_argument("--gpu-gb", type=float, default=24.0, help="the GPU's memory (default: 24 GB)")
    parser.add_argument("--overhead-gb", type=float, default=1.0, help="the engine's own share (default 1)")
    args = parser.parse_args(argv)
    shares = {QWEN3GUARD_0_6B.name: 0.15, LLAMA_GUARD_3_1B.name: 0.20}  # docker-compose.yml defaults
    for arch in (QWEN3GUARD_0_6B, LLAMA_GUARD_3_1B):
        tied = arch.parameters(separate_output=False)
        untied = arch.parameters(separate_output=True)
        kv = arch.kv_bytes_per_token
        budget = shares[arch.name] * args.gpu_gb * GB
        left = budget - 2 * untied - args.overhead_gb * GB
        print(
            f"{arch.name}: {tied / GB:.3f} B parameters ({untied / GB:.3f} B with a separate output layer); "
            f"bf16 weights {2 * tied / GB:.2f}-{2 * untied / GB:.2f} GB; KV cache {kv // 1024} KiB per token, "
            f"{kv * 8192 / MIB:.0f} MiB per 8192-token sequence"
        )
        print(
            f"  compose share {shares[arch.name]:.2f} of {args.gpu_gb:g} GB = {budget / GB:.1f} GB: after the "
            f"weights and {args.overhead_gb:g} GB of engine, {max(left, 0) / GB:.2f} GB of KV cache = "
            f"{max(left, 0) / kv:,.0f} tokens"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
