// cudafix.h — the CUDA parity fixtures' file format, shared by the writer
// (tests/cuda_fixtures.c: seeded random inputs and the CPU functions' outputs, linked against
// the CPU library, run by `make cuda-fixtures`) and the reader (tests/test_cuda_ops.cu, run on
// the device without the CPU library).
//
// One file per case, build/cudafix/ops/<case>.bin, little-endian:
//   char     magic[8]      "L4QFIX01"
//   uint32   n_arrays
//   uint32   0             (reserved)
//   n_arrays times:
//     char     name[24]    NUL-padded ("dims", "x", "out", ...)
//     uint32   dtype       FIX_F32 | FIX_I32 | FIX_U8 | FIX_U16 | FIX_F64
//     uint32   0           (reserved)
//     uint64   count       elements
//     count × element bytes (4, 4, 1, 2, 8)
// Every case has an i32 array "dims" (its shapes and integer settings, in the order the
// writer's comment for that case lists) and usually an f32 array "fpar" (float settings).
// Arrays named *0 are the starting values of accumulated outputs (backward passes add into
// them); the CPU's result is under the plain name.
#pragma once
#include <stdint.h>

#define FIX_MAGIC "L4QFIX01"
enum { FIX_F32 = 0, FIX_I32 = 1, FIX_U8 = 2, FIX_U16 = 3, FIX_F64 = 4 };
#define FIX_NAME_LEN 24
static inline unsigned fix_elem_bytes(int dtype) {
    return dtype == FIX_U8 ? 1 : dtype == FIX_U16 ? 2 : dtype == FIX_F64 ? 8 : 4;
}
