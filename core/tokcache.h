// tokcache.h — a text file's SPEC §3 token stream, tokenized once (streamed, tokstream.h)
// into a cache file and memory-mapped: training reads its tokens from the page cache,
// and every run of a sweep with the same tokenizer and data reuses the file.
//
// Cache file: <dir>/<sha256(tokenizer pieces, scores ‖ data bytes), 24 hex>.tok with
// header "L4QT", u32 version, u64 token count, the 32-byte key, then int32 ids. <dir> is
// $L4Q_CACHE when set, else ${XDG_CACHE_HOME:-$HOME/.cache}/l4q/tokens (shared by every
// run and sweep of the user; never beside the data, which is shared and read-only). A
// cache file that does not match its name, header, size or vocabulary is rebuilt (with a
// warning).
#pragma once
#include "tokenizer.h"

// The ids (read-only mapping) and their count; tokcache_unmap releases them.
const int *tokcache_map(const Tokenizer *t, const char *path, long *ntok);
void tokcache_unmap(const int *ids, long ntok);
