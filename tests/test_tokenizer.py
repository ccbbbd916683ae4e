# test_tokenizer.py — `l4q tokenize` against an independent, deliberately naive Python
# transcription of llama2.c run.c encode() (O(n^2) rescan after every merge), on both real
# tokenizers, malformed UTF-8, a tie-heavy synthetic vocabulary, a 1 MB line, decode round
# trips and the CLI's handling of corrupt tokenizer files.
import os, random, struct, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import check, done, data, L4Q
from bpe_llama2c import Bpe, load_bin, write_bin

# Keep stderr to the error line alone (main.c otherwise notes its OpenBLAS core choice).
ENV = dict(os.environ, OPENBLAS_CORETYPE=os.environ.get("OPENBLAS_CORETYPE", "SkylakeX"))
TMP = tempfile.mkdtemp(prefix="l4q_tok_")


def tokenize(tok, text, *flags, vocab_size=None):
    """ids from build/l4q tokenize (text passed as a file, so any bytes go through)."""
    path = os.path.join(TMP, "in.txt")
    with open(path, "wb") as f:
        f.write(text)
    args = [L4Q, "tokenize", "--tokenizer", tok, "--file", path] + list(flags)
    if vocab_size:
        args += ["--vocab-size", str(vocab_size)]
    p = subprocess.run(args, capture_output=True, env=ENV)
    if p.returncode != 0:
        raise RuntimeError(f"l4q tokenize failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    if "--decode" in flags:
        return p.stdout
    return [int(x) for x in p.stdout.split()]


TOK512 = data("models", "stories260K", "tok512.bin")
TOK32K = data("tokenizers", "llama2c_tokenizer.bin")
paras = [p.strip() for p in open(data("tinystories", "tinystories_valid_excerpt.txt"), encoding="utf-8").read().split("\n\n")]
paras = [p.encode() for p in paras if p]

CASES = [
    ("empty", b""),
    ("ascii", b"Once upon a time, there was a little girl named Lily."),
    ("e-acute", "café naïve résumé é".encode()),
    ("cjk", "中文 你好，世界".encode()),
    ("emoji", "I like 😀 and 🦜🦜!".encode()),
    ("newlines", b"line one\nline two\n\n\tindented\r\nend\n"),
    ("spaces", b"   leading and  double  spaces   "),
    ("missing chars", "~`^|{}\\ § ¤ ǅ ꙮ 𝔘".encode()),
    ("stray continuation", b"\x80\x80\x80\x80\x80\x80abc\xbf"),
    ("truncated sequence", b"ab\xe4\xb8 cd\xf0\x9f"),
    ("overlong continuation run", b"x\xf0\x9f\x98\x80\x80\x80\x80\x80y"),
    ("high bytes", bytes(range(0x80, 0x100)) + b" " + bytes(range(1, 0x80))),
    ("story 0", paras[0]),
    ("story 1", paras[1]),
    ("story 7 with quotes", paras[7]),
    ("long unseparated", b" ".join(paras[10:30])[:2500]),
]

for tokname, tok in (("tok512", TOK512), ("llama2c32k", TOK32K)):
    vocab, scores = load_bin(tok)
    ref = Bpe.from_vocab(vocab, scores)
    for name, text in CASES:
        for flags in ((), ("--bos", "--eos"), ("--no-prefix",)):
            want = ref.encode(text, bos="--bos" in flags, eos="--eos" in flags, prefix="--no-prefix" not in flags)
            got = tokenize(tok, text, *flags)
            check(got == want, f"{tokname} encode {name} {' '.join(flags)}".rstrip(), f"got {got[:40]} want {want[:40]}")
        # Round trips: after BOS the dummy-prefix space is dropped, so decode gives x back;
        # without BOS it survives as a leading space; with --no-prefix there is none.
        got = tokenize(tok, text, "--bos", "--decode")
        check(got == text, f"{tokname} round trip {name}", f"{got[:60]!r} vs {text[:60]!r}")
        got = tokenize(tok, text, "--decode")
        check(got == (b" " + text if text else b""), f"{tokname} round trip without BOS {name}", f"{got[:60]!r}")
    # The vocabulary's size is inferred when --vocab-size is absent and checked when given.
    check(tokenize(tok, b"hello", vocab_size=len(vocab)) == ref.encode(b"hello", bos=False), f"{tokname} explicit --vocab-size")

# Decoding given ids: <0xXX> pieces become raw bytes, BOS strips one leading space.
vocab, scores = load_bin(TOK512)
nl = vocab.index(b"<0x0A>")
sp = vocab.index(b" ")
p = subprocess.run([L4Q, "tokenize", "--tokenizer", TOK512, "--decode", "--ids", f"1 {sp} {nl} {sp}"], capture_output=True, env=ENV)
check(p.returncode == 0 and p.stdout == b"\n ", "decode --ids bytes and BOS space", repr(p.stdout))

# Ties: a synthetic vocabulary where many merges share a score (including 0.0 vs -0.0) and
# merge targets need not be built from vocab pieces, so "leftmost in the current sequence"
# is exercised after earlier merges; some pieces sit at or below llama2.c's -1e10 floor.
rng = random.Random(1234)
for trial in range(3):
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"] + [b"<0x%02X>" % i for i in range(256)]
    base = [b"a", b"b", b"c", b" ", "é".encode(), b"\n"]
    seen = set(pieces) | set(base)
    pieces += base
    while len(pieces) < 259 + 6 + 60:
        s = "".join(rng.choice("abc é") for _ in range(rng.randint(2, 5))).encode()
        if s not in seen:
            seen.add(s); pieces.append(s)
    sc = [0.0] * 259 + [rng.choice([0.0, -0.0, -1.0, -2.0, -3.0, -1e10, -2e10]) for _ in pieces[259:]]
    tb = os.path.join(TMP, f"ties{trial}.bin")
    write_bin(tb, pieces, sc)
    ref = Bpe.from_vocab(*load_bin(tb))  # scores as stored (float32)
    bad = []
    for k in range(60):
        text = "".join(rng.choice("abcab é\nz") for _ in range(rng.randint(0, 50))).encode()
        want = ref.encode(text, bos=False)
        got = tokenize(tb, text)
        if got != want:
            bad.append((text, got, want))
    check(not bad, f"tie-heavy vocab {trial} (60 random texts)", f"{len(bad)} differ, first {bad[:1]}")

# 1 MB single line. The O(n^2) reference cannot do a megabyte, so the line is paragraphs
# joined by a separator character that is not in the vocabulary: it becomes byte tokens, and
# if no vocab piece longer than 6 bytes starts or ends with a "<0xXX>" byte piece (checked
# below), no merge can ever span a separator. Each segment then merges exactly as it would
# alone (merges elsewhere never change its pairs, and the global leftmost-highest choice
# restricted to it is its own), so the reference is the concatenation of per-segment
# references, which can be memoized.
for tokname, tok in (("tok512", TOK512), ("llama2c32k", TOK32K)):
    vocab, scores = load_bin(tok)
    ref = Bpe.from_vocab(vocab, scores)
    bytepieces = {b"<0x%02X>" % i for i in range(256)}
    blocking = not any(len(p) > 6 and (p[:6] in bytepieces or p[-6:] in bytepieces) for p in vocab)
    sep = next(c.encode() for c in "🦜🜁𓀀\U0010fffd" if c.encode() not in ref.lookup)
    check(blocking, f"{tokname} byte pieces cannot merge (premise of the 1 MB check)")
    segs = [p[:300] for p in paras[:120]]
    line, order = [], []
    size, i = 0, 0
    while size < (1 << 20):
        s = segs[i % len(segs)]
        line.append(s); order.append(i % len(segs)); size += len(s) + len(sep); i += 1
    text = sep.join(line)
    memo = {}
    want = ref.encode(segs[order[0]], bos=False)  # the first segment carries the dummy prefix
    sep_ids = ref.encode(sep, bos=False, prefix=False)
    for k in order[1:]:
        if k not in memo:
            memo[k] = ref.encode(segs[k], bos=False, prefix=False)
        want += sep_ids + memo[k]
    got = tokenize(tok, text)
    check(got == want, f"{tokname} 1 MB line equals segment-wise reference ({len(text)} bytes, {len(got)} ids)",
          f"lengths {len(got)} vs {len(want)}")

# 1 MB of ordinary text (no separators): round trip. (Throughput on natural and adversarial
# text is measured by bench/stream.sh, not here.)
big = b" ".join(paras)
while len(big) < (1 << 20):
    big += b" " + big
big = big[:1 << 20]  # may end mid-character: those bytes round-trip as byte tokens
for tokname, tok in (("tok512", TOK512), ("llama2c32k", TOK32K)):
    got = tokenize(tok, big, "--bos", "--decode")
    check(got == big, f"{tokname} 1 MB story text round trip", f"lengths {len(got)} vs {len(big)}")

# Corrupt or mismatched tokenizer files: exit 2 and one stderr line naming the file.
good = open(TOK512, "rb").read()
def corrupt(name, blob, expect, vocab_size=None):
    path = os.path.join(TMP, name + ".bin")
    with open(path, "wb") as f:
        f.write(blob)
    args = [L4Q, "tokenize", "--tokenizer", path, "--text", "hi"]
    if vocab_size:
        args += ["--vocab-size", str(vocab_size)]
    p = subprocess.run(args, capture_output=True, text=True, env=ENV)
    lines = p.stderr.splitlines()
    check(p.returncode == 2 and len(lines) == 1 and path in lines[0] and expect in lines[0],
          f"corrupt tokenizer: {name}", f"rc={p.returncode} stderr={p.stderr!r}")

rec = lambda s, b: struct.pack("<fi", s, len(b)) + b
corrupt("empty file", b"", "too short")
corrupt("header only", struct.pack("<I", 7), "no tokens")
corrupt("truncated mid-record", good[:-3], "truncated")
corrupt("trailing bytes", good + b"\x00\x01\x02", "truncated")
corrupt("negative length", good + struct.pack("<fi", 0.0, -5), "length -5")
corrupt("huge length", good + struct.pack("<fi", 0.0, 1 << 30), "length")
corrupt("length beyond EOF", good + struct.pack("<fi", 0.0, 5) + b"ab", "needs 5 bytes")
corrupt("bad max_token_length", struct.pack("<I", 0xFFFFFFFF) + good[4:], "max_token_length")
corrupt("wrong vocab size (model bigger)", good, "tokenizer has 512 tokens but the model expects 32000", 32000)
corrupt("wrong vocab size (model smaller)", good, "tokenizer has 512 tokens but the model expects 256", 256)
corrupt("one extra token", good + rec(-1.0, b"xy"), "tokenizer has 513 tokens but the model expects 512", 512)
p = subprocess.run([L4Q, "tokenize", "--tokenizer", os.path.join(TMP, "nope.bin"), "--text", "x"], capture_output=True, text=True, env=ENV)
check(p.returncode == 2 and "nope.bin" in p.stderr and len(p.stderr.splitlines()) == 1, "missing tokenizer file", p.stderr)

done()
