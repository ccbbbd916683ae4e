// safetensors.h — reader for Hugging Face safetensors files and sharded sets
// (model.safetensors.index.json). Files are memory-mapped read-only; tensors are handed
// back in their stored dtype (a pointer into the mapping) and converted to fp32 on request,
// so a 16-bit model can be used without widening it whole.
//
// Format: u64 little-endian header length N, N bytes of JSON
//   {"__metadata__": {...}, "NAME": {"dtype": "BF16", "shape": [r, c], "data_offsets": [b, e]}, ...}
// then the data buffer; offsets are relative to its start, row-major, little-endian.
// Every tensor must lie inside the buffer, have e − b = elements × dtype size, not overlap
// another, and the buffer must hold nothing else. Bad input → die_input naming the file.
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F16, ST_BF16, ST_OTHER } StDtype;

typedef struct {
    char *name;
    StDtype dtype;
    char dtype_name[16];  // as stored ("BF16", "I8", ...), for messages
    int ndim;
    int64_t shape[8];
    size_t nel;
    const void *data;     // into the mapping of `file`; valid until st_close
    size_t nbytes;
    const char *file;     // the shard holding it
    int used;             // set by the caller when it places the tensor
} StTensor;

typedef struct StSet StSet;

// path: a .safetensors file or a model.safetensors.index.json (every shard it names is
// opened; a tensor the index names but its shard lacks, or a missing shard, is an error).
StSet *st_open(const char *path);
void st_close(StSet *s);
void st_release(void *s); // st_close for hold() (util.h) and ModelFile.hold_free
int st_count(const StSet *s);
size_t st_bytes(const StSet *s); // total size of the files
StTensor *st_tensor(StSet *s, int i);
StTensor *st_find(StSet *s, const char *name); // NULL when absent
// Bytes per element of dtype (0 for ST_OTHER).
size_t st_dtype_size(StDtype d);
// Converts elements [first, first + n) of an F32/F16/BF16 tensor to fp32.
void st_to_f32(const StTensor *t, size_t first, size_t n, float *dst);
