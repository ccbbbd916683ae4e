# bpe_llama2c.py — an independent Python llama2.c tokenizer: run.c's encode() transcribed line
# by line (str_lookup = dict, lowest id wins; merges by highest float32 score above −1e10,
# leftmost on ties; O(n²) rescans, deliberately naive), tokenizer.bin read/write, and the
# perplexity protocol's token stream. No torch, so the data and tokenizer tests can use it
# without loading PyTorch.
import struct

F32_MINUS_1E10 = struct.unpack("<f", struct.pack("<f", -1e10))[0]


def load_bin(path):
    b = open(path, "rb").read()
    off, vocab, scores = 4, [], []
    while off < len(b):
        s, n = struct.unpack_from("<fi", b, off)
        off += 8
        vocab.append(b[off:off + n]); scores.append(s)
        off += n
    return vocab, scores


def write_bin(path, vocab, scores):
    with open(path, "wb") as f:
        f.write(struct.pack("<I", max(len(p) for p in vocab)))
        for p, s in zip(vocab, scores):
            f.write(struct.pack("<fi", s, len(p)) + p)


class Bpe:
    def __init__(self, path):
        self._init(*load_bin(path))

    @classmethod
    def from_vocab(cls, vocab, scores):
        t = cls.__new__(cls)
        t._init(vocab, scores)
        return t

    def _init(self, vocab, scores):
        self.vocab, self.scores = vocab, scores
        self.lookup = {}
        for i, p in enumerate(vocab):
            self.lookup.setdefault(p, i)

    def encode(self, text, bos=True, eos=False, prefix=True):
        """text: str (UTF-8 encoded here) or bytes. Optional BOS (1), the dummy-prefix " ",
        whole UTF-8 code points of up to 4 bytes (else byte tokens id = byte + 3), then the
        best-scoring adjacent merge until none is in the vocab; optional EOS (2)."""
        if isinstance(text, str):
            text = text.encode()
        toks = [1] if bos else []
        if text and prefix:
            toks.append(self.lookup[b" "])
        buf = b""
        for i, c in enumerate(text):
            if (c & 0xC0) != 0x80:
                buf = b""
            buf += bytes([c])
            nxt = text[i + 1] if i + 1 < len(text) else 0
            if (nxt & 0xC0) == 0x80 and len(buf) < 4:
                continue
            if buf in self.lookup:
                toks.append(self.lookup[buf])
            else:
                toks.extend(b + 3 for b in buf)
            buf = b""
        V, S, L = self.vocab, self.scores, self.lookup
        while True:
            best, best_id, best_idx = F32_MINUS_1E10, -1, -1
            for i in range(len(toks) - 1):
                j = L.get(V[toks[i]] + V[toks[i + 1]])
                if j is not None and S[j] > best:
                    best, best_id, best_idx = S[j], j, i
            if best_idx < 0:
                break
            toks[best_idx:best_idx + 2] = [best_id]
        if eos:
            toks.append(2)
        return toks


def text_stream(bpe, text):
    """README "Perplexity protocol": split on blank lines, strip, drop empty, encode each with BOS, concatenate."""
    out = []
    for para in text.split("\n\n"):
        para = para.strip()
        if para:
            out += bpe.encode(para)
    return out
