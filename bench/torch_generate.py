#!/usr/bin/env python3
"""torch_generate.py SHAPE PROMPT NEW - PyTorch fp16 generation speed on the GPU, for comparison.

Builds the shape bench/make_decoder.py writes (gpt2-124m or llama-1.1b) with transformers'
GPT2LMHeadModel or LlamaForCausalLM, random weights in fp16 on cuda:0 (eager, SDPA attention),
runs a PROMPT-token prefill and NEW greedy decode steps with its KV cache, three times, and prints
the best `prefill_tok_s decode_tok_s`.
"""
import sys
import time

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM


def build(shape):
    if shape == "gpt2-124m":
        return GPT2LMHeadModel(GPT2Config(n_layer=12, n_embd=768, n_head=12, n_inner=3072,
                                          vocab_size=50257, n_positions=1024))
    if shape == "llama-1.1b":
        return LlamaForCausalLM(LlamaConfig(num_hidden_layers=22, hidden_size=2048,
                                            num_attention_heads=32, num_key_value_heads=4,
                                            intermediate_size=5632, vocab_size=32000,
                                            max_position_embeddings=2048))
    raise SystemExit(f"torch_generate.py: unknown shape {shape}")


def main():
    shape, prompt, new = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    model = build(shape).to(device="cuda", dtype=torch.float16).eval()
    ids = ((torch.arange(prompt, dtype=torch.int64) * 37 + 11) % 96).reshape(1, prompt).cuda()
    best_prefill = best_decode = 0.0
    with torch.inference_mode():
        for _ in range(3):
            torch.cuda.synchronize()
            start = time.perf_counter()
            out = model(input_ids=ids, use_cache=True)
            token = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            prefill = time.perf_counter() - start
            past = out.past_key_values
            start = time.perf_counter()
            for _ in range(new):
                out = model(input_ids=token, past_key_values=past, use_cache=True)
                past = out.past_key_values
                token = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            decode = time.perf_counter() - start
            best_prefill = max(best_prefill, prompt / prefill)
            best_decode = max(best_decode, new / decode)
    print(f"{best_prefill:.1f} {best_decode:.1f}")


if __name__ == "__main__":
    main()
