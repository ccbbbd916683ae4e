# test_tok_formats.py — tokenizer.model, tokenizer.json and GGUF vocabularies against
# independent implementations: Debian's python3-sentencepiece (Llama-2 and Mistral
# tokenizer.model; the Mistral tokenizer.json, whose BPE merges by rank must give the same
# ids as SentencePiece's scores), and llama.cpp's own tokenizer test vectors (the .inp/.out
# beside models/ggml-vocab-llama-spm.gguf and ggml-vocab-llama-bpe.gguf, generated with HF
# tokenizers) for the GGUF vocabularies and the Llama-3 tokenizer.json. Exact id equality.
import os, shutil, struct, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, data, done, ROOT, run
import sentencepiece as spm

DRIVER = os.path.join(ROOT, "build", "tests", "test_tok_formats")
VOCABS = os.path.join(ROOT, "build", "llama.cpp", "models")  # `make llamacpp-deps`
TMP = tempfile.mkdtemp(prefix="l4q_test_tok_formats_")
SEP = "\n__ggml_vocab_test__\n"


def encode(tok, texts, bos=False):
    """The harness's ids for each text (one driver run per tokenizer)."""
    inp, out = os.path.join(TMP, "in.bin"), os.path.join(TMP, "out.txt")
    with open(inp, "wb") as f:
        f.write(struct.pack("<I", len(texts)))
        for t in texts:
            b = t.encode("utf-8")
            f.write(struct.pack("<I", len(b)) + b)
    p = subprocess.run([DRIVER, "encode", tok, inp, out] + (["bos"] if bos else []), capture_output=True, text=True)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return [[int(x) for x in l.split()] for l in open(out).read().split("\n")[:-1]]


def llamacpp_tests(name):
    inp = open(os.path.join(VOCABS, f"ggml-vocab-{name}.gguf.inp"), encoding="utf-8").read()
    if inp.endswith(SEP):  # every test text is followed by the separator
        inp = inp[:-len(SEP)]
    texts = inp.split(SEP)
    outs = [[int(x) for x in l.split()] for l in open(os.path.join(VOCABS, f"ggml-vocab-{name}.gguf.out")).read().split("\n")[:len(texts)]]
    return texts, outs


def compare(label, got, want, texts):
    bad = [i for i in range(len(texts)) if got[i] != want[i]]
    check(not bad, f"{label}: {len(texts) - len(bad)}/{len(texts)} texts give identical ids",
          "; ".join(f"{texts[i][:40]!r}: {got[i][:12]} vs {want[i][:12]}" for i in bad[:4]))


# Texts: llama.cpp's test strings (whitespace runs, tabs/newlines, CJK, emoji, Cyrillic,
# numbers, code) plus TinyStories paragraphs and a few byte-fallback cases.
spm_texts, spm_out = llamacpp_tests("llama-spm")
stories = [p.strip() for p in open(data("tinystories", "tinystories_valid_excerpt.txt"), encoding="utf-8").read().split("\n\n")[:200] if p.strip()]
extra = ["", " ", "a", "\u2581x", "ǅ Ꙭ 𝔸", "\u00e9\u0301", "tab\there", "é" * 50, "A" * 3000, "\x01\x7f control", " leading", "trailing  "]
texts = spm_texts + stories + extra

T = data("tokenizers")
for label, model, others in [
        ("llama-2", os.path.join(T, "llama2_tokenizer.model"), []),
        ("mistral", os.path.join(T, "mistral-7b-v0.1", "tokenizer.model"), [os.path.join(T, "mistral-7b-v0.1", "tokenizer.json")])]:
    sp = spm.SentencePieceProcessor(model_file=model)
    want = [sp.encode(t) for t in texts]
    compare(f"{label} tokenizer.model = sentencepiece", encode(model, texts), want, texts)
    for o in others:  # HF's BPE by merge rank; no special-token strings in these texts
        compare(f"{label} tokenizer.json = sentencepiece", encode(o, texts), want, texts)
    if label == "llama-2":  # a GGUF model file's embedded vocabulary (token types, scores)
        g = data("models", "llama-2-tiny-random", "llama-2-tiny-random.gguf")
        compare("llama-2-tiny-random.gguf embedded vocabulary = sentencepiece", encode(g, texts), want, texts)
    got = encode(model, ["Once upon a time"], bos=True)[0]
    check(got == [1] + sp.encode("Once upon a time"), f"{label}: BOS first", str(got))

# llama.cpp's vocab tests: the GGUF vocabularies, and Llama-3's tokenizer.json on the BPE set.
compare("ggml-vocab-llama-spm.gguf = llama.cpp .out", encode(os.path.join(VOCABS, "ggml-vocab-llama-spm.gguf"), spm_texts), spm_out, spm_texts)
bpe_texts, bpe_out = llamacpp_tests("llama-bpe")
compare("ggml-vocab-llama-bpe.gguf = llama.cpp .out", encode(os.path.join(VOCABS, "ggml-vocab-llama-bpe.gguf"), bpe_texts), bpe_out, bpe_texts)
l3 = os.path.join(T, "llama3", "tokenizer.json")
compare("llama-3 tokenizer.json = llama.cpp llama-bpe .out", encode(l3, bpe_texts), bpe_out, bpe_texts)
# Special tokens in text (HF semantics for tokenizer.json) and the documented example.
got = encode(l3, ["Once upon a time", "<|begin_of_text|>Hi<|eot_id|>"], bos=True)
check(got[0] == [128000, 12805, 5304, 264, 892], "llama-3: 'Once upon a time' = 128000 12805 5304 264 892", str(got[0]))
check(got[1][:2] == [128000, 128000] and got[1][-1] == 128009, "llama-3 tokenizer.json: special tokens in text are matched", str(got[1]))
# Same ids from the GGUF vocabulary and the tokenizer.json of Llama-3 on TinyStories.
compare("llama-3 tokenizer.json = ggml-vocab-llama-bpe.gguf on TinyStories", encode(l3, stories),
        encode(os.path.join(VOCABS, "ggml-vocab-llama-bpe.gguf"), stories), stories)
shutil.rmtree(TMP)
done()
