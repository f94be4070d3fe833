#!/usr/bin/env python3
"""Golden chat-template renders from HF transformers for mixserve's chat-template tests.

Renders every `*.jinja` template of the templates folder (default tests/data/chat_templates) for every
conversation of conversations.json, with add_generation_prompt True ("gen") and False ("nogen"), exactly as
`tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=...)` does, and writes

    {"_meta": {...}, "<template name>": {"<conversation index>": {"gen": text or {"error": ..., "error_type": ...},
                                                                  "nogen": ...}}}

The template name is the file name without ".jinja"; its special tokens (bos_token, eos_token, ...) come from
conversations.json's "special_tokens" map, standing in for the tokenizer's special_tokens_map. It needs only the
repo's files (no network, no model). See README.md next to this file.
"""
import argparse
import datetime
import hashlib
import json
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_TEMPLATES = os.path.join(REPO_ROOT, "tests", "data", "chat_templates")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="output JSON path (e.g. tests/data/chat_templates/golden.json)")
    p.add_argument("--templates", default=DEFAULT_TEMPLATES, help="folder of *.jinja templates (default: %(default)s)")
    p.add_argument("--conversations", default=None, help="conversations JSON (default: TEMPLATES/conversations.json)")
    p.add_argument("--renderer", choices=["auto", "transformers", "jinja2"], default="auto",
                   help="transformers: call transformers' own renderer (required for goldens); jinja2: a replica of "
                        "HF's jinja2 environment, for machines without transformers; auto: transformers if importable")
    return p.parse_args()


def fail(message):
    print(f"hf_chat_template.py: {message}", file=sys.stderr)
    sys.exit(2)


def transformers_renderer():
    """transformers' own code path of apply_chat_template, minus the tokenizer."""
    import transformers
    from transformers.utils import chat_template_utils as ctu

    meta = {"transformers": transformers.__version__}
    if hasattr(ctu, "render_jinja_template"):  # transformers >= 4.50, including 5.x
        def render(template, messages, add_generation_prompt, special_tokens):
            rendered, _ = ctu.render_jinja_template(
                conversations=[messages], tools=None, documents=None, chat_template=template,
                add_generation_prompt=add_generation_prompt, **special_tokens)
            return rendered[0]

        meta["renderer"] = "transformers.utils.chat_template_utils.render_jinja_template"
        return render, meta
    if hasattr(ctu, "_compile_jinja_template"):  # 4.4x: apply_chat_template calls compiled.render directly
        def render(template, messages, add_generation_prompt, special_tokens):
            compiled = ctu._compile_jinja_template(template)
            return compiled.render(messages=messages, tools=None, documents=None,
                                   add_generation_prompt=add_generation_prompt, **special_tokens)

        meta["renderer"] = "transformers.utils.chat_template_utils._compile_jinja_template"
        return render, meta
    raise ImportError("this transformers has neither render_jinja_template nor _compile_jinja_template")


def jinja2_replica_renderer():
    """HF's environment rebuilt from transformers 5's _compile_jinja_template; its {% generation %} tracker is
    replaced by a block that renders its body unchanged, which is what HF's does when no mask is requested."""
    import jinja2
    from jinja2.ext import Extension, loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Generation(Extension):
        tags = {"generation"}

        def parse(self, parser):
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
            return jinja2.nodes.CallBlock(self.call_method("_body"), [], [], body).set_lineno(lineno)

        def _body(self, caller):
            return caller()

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[Generation, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now

    def render(template, messages, add_generation_prompt, special_tokens):
        return env.from_string(template).render(messages=messages, tools=None, documents=None,
                                                add_generation_prompt=add_generation_prompt, **special_tokens)

    return render, {"renderer": "jinja2 replica of HF's environment", "jinja2": jinja2.__version__}


def make_renderer(kind):
    if kind in ("auto", "transformers"):
        try:
            return transformers_renderer()
        except ImportError as e:
            if kind == "transformers":
                fail(f"transformers is not usable: {e}")
            print(f"hf_chat_template.py: transformers not usable ({e}); using the jinja2 replica", file=sys.stderr)
    return jinja2_replica_renderer()


def render_one(render, template, messages, add_generation_prompt, special_tokens):
    try:
        return render(template, json.loads(json.dumps(messages)), add_generation_prompt, dict(special_tokens))
    except Exception as e:  # the template's raise_exception is a jinja2 TemplateError; record any error
        return {"error": str(e), "error_type": type(e).__name__}


def main():
    args = parse_args()
    conversations_path = args.conversations or os.path.join(args.templates, "conversations.json")
    if not os.path.isfile(conversations_path):
        fail(f"{conversations_path}: not found")
    with open(conversations_path, encoding="utf-8") as f:
        spec = json.load(f)
    names = sorted(n[:-len(".jinja")] for n in os.listdir(args.templates) if n.endswith(".jinja"))
    if not names:
        fail(f"{args.templates}: no *.jinja templates")
    missing = [n for n in names if n not in spec["special_tokens"]]
    if missing:
        fail(f"{conversations_path}: no special_tokens entry for {', '.join(missing)}")

    render, meta = make_renderer(args.renderer)
    try:
        import jinja2
        meta.setdefault("jinja2", jinja2.__version__)
    except ImportError:
        pass
    meta["python"] = sys.version.split()[0]
    meta["templates_sha256"] = {}
    out = {"_meta": meta}
    for name in names:
        with open(os.path.join(args.templates, name + ".jinja"), encoding="utf-8", newline="") as f:
            template = f.read()
        meta["templates_sha256"][name] = hashlib.sha256(template.encode("utf-8")).hexdigest()
        tokens = spec["special_tokens"][name]
        out[name] = {
            str(i): {
                "gen": render_one(render, template, conv["messages"], True, tokens),
                "nogen": render_one(render, template, conv["messages"], False, tokens),
            }
            for i, conv in enumerate(spec["conversations"])
        }
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_errors = sum(isinstance(r, dict) for t in names for c in out[t].values() for r in c.values())
    print(f"wrote {args.out}: {len(names)} templates x {len(spec['conversations'])} conversations x 2 "
          f"({n_errors} renders are errors) with {meta['renderer']}")


if __name__ == "__main__":
    main()
