// tokstream.h — a text file as the perplexity protocol's token stream (README) (ppl.h's text_to_stream), read and
// tokenized in chunks: memory holds one read buffer (grown only to fit the longest
// paragraph) and the tokens asked for, never the whole file or its whole stream. The ids
// are exactly text_to_stream's on the same bytes.
#pragma once
#include "tokenizer.h"

typedef struct TokStream TokStream;
TokStream *tokstream_open(const Tokenizer *t, const char *path); // die_input if unreadable
// Up to max next ids into out; returns how many (0 at the end). Invalid UTF-8 →
// die_input naming the file and the byte offset.
long tokstream_read(TokStream *s, int *out, long max);
void tokstream_close(TokStream *s);
void tokstream_release(void *s); // tokstream_close for hold() (util.h)
