# e2e.mk — the end-to-end parity check of the CUDA plugin (cuda/test_e2e.c, cuda/e2efix.h),
# included by cuda/cuda.mk.
#
# build/tests/test_cuda_e2e is plain C over core/device.h that dlopen()s the plugin: it links
# neither the CPU library nor CUDA, so it builds with the plugin (cuda, cuda-only) and runs
# on the device machine without OpenBLAS/HDF5/yaml. Without a device it prints one SKIP line.
# Its CPU side, build/tests/cudafix_e2e (tests/cudafix_e2e.c, linked with the CPU library
# by the Makefile's test rule), writes build/cudafix/e2e/*.bin under `make cuda-fixtures`.

ifneq ($(NVCC),)
cuda cuda-only cuda-all: build/tests/test_cuda_e2e
endif
build/tests/test_cuda_e2e: cuda/test_e2e.c cuda/e2efix.h cuda/randw.h core/device.h core/deploy.h core/nf4.h core/quant.h core/elem.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -g -Wall -Wextra -D_GNU_SOURCE -Icore -Icuda -o $@ $< -ldl -lm

.PHONY: cuda-fixtures-e2e
cuda-fixtures: cuda-fixtures-e2e
cuda-fixtures-e2e: build/cudafix/e2e/.done
# One run writes all four cases (about 4 minutes on two busy cores); the stamp keeps it from
# rerunning until the writer changes.
build/cudafix/e2e/.done: build/tests/cudafix_e2e
	@mkdir -p build/cudafix/e2e
	build/tests/cudafix_e2e build/cudafix/e2e
	@touch $@
