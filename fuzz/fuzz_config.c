// fuzz_config.c — run config YAML (yaml.c + config.c: strict keys, types, --set paths)
// and, with the same input, the sweep spec reader (experiments/sweep.c), which expands
// and validates every run without running any.
#include "config.h"
#include "experiments/sweep.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *p = fuzz_file(data, size, ".yaml");
    FUZZ_GUARDED({
        RunConfig *c = hold(run_config_load(p, NULL, 0), run_config_release);
        free(run_config_dump(c));
        hold_unwind(0);
    });
    FUZZ_GUARDED({
        Sweep *s = sweep_load(p, NULL, 0, "/nonexistent/l4q_fuzz_out");
        sweep_free(s);
    });
    return 0;
}
