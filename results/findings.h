// findings.h — report.md's opening section: each claim of the L4Q paper (ACL 2025,
// sections 4.1, 4.4, 4.5) tested on the study's own numbers.
//
// Accuracy/perplexity claims ("L4Q ≥ X" at a bit-width): one paired comparison per main
// column not at chance (compare.h), Δ = L4Q − X oriented so that positive favours L4Q,
// p-values Holm-adjusted over the claim's columns. Verdict: agree = L4Q significantly
// better (adjusted p < 0.05) on at least one column and significantly worse on none;
// disagree = X significantly better on at least one and L4Q on none; inconclusive
// otherwise (no significant difference, or both directions).
// Memory claims use the harness's accounted training memory (weights + trainable +
// gradients/optimizer + saved for backward + peak transient, run.h5 `memory`), which is
// deterministic per configuration, so there is no sampling interval or p-value: "≈" is a
// ratio within [0.8, 1.25], "far larger" a ratio of at least 1.5 (the paper: QAT-LoRA
// 1.65×, LSQ 3.1× L4Q's on LLaMA-7B). Claims whose methods have no runs are skipped with a note.
#pragma once
#include "compare.h"
#include <stdio.h>

void findings_write(const Report *rep, Analysis *an, FILE *md);
