# cuda.mk — the CUDA plugin (build/libl4q_cuda.so) and its device tests, included by the
# Makefile. CUDA is optional: build/l4q never links it (core/device.c dlopen()s the plugin).
#
# nvcc: $(NVCC) if set, else /usr/local/cuda/bin/nvcc, else whatever `command -v nvcc` finds.
# Without one, `make` prints one line and succeeds; `make cuda` fails saying so.
#
# Flags: -O3, sm_90 only (H100/H200), no --use_fast_math anywhere. Translation units whose
# results must equal the CPU's bit for bit or to rounding (every kernel file: elementwise,
# quantizer, AdamW, casts, dequant) are built with -fmad=false: nvcc would otherwise contract
# a·b + c into fma, which the CPU's -std=c11 build never does. Explicit fmaf() calls (the
# L4Q merge, el_exp) are kept as written. cuBLAS does its own arithmetic either way.
# cudart is linked statically (the plugin needs only libcublas/libcublasLt.so.13 and the
# driver at run time); cuBLAS is found through an rpath to the toolkit's lib64.
#
# Device-side programs never link the C library (OpenBLAS/HDF5/yaml may be missing on the
# GPU machine): `make cuda-only` builds the plugin and the device tests from cuda/ and
# tests/*.cu alone. The CPU fixtures they compare against are written here by
# `make cuda-fixtures` (tests/cuda_fixtures.c, linked against the CPU library).
NVCC ?= $(firstword $(wildcard /usr/local/cuda/bin/nvcc) $(shell command -v nvcc 2>/dev/null))
CUDA_HOME := $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_LIBDIR := $(firstword $(wildcard $(CUDA_HOME)/lib64) $(CUDA_HOME)/lib)
NVCC_ARCH ?= -gencode arch=compute_90,code=sm_90
NVCCFLAGS := -std=c++17 -O3 $(NVCC_ARCH) -Xcompiler -fPIC -Xcompiler -Wall -Icore -Icuda -fmad=false \
             -cudart static -MMD -MP
CUDA_LIBS := -L$(CUDA_LIBDIR) -Xlinker -rpath -Xlinker $(CUDA_LIBDIR) -lcublas -lcublasLt

CUDA_SRCS := $(wildcard cuda/*.cu)
CUDA_OBJS := $(CUDA_SRCS:cuda/%.cu=build/cuda/%.o)
# Device test programs: tests/test_cuda*.cu → build/tests/test_cuda* (run by tests/run.sh).
CUDA_TESTSRC := $(wildcard tests/test_cuda*.cu)
CUDA_TESTBIN := $(CUDA_TESTSRC:tests/%.cu=build/tests/%)
# Everything but the plugin's export table goes into the tests too.
CUDA_LIBOBJS := $(filter-out build/cuda/plugin.o,$(CUDA_OBJS))

.PHONY: cuda cuda-only cuda-all cuda-fixtures
ifneq ($(NVCC),)
# `make` (all) builds these through cuda-all; `make cuda` / `make cuda-only` only these.
cuda cuda-only cuda-all: build/libl4q_cuda.so $(CUDA_TESTBIN)
build/cuda/%.o: cuda/%.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -c -o $@ $<
build/libl4q_cuda.so: $(CUDA_OBJS)
	$(NVCC) $(NVCCFLAGS) -shared -o $@ $^ $(CUDA_LIBS)
build/tests/test_cuda%: tests/test_cuda%.cu tests/cudafix.h $(wildcard cuda/*.cuh) $(CUDA_LIBOBJS)
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -Itests -o $@ $< $(CUDA_LIBOBJS) $(CUDA_LIBS)
-include $(CUDA_OBJS:.o=.d)
else
cuda-all:
	@echo "nvcc not found: CUDA backend not built"
cuda cuda-only:
	@echo "nvcc not found: CUDA backend not built (install the CUDA toolkit or set NVCC=)"; exit 1
endif

# CPU outputs of each op on seeded random inputs (a few MB), for tests/test_cuda_ops.cu.
cuda-fixtures: build/tests/cuda_fixtures
	build/tests/cuda_fixtures build/cudafix/ops

# The end-to-end parity check (cuda/e2e.mk, when present).
-include cuda/e2e.mk
