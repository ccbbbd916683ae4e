// plots.h — the report's PNGs via gnuplot under DIR/plots; appends a "## Plots" section
// with links to md. Missing gnuplot is reported in the section, not an error.
#pragma once
#include "compare.h"
#include "table.h"
#include <stdio.h>

// Training loss (smoothed mean over seeds with a ±1 sd band, validation loss where
// measured; raw_curves: each run's raw curve too), each main column against bit-width and
// numeric ablation axes with 95 % intervals from an as error bars.
void report_plots(const Report *rep, const Analysis *an, int raw_curves, FILE *md);
