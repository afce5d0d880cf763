#!/usr/bin/env python3
"""Times diffusers' WanTransformer3DModel forward pass for bench-model's PyTorch comparison.

Loads a transformer folder written by `coordinator init-model` (float32), runs one warm-up forward at 1,024 tokens
and one timed forward at --tokens tokens (batch 1, bench-model's patch grid, --text-length text tokens), with
torch.set_num_threads(--threads), and prints the timed forward's seconds as the last line of stdout.

Command: python3 scripts/bench_model_torch.py --model DIR --tokens 4096 --threads 2 [--text-length 512]
(bench-model calls it; scripts/bench-model.sh passes it when torch and diffusers import.)
Runtime: about as long as the Swift forward pass at the same size.
"""
import argparse
import os
import time

import torch

torch.set_num_threads(1)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    parser.add_argument("--tokens", type=int, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--text-length", type=int, default=512)
    args = parser.parse_args()
    # The benchmark compares at the same thread count as the Swift run.
    torch.set_num_threads(args.threads)
    from diffusers import WanTransformer3DModel

    folder = os.path.join(args.model, "transformer") if os.path.isdir(os.path.join(args.model, "transformer")) \
        else args.model
    model = WanTransformer3DModel.from_pretrained(folder, torch_dtype=torch.float32).eval()
    config = model.config
    p_t, p_h, p_w = config.patch_size
    generator = torch.Generator().manual_seed(0)
    text = torch.randn(1, args.text_length, config.text_dim, generator=generator)
    timestep = torch.tensor([500.0])

    def latent(tokens):
        # The patch grid bench-model uses (BenchOptions.swift, patchGrid): frames of 32 x 32 patches for multiples
        # of 1,024, else one frame of h x w, h the largest divisor not above the square root.
        if tokens % 1024 == 0:
            frames, height, width = tokens // 1024, 32, 32
        else:
            height = int(tokens ** 0.5)
            while tokens % height:
                height -= 1
            frames, width = 1, tokens // height
        return torch.randn(1, config.in_channels, frames * p_t, height * p_h, width * p_w, generator=generator)

    with torch.inference_mode():
        model(latent(1024), timestep, text, return_dict=False)
        hidden = latent(args.tokens)
        start = time.perf_counter()
        model(hidden, timestep, text, return_dict=False)
        seconds = time.perf_counter() - start
    print(f"{seconds:.4f}")


if __name__ == "__main__":
    main()
