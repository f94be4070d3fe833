#!/usr/bin/env python3
"""Trains mixserve's default model, a small Llama (GQA, RoPE, RMSNorm, SwiGLU, tied embeddings), on the GPU
machine within a fixed wall-clock budget, then checks and measures the saved HF checkpoint.

  python3 tools/train/train_tiny.py --data .traindata --tokenizer third_party/tokenizers/llama2 \
      --heldout tests/data/eval/heldout.txt --out /tmp/mixserve-tiny-en --report $OUT

--data holds what tools/train/fetch_data.sh wrote (train_pages.txt.gz, valid_pages.txt.gz). Each page is
tokenized as <s> page </s> with exactly --tokenizer's tokenizer.json; training reads random windows of
SEQ_LEN + 1 tokens from the concatenated training pages. The learning rate follows a warmup and a cosine
schedule over the wall-clock budget (not a step count, so a slower or faster GPU still ends on time), and the
parameters with the lowest validation loss are the ones saved.

After training, with HF transformers on the saved checkpoint (bf16 and f32): the perplexity of --heldout under
the windowing of `mixserve eval` (the whole text tokenized with <s>, windows of CONTEXT tokens, each scored from
its second token), the perplexity of all validation pages, and greedy completions of a few prompts. Everything
measured goes to REPORT/eval.json; the safetensors file is split into parts of at most 15 MB for the trip
back (the device returns files of at most 16 MiB).
"""
import time

T0 = time.time()  # the budget counts from here, imports included

import argparse
import gzip
import hashlib
import json
import math
import os
import pathlib
import shutil

import torch
import torch.nn as nn
import torch.nn.functional as F
from tokenizers import Tokenizer
from safetensors.torch import save_file
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

# The model: 14.1M parameters (8.2M of them the tied 32000 x 256 embedding), 28.2 MB in bf16.
VOCAB = 32000
HIDDEN = 256
INTERMEDIATE = 704
LAYERS = 8
HEADS = 4
KV_HEADS = 2
HEAD_DIM = 64  # the CUDA attention kernels support 64 and 128
SEQ_LEN = 1024
ROPE_THETA = 10000.0
NORM_EPS = 1e-5
BOS, EOS = 1, 2

BATCH = 64  # windows per step: 65536 tokens
PEAK_LR = 2e-3
FINAL_LR_FRACTION = 0.1
WARMUP_FRACTION = 0.03
WEIGHT_DECAY = 0.1
VAL_EVERY_S = 30.0
VAL_WINDOWS = 128

SAMPLE_PROMPTS = [
    "The meaning of life is",
    "Once upon a time",
    "A computer is",
    "Love is",
    "The best way to learn a language is",
]


def log(msg):
    print(f"[{time.time() - T0:7.1f}s] {msg}", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# The model. Module names mirror HF LlamaForCausalLM so the state dict maps one to one (lm_head is tied).

class RmsNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # HF LlamaRMSNorm: normalize in f32, then scale in the input dtype.
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + NORM_EPS)
        return self.weight * xf.to(x.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)

    def forward(self, x, cos, sin):
        b, t, _ = x.shape
        q = self.q_proj(x).view(b, t, HEADS, HEAD_DIM).transpose(1, 2)     # [b, HEADS, t, HEAD_DIM]
        k = self.k_proj(x).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)  # [b, KV_HEADS, t, HEAD_DIM]
        v = self.v_proj(x).view(b, t, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = (q.float() * cos + rotate_half(q.float()) * sin).to(v.dtype)  # cos, sin [t, HEAD_DIM] f32
        k = (k.float() * cos + rotate_half(k.float()) * sin).to(v.dtype)
        # KV head j serves query heads j*rep .. j*rep+rep-1, as HF's repeat_kv.
        rep = HEADS // KV_HEADS
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(b, t, HEADS * HEAD_DIM))


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.down_proj = nn.Linear(INTERMEDIATE, HIDDEN, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RmsNorm(HIDDEN)
        self.self_attn = Attention()
        self.post_attention_layernorm = RmsNorm(HIDDEN)
        self.mlp = Mlp()

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
        self.norm = RmsNorm(HIDDEN)


class TinyLlama(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Body()
        inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
        freqs = torch.outer(torch.arange(SEQ_LEN, dtype=torch.float32), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)  # [SEQ_LEN, HEAD_DIM]
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)
        self.reset_parameters()

    def reset_parameters(self):
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * LAYERS))  # residual branches (GPT-2 scaling)
            else:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids):  # ids [b, t] -> logits [b, t, VOCAB]
        t = ids.shape[1]
        cos, sin = self.cos[:t], self.sin[:t]
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return F.linear(self.model.norm(x), self.model.embed_tokens.weight)


# ---------------------------------------------------------------------------------------------------------------
# Data.

def read_text(path):
    with open(path, encoding="utf-8", newline="") as f:  # bytes as `mixserve eval` reads them: no newline mapping
        return f.read()


def load_pages(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return f.read().split("\x1e")


def tokenize_pages(tokenizer, pages):
    ids = []
    for enc in tokenizer.encode_batch(pages, add_special_tokens=False):
        ids.append(BOS)
        ids.extend(enc.ids)
        ids.append(EOS)
    return torch.tensor(ids, dtype=torch.int32)


def lr_at(fraction):
    if fraction < WARMUP_FRACTION:
        return PEAK_LR * fraction / WARMUP_FRACTION
    progress = min(1.0, (fraction - WARMUP_FRACTION) / (1 - WARMUP_FRACTION))
    return PEAK_LR * (FINAL_LR_FRACTION + (1 - FINAL_LR_FRACTION) * 0.5 * (1 + math.cos(math.pi * progress)))


@torch.no_grad()
def val_loss(model, val_windows):
    model.eval()
    total, count = 0.0, 0
    for batch in val_windows.split(BATCH):
        batch = batch.cuda().long()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), batch[:, 1:].reshape(-1), reduction="sum")
        total += loss.item()
        count += batch[:, 1:].numel()
    model.train()
    return total / count


def train(args, train_ids, val_ids):
    """val_ids: the validation pages after those of --heldout; they pick the checkpoint kept."""
    torch.manual_seed(args.seed)
    model = TinyLlama().cuda()
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params} parameters ({n_params * 2 / 1e6:.2f} MB in bf16)")
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=PEAK_LR, betas=(0.9, 0.95), eps=1e-8, fused=True)
    n_val = min(VAL_WINDOWS, (len(val_ids) - 1) // SEQ_LEN)
    val_windows = val_ids[: n_val * SEQ_LEN + 1].unfold(0, SEQ_LEN + 1, SEQ_LEN)[:n_val].contiguous()
    train_gpu = train_ids.cuda()
    offsets = torch.arange(SEQ_LEN + 1, device="cuda")
    generator = torch.Generator(device="cuda").manual_seed(args.seed)

    def eager_loss(batch):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = model(batch[:, :-1])
        return F.cross_entropy(logits.float().reshape(-1, VOCAB), batch[:, 1:].reshape(-1))

    # Compiling the loss with the model lets inductor fuse the f32 upcast and log-softmax of the logits.
    loss_fn = eager_loss if args.no_compile else torch.compile(eager_loss)

    # One step without an update first, so that compilation does not eat the warmup of the schedule.
    compile_start = time.time()
    probe = train_gpu[torch.randint(0, len(train_gpu) - SEQ_LEN - 1, (BATCH,), device="cuda",
                                    generator=generator)[:, None] + offsets].long()
    try:
        loss_fn(probe).backward()
    except Exception as e:  # a compiler failure must not cost the run: train eagerly
        log(f"torch.compile failed ({type(e).__name__}: {str(e)[:300]}); training eagerly")
        loss_fn = eager_loss
        loss_fn(probe).backward()
    optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    log(f"first step (compilation included) took {time.time() - compile_start:.1f}s")

    t_start = time.time()
    t_end = T0 + args.budget_s
    best = (float("inf"), None, 0)
    next_val = t_start + VAL_EVERY_S
    step, tokens, ema = 0, 0, None
    history = []
    while True:
        now = time.time()
        fraction = (now - t_start) / (t_end - t_start)
        if fraction >= 1.0:
            break
        lr = lr_at(fraction)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(0, len(train_gpu) - SEQ_LEN - 1, (BATCH,), device="cuda", generator=generator)
        batch = train_gpu[starts[:, None] + offsets].long()
        loss = loss_fn(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        step += 1
        tokens += batch[:, 1:].numel()
        if step % 50 == 0 or time.time() >= next_val:
            value = loss.item()
            ema = value if ema is None else 0.9 * ema + 0.1 * value
        if time.time() >= next_val:
            v = val_loss(model, val_windows)
            elapsed = time.time() - t_start
            history.append({"step": step, "tokens": tokens, "train_loss": ema, "val_loss": v, "lr": lr,
                            "elapsed_s": round(elapsed, 1)})
            log(f"step {step} tokens {tokens / 1e6:.1f}M train {ema:.4f} val {v:.4f} lr {lr:.2e} "
                f"{tokens / elapsed / 1e6:.2f}M tok/s")
            if v < best[0]:
                best = (v, {k: t.detach().clone() for k, t in model.state_dict().items()}, step)
            next_val = time.time() + VAL_EVERY_S
    v = val_loss(model, val_windows)
    history.append({"step": step, "tokens": tokens, "train_loss": ema, "val_loss": v, "lr": 0.0,
                    "elapsed_s": round(time.time() - t_start, 1)})
    log(f"end: step {step} tokens {tokens / 1e6:.1f}M train {ema:.4f} val {v:.4f}")
    if v < best[0]:
        best = (v, {k: t.detach().clone() for k, t in model.state_dict().items()}, step)
    model.load_state_dict(best[1])
    log(f"keeping step {best[2]} (val loss {best[0]:.4f}, val ppl {math.exp(best[0]):.3f})")
    summary = {"parameters": n_params, "steps": step, "tokens_seen": tokens, "best_step": best[2],
               "best_val_loss": best[0], "train_tokens": len(train_ids), "val_tokens": len(val_ids),
               "val_windows": n_val, "history": history}
    return model, summary


# ---------------------------------------------------------------------------------------------------------------
# The HF checkpoint and its measurements.

def hf_config():
    # architectures is what a model's save_pretrained adds; mixserve needs it to pick the architecture.
    return LlamaConfig(architectures=["LlamaForCausalLM"], vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                       num_hidden_layers=LAYERS, num_attention_heads=HEADS, num_key_value_heads=KV_HEADS,
                       head_dim=HEAD_DIM, max_position_embeddings=SEQ_LEN, rms_norm_eps=NORM_EPS,
                       rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
                       tie_word_embeddings=True, hidden_act="silu", attention_bias=False, mlp_bias=False,
                       bos_token_id=BOS, eos_token_id=EOS, pad_token_id=None, use_cache=True,
                       dtype="bfloat16")


def save_checkpoint(model, args):
    """Writes the HF checkpoint (bf16 safetensors, config, generation config, tokenizer); returns its tensors.
    check_checkpoint() then loads it with HF LlamaForCausalLM and returns the largest f32 logit difference to
    our model on the same weights: the check that the names and conventions map one to one."""
    out = pathlib.Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    # Tied embeddings: the file has no lm_head.weight, as HF writes it.
    tensors = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / "model.safetensors"), metadata={"format": "pt"})
    hf_config().save_pretrained(out)
    GenerationConfig(bos_token_id=BOS, eos_token_id=EOS).save_pretrained(out)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(pathlib.Path(args.tokenizer) / name, out / name)

    return tensors


def check_checkpoint(args, tensors):
    hf = LlamaForCausalLM.from_pretrained(args.out, dtype=torch.float32).cuda().eval()
    reference = TinyLlama().cuda()
    reference.load_state_dict({k: v.float() for k, v in tensors.items()})
    ids = (torch.arange(1, 513, device="cuda")[None] * 37) % VOCAB  # 512 arbitrary tokens
    with torch.no_grad():
        diff = (hf(input_ids=ids).logits.float() - reference(ids)).abs().max().item()
    log(f"HF LlamaForCausalLM loading the checkpoint vs the training model, f32 logits max abs diff {diff:.3e}")
    return diff


def window_nll(model, ids, context):
    """Sum of -log p and count over `ids` scored as `mixserve eval` does: windows of `context` tokens, each
    its own sequence from position 0, each scored from its second token."""
    total, count = 0.0, 0
    for begin in range(0, len(ids), context):
        window = ids[begin:begin + context]
        if len(window) < 2:
            break
        with torch.no_grad():
            logits = model(input_ids=window[None].cuda()).logits[0].float()
        logp = torch.log_softmax(logits[:-1], dim=-1)
        total += -logp.gather(1, window[1:, None].cuda()).sum().item()
        count += len(window) - 1
    return total, count


def measure(args, summary, val_ids):
    """val_ids: all validation pages."""
    tokenizer = Tokenizer.from_file(str(pathlib.Path(args.tokenizer) / "tokenizer.json"))
    heldout_text = read_text(args.heldout)
    heldout = torch.tensor(tokenizer.encode(heldout_text, add_special_tokens=True).ids, dtype=torch.long)
    report = {"heldout_file": args.heldout, "heldout_bytes": len(heldout_text.encode("utf-8")),
              "heldout_tokens": len(heldout), "heldout_first_ids": heldout[:16].tolist(), "perplexity": []}
    for dtype_name, dtype in (("bf16", torch.bfloat16), ("f32", torch.float32)):
        hf = LlamaForCausalLM.from_pretrained(args.out, dtype=dtype).cuda().eval()
        cases = [("heldout", heldout, 1024, None), ("heldout", heldout, 1024, 2048),
                 ("heldout", heldout, 1024, 8192), ("heldout", heldout, 512, None),
                 ("valid_pages", val_ids.long(), 1024, None)]
        for name, ids, context, limit in cases:
            part = ids if limit is None else ids[:limit]
            total, count = window_nll(hf, part, context)
            row = {"text": name, "dtype": dtype_name, "context": context, "tokens": len(part),
                   "scored": count, "nll_sum": total, "ppl": math.exp(total / count)}
            report["perplexity"].append(row)
            log(f"HF {dtype_name} {name} tokens={len(part)} context={context}: ppl {row['ppl']:.4f}")
        if dtype_name == "bf16":
            samples = []
            for prompt in SAMPLE_PROMPTS:
                ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=True).ids]).cuda()
                with torch.no_grad():
                    out = hf.generate(input_ids=ids, max_new_tokens=48, do_sample=False)
                text = tokenizer.decode(out[0, ids.shape[1]:].tolist(), skip_special_tokens=True)
                samples.append({"prompt": prompt, "greedy_ids": out[0, ids.shape[1]:].tolist(),
                                "greedy": text})
                log(f"greedy: {prompt!r} -> {text!r}")
            report["samples"] = samples
        del hf
    return report


def main():
    parser = argparse.ArgumentParser(description="train mixserve's default model on the GPU machine")
    parser.add_argument("--data", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--heldout", required=True)
    parser.add_argument("--out", required=True, help="HF checkpoint directory to write")
    parser.add_argument("--report", required=True, help="directory for eval.json and the checkpoint parts")
    parser.add_argument("--budget-s", type=float, default=495.0, help="training ends this long after start")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-compile", action="store_true")
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    log(f"torch {torch.__version__} on {torch.cuda.get_device_name()}")

    tokenizer = Tokenizer.from_file(str(pathlib.Path(args.tokenizer) / "tokenizer.json"))
    train_ids = tokenize_pages(tokenizer, load_pages(pathlib.Path(args.data) / "train_pages.txt.gz"))
    valid_pages = load_pages(pathlib.Path(args.data) / "valid_pages.txt.gz")
    val_ids = tokenize_pages(tokenizer, valid_pages)
    # --heldout is the first validation pages joined by blank lines; the checkpoint is picked on the others.
    heldout_text = read_text(args.heldout)
    n_heldout = next(k for k in range(len(valid_pages) + 1)
                     if len("\n\n".join(valid_pages[:k])) + 1 >= len(heldout_text))
    if "\n\n".join(valid_pages[:n_heldout]) + "\n" != heldout_text:
        log("--heldout is not a prefix of the validation pages: all of them pick the checkpoint")
        n_heldout = 0
    select_ids = tokenize_pages(tokenizer, valid_pages[n_heldout:])
    log(f"tokenized: train {len(train_ids)} tokens, validation {len(val_ids)} tokens "
        f"({n_heldout} pages held out for eval, {len(select_ids)} tokens pick the checkpoint)")

    model, summary = train(args, train_ids, select_ids)
    summary["heldout_pages"] = n_heldout
    tensors = save_checkpoint(model, args)
    # The checkpoint leaves first, before anything that could fail.
    report_dir = pathlib.Path(args.report)
    report_dir.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "generation_config.json"):
        shutil.copy(pathlib.Path(args.out) / name, report_dir / name)
    blob = (pathlib.Path(args.out) / "model.safetensors").read_bytes()
    summary["model_safetensors_bytes"] = len(blob)
    summary["model_safetensors_sha256"] = hashlib.sha256(blob).hexdigest()
    part = 15_000_000
    for i in range(0, len(blob), part):
        (report_dir / f"model.safetensors.part{i // part}").write_bytes(blob[i:i + part])
    log(f"saved {len(blob)} bytes, sha256 {summary['model_safetensors_sha256']}")
    import transformers
    summary["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__,
                           "device": torch.cuda.get_device_name()}
    try:
        summary["hf_mapping_max_abs_diff"] = check_checkpoint(args, tensors)
        summary.update(measure(args, summary, val_ids))
    finally:
        (report_dir / "eval.json").write_text(json.dumps(summary, indent=1))
    log("done")


if __name__ == "__main__":
    main()
