// tokstream.h — a text file as the perplexity protocol's token stream (README), read and
// tokenized in chunks: memory holds a 2 MB read buffer, one piece's tokens and the tokens
// asked for, never the whole file or its whole stream. The ids are exactly ppl.h's
// text_to_stream's on the same bytes: both go through tokpara_next.
#pragma once
#include "tokenizer.h"

typedef struct TokStream TokStream;
TokStream *tokstream_open(const Tokenizer *t, const char *path); // die_input if unreadable
// Up to max next ids into out; returns how many (0 at the end). Invalid UTF-8 →
// die_input naming the file and the byte offset.
long tokstream_read(TokStream *s, int *out, long max);
void tokstream_close(TokStream *s);
void tokstream_release(void *s); // tokstream_close for hold() (util.h)

// The protocol's next piece of buf[0, len): a paragraph (it ends at "\n\n", or at len when
// at_end), stripped and encoded with BOS; or, for a paragraph longer than the maximum
// (1 MB), its next part up to a newline or space, encoded as a continuation (*cont, 0 at a
// paragraph's start; tokens equal the whole paragraph's unless the cut had to fall inside
// a run of non-space bytes). Returns the bytes consumed, 0 if more input is needed; ids
// (malloc'd, or NULL) and their count. Invalid UTF-8 → die_input naming name and the
// byte offset (offset + position in buf).
size_t tokpara_next(const Tokenizer *t, const char *buf, size_t len, int at_end, int *cont, int **ids, long *nids,
                    const char *name, size_t offset);
void tokpara_set_max(size_t bytes); // tests: a smaller maximum (0: back to 1 MB)
