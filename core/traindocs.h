// traindocs.h — training text from several files (data.train as a list; README "Training"):
// each file's documents, the ones that also occur in the validation data removed, joined
// into the one text that the perplexity protocol then tokenizes (core/data.c).
//
// Formats (DOC_*; a file's is named in the config or taken from its extension: .jsonl →
// jsonl, .json → json, anything else → text):
//   text   documents separated by blank lines or by lines holding only <|endoftext|>
//          (the marker is dropped, never trained on)
//   jsonl  one JSON object per line, the document the string under text_key (blank lines
//          skipped) — the layout Hugging Face datasets export
//   json   a list of strings, or an object holding one under text_key
// Bad input (invalid JSON, a wrong type, a missing key, invalid UTF-8) is one die_input
// line naming the file and the line (jsonl) or element (json) or byte (text).
//
// Contamination: a training document is removed when one of its paragraphs (its lines,
// whitespace runs collapsed and trimmed) of at least DOC_MATCH_MIN bytes is also a line of
// the validation text. Lines that short are generic ("The end.", "And they all lived
// happily ever after.") and say nothing about a shared story; every longer one seen shared
// between the TinyStories samples and the validation excerpt is a whole shared story.
// Lines are compared by a 64-bit hash (a false match: ~1e-10 over these files).
#pragma once
#include <stddef.h>

enum { DOC_TEXT = 0, DOC_JSONL = 1, DOC_JSON = 2 };
extern const char *const DOC_FORMAT_NAMES[]; // in DOC_* order, NULL-terminated
#define DOC_MATCH_MIN 64

int doc_format_of_path(const char *path);

// Calls emit(ctx, doc, len) for every non-blank document of buf[0, len) in format fmt;
// name is the file in error messages.
typedef void (*DocEmit)(void *ctx, const char *doc, size_t len);
void docs_parse(const char *name, const char *buf, size_t len, int fmt, const char *text_key, DocEmit emit, void *ctx);

typedef struct {
    const char *path;
    int format;             // DOC_*
    const char *text_key;   // jsonl / json
} TrainFile;

typedef struct {
    char *text;             // the kept documents, separated by blank lines (malloc'd)
    size_t len;
    long docs, removed;     // documents read, of which removed as contaminated
} TrainText;

// Reads the files in order; val_path NULL: nothing is removed.
void traindocs_assemble(const TrainFile *files, int n, const char *val_path, TrainText *out);
