// tokbench.c — tokenizer throughput: `tokbench TOKENIZER FILE...` streams each file
// through tokstream (SPEC §3 paragraphs, chunked reads) and prints MB/s, tokens and peak
// RSS. bench/stream.sh feeds it natural and adversarial text.
#include "tokstream.h"
#include "util.h"
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: tokbench TOKENIZER FILE...\n"); return 2; }
    Tokenizer *t = tok_load(argv[1], 0);
    int *buf = xmalloc((1 << 16) * sizeof(int));
    for (int i = 2; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) die_input("%s: cannot stat", argv[i]);
        double t0 = now_sec();
        TokStream *s = tokstream_open(t, argv[i]);
        long n = 0, k;
        while ((k = tokstream_read(s, buf, 1 << 16)) > 0) n += k;
        tokstream_close(s);
        double el = now_sec() - t0;
        printf("%-40s %8.1f MB  %10ld tokens  %7.2f s  %6.1f MB/s  peak RSS %.0f MB\n", argv[i], st.st_size / 1e6, n, el,
               st.st_size / 1e6 / el, peak_rss_bytes() / 1e6);
    }
    free(buf);
    tok_free(t);
    return 0;
}
