// l4q_tile.h — L4Q's tile (core/l4q.c): how many output rows its forward and backward walk
// at a time. One rule for the CPU method, the CUDA plugin (cuda/lin_l4q.cu) and the device
// memory predictor (bench/gpu_memory.h), so the three agree on the summation order and
// the transient bytes. Header-only: the plugin links nothing of the core.
#pragma once

// tile_rows rows of the model's widest projection side span, as rows of this layer's input
// width in, so every layer's tile holds the same bytes (a narrow layer takes taller tiles).
// A last tile of under a quarter of that is spread over the others instead: each tile
// costs a pass over dX (and over X for its G), so a thin one is nearly all overhead (the
// stories15M down projection split 256 + 32 rows, gate/up 682 + 86). A tile then holds at
// most 1.25× the bytes.
static inline int l4q_tile(int tile_rows, int span, int out, int in) {
    if (span < in) span = in;
    if (span < out) span = out;
    long long rows = (long long)tile_rows * span / in; // ≥ tile_rows
    if (rows >= out) return out;
    long long full = out / rows, rem = out % rows;
    if (rem == 0 || rem * 4 >= rows) return (int)rows;
    return (int)((out + full - 1) / full); // `full` tiles, the remainder spread over them
}
