// plots.h — the report's PNGs via gnuplot under DIR/plots; appends a "## Plots" section
// with links to md. Missing gnuplot is reported in the section, not an error.
#pragma once
#include "table.h"
#include <stdio.h>

void report_plots(const Report *rep, FILE *md);
