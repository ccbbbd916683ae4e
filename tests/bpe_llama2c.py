# bpe_llama2c.py — an independent Python llama2.c tokenizer (run.c encode(): BPE by highest
# merge score, leftmost first) and the perplexity protocol's token stream; no torch, so the
# data tests can use it without loading PyTorch.
import struct


class Bpe:
    """llama2.c encode() for the ppl protocol: optional BOS, dummy-prefix " ", whole UTF-8
    code points (else byte tokens id = byte + 3), then merge the best-scoring adjacent pair
    (leftmost on ties) until none is in the vocab."""
    def __init__(self, path):
        b = open(path, "rb").read()
        off, self.vocab, self.scores = 4, [], []
        while off < len(b):
            s, n = struct.unpack_from("<fi", b, off)
            off += 8
            self.vocab.append(b[off:off + n]); self.scores.append(s)
            off += n
        self.index = {}
        for i, v in enumerate(self.vocab):
            self.index.setdefault(v, i)

    def encode(self, text, bos=True):
        b = text.encode()
        toks = [1] if bos else []
        if b:
            toks.append(self.index[b" "])
        i = 0
        while i < len(b):
            j = i + 1
            while j < len(b) and (b[j] & 0xC0) == 0x80 and j - i < 4:
                j += 1
            piece = b[i:j]
            toks.extend([self.index[piece]] if piece in self.index else [x + 3 for x in piece])
            i = j
        while True:
            best, bi, bid = None, -1, -1
            for k in range(len(toks) - 1):
                m = self.index.get(self.vocab[toks[k]] + self.vocab[toks[k + 1]])
                if m is not None and (best is None or self.scores[m] > best):
                    best, bi, bid = self.scores[m], k, m
            if bi < 0:
                return toks
            toks[bi:bi + 2] = [bid]


def text_stream(bpe, text):
    """README "Perplexity protocol": split on blank lines, strip, drop empty, encode each with BOS, concatenate."""
    out = []
    for para in text.split("\n\n"):
        para = para.strip()
        if para:
            out += bpe.encode(para)
    return out
