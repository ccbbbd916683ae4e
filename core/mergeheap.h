// mergeheap.h — the binary heap of candidate merges that both BPE encoders pop in order
// (core/tokenizer.c: llama2.c's score-ordered merges; core/tok_bpe.c: rank-ordered ones).
// Smallest pri first, ties to the leftmost pair: symbols are numbered in text order and a
// merge keeps the left symbol's number, so `left` orders pairs as their positions do.
// a, b: what the encoder checks on pop to drop a stale entry (the two symbols' ids or
// lengths at push time).
#pragma once
#include "util.h"
#include <stddef.h>

typedef struct { float pri; int left, right, a, b, id; } MergeCand;
typedef struct { MergeCand *v; size_t n, cap; } MergeHeap;

static inline int merge_before(const MergeCand *x, const MergeCand *y) {
    return x->pri != y->pri ? x->pri < y->pri : x->left < y->left;
}
static inline void merge_push(MergeHeap *h, MergeCand c) {
    if (h->n == h->cap) { h->cap = h->cap ? 2 * h->cap : 256; h->v = xrealloc(h->v, h->cap * sizeof *h->v); }
    size_t i = h->n++;
    for (; i > 0 && merge_before(&c, &h->v[(i - 1) / 2]); i = (i - 1) / 2) h->v[i] = h->v[(i - 1) / 2];
    h->v[i] = c;
}
static inline MergeCand merge_pop(MergeHeap *h) {
    MergeCand top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && merge_before(&h->v[c + 1], &h->v[c])) c++;
        if (!merge_before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n) h->v[i] = last;
    return top;
}
