#!/usr/bin/env python3
"""Makes every reference fixture under Tests/Fixtures with the PyTorch reference implementations.

Runs each generator in scripts/fixtures/ in dependency order (the pipeline fixture uses the tokenizer
fixture's tokenizer.json; the lora fixture loads the pipeline fixture's model, so rerun it whenever that model
changes; the demo fixture reads models/demo, so rerun it whenever the demo model changes).
Run by hand after changing a generator; commit the outputs. Tests never run Python.

usage: python3 scripts/make_fixtures.py [NAME ...]     (default: all; names are the scripts' stems)
Needs: torch, diffusers, transformers, tokenizers, sentencepiece, safetensors, numpy, Pillow, peft
       (python3 -m pip install torch diffusers transformers tokenizers sentencepiece safetensors pillow peft).
Takes about a minute on one core.
"""
import os
import subprocess
import sys

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ORDER = ["kernel_ops", "schedulers", "transformer", "tokenizer", "umt5", "vae", "media", "pipeline", "lora", "demo"]


def main():
    wanted = sys.argv[1:] or ORDER
    unknown = [name for name in wanted if name not in ORDER]
    if unknown:
        sys.exit(f"unknown fixture set(s): {', '.join(unknown)}; known: {', '.join(ORDER)}")
    for name in ORDER:
        if name not in wanted:
            continue
        script = os.path.join(HERE, name + ".py")
        print(f"== {name}", flush=True)
        subprocess.run([sys.executable, script], check=True)


if __name__ == "__main__":
    main()
