# L4Q harness. `make` installs missing Debian packages (when root), then builds build/l4q
# (quietly; V=1 shows the commands). `make test` also builds and runs the test suite.
CC      ?= gcc
SRCDIRS := core baselines evals experiments results run cli
DEB_PKGS := libssl-dev libopenblas-openmp-dev libdnnl-dev liblapacke-dev libyaml-dev libhdf5-dev libcjson-dev libpcre2-dev libgsl-dev pkg-config gnuplot-nox hdf5-tools
# MPI is optional (core/dist.h): build/l4q never links it; the plugin below is loaded only
# when l4q runs under mpirun/srun. `make mpi` installs OpenMPI and builds the plugin.
MPI_PKGS := libopenmpi-dev openmpi-bin
# bench/cpu_speed.sh's PyTorch peer runs with jemalloc (never needed to build l4q).
BENCH_PKGS := libjemalloc2
TEST_PKGS := python3-torch python3-numpy python3-h5py python3-yaml python3-scipy python3-sentencepiece clang libclang-rt-14-dev libomp-dev $(MPI_PKGS)

HDF5_INC := /usr/include/hdf5/serial
HDF5_LIB := /usr/lib/x86_64-linux-gnu/hdf5/serial
# OpenBLAS's OpenMP build: BLAS and our OpenMP loops share one thread pool, so they never
# oversubscribe the cores (the pthread build spins its own threads against ours).
BLAS_DIR := /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_INC := /usr/include/x86_64-linux-gnu/openblas-openmp
CPPFLAGS := -Icore -I. -I$(BLAS_INC) -I$(HDF5_INC) -I/usr/include/cjson -D_GNU_SOURCE
CFLAGS  ?= -O3 -march=native -g
CFLAGS  += -std=c11 -Wall -Wextra -fopenmp -MMD -MP
# oneDNN (libdnnl-dev): the bf16 products of train.precision: bf16 (core/bf16mm.c) and the narrow
# fp32 products (core/gemm.c). GSL (libgsl-dev): the t distribution of the report's seeds p.
LDLIBS  := -L$(HDF5_LIB) -lhdf5_hl -lhdf5 -L$(BLAS_DIR) -Wl,-rpath,$(BLAS_DIR) -lopenblas -llapacke -ldnnl -lyaml -lcjson -lpcre2-8 -lgsl -lcrypto -lm -fopenmp

SRCS    := $(wildcard $(addsuffix /*.c,$(SRCDIRS)))
LIBSRCS := $(filter-out cli/main.c,$(SRCS))
OBJS    := $(SRCS:%.c=build/obj/%.o)
LIBOBJS := $(LIBSRCS:%.c=build/obj/%.o)
TESTSRC := $(wildcard tests/*.c)
TESTBIN := $(TESTSRC:tests/%.c=build/tests/%)
ASAN_OBJS := $(SRCS:%.c=build/asan/obj/%.o)
ASAN_LIBOBJS := $(LIBSRCS:%.c=build/asan/obj/%.o)
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

# Quiet by default: one line per linked program, compiler output only on warnings and
# errors. `make V=1` prints every command.
ifeq ($(V),1)
Q :=
else
Q := @
endif
define say
	@$(if $(Q),printf '  %-4s %s\n' $(1) $(2))
endef

.PHONY: all deps test-deps bench-deps llamacpp-deps mpi mpi-deps tests test asan fuzz fuzz-build bench reproduce clean
# `make` = the program (and the MPI plugin where mpicc exists, the CUDA plugin where nvcc
# does: cuda/cuda.mk — make cuda, make cuda-only, make cuda-fixtures); the test binaries are
# built by `make tests` and `make test`.
all: deps build/l4q $(if $(shell command -v mpicc),build/libl4q_mpi.so) cuda-all
tests: $(TESTBIN)

# Idempotent: only installs what dpkg says is missing, and only as root.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (run make as root or install them)"; exit 1; fi; fi
endef
deps:
	$(call apt_install,$(DEB_PKGS))
test-deps: llamacpp-deps
	$(call apt_install,$(TEST_PKGS))
mpi-deps:
	$(call apt_install,$(MPI_PKGS))
bench-deps:
	$(call apt_install,$(BENCH_PKGS))

mpi: mpi-deps build/libl4q_mpi.so
build/libl4q_mpi.so: mpi/l4q_mpi.c core/dist.h core/tensor.h
	@mkdir -p $(dir $@)
	$(call say,LD,$@)
	$(Q)mpicc -std=c11 -Wall -Wextra -O2 -g -fPIC -shared -D_GNU_SOURCE -Icore -o $@ $<

# llama.cpp itself, for the tests only (tests/test_llamacpp*.py, vocab tests): the npm
# package node-llama-cpp ships prebuilt libllama/libggml for this platform and a git bundle
# of the matching llama.cpp source (headers, gguf-py). Idempotent; never needed by build/l4q.
NLC_VERSION := 3.21.1
LLAMA_BINS := build/npm/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64
llamacpp-deps: build/llama.cpp/include/llama.h
build/npm/node_modules/node-llama-cpp/llama/gitRelease.bundle:
	@command -v npm >/dev/null && command -v git >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm git >/dev/null; \
	  else echo "missing npm/git (run make test-deps as root or install them)"; exit 1; fi; }
	@mkdir -p build/npm
	cd build/npm && npm i -E --ignore-scripts --no-audit --no-fund --loglevel=error node-llama-cpp@$(NLC_VERSION)
	@test -f $@ && test -d $(LLAMA_BINS)
build/llama.cpp/include/llama.h: build/npm/node_modules/node-llama-cpp/llama/gitRelease.bundle
	rm -rf build/llama.cpp
	git -c advice.detachedHead=false clone -q $< build/llama.cpp
	@touch $@
# The llama.cpp oracle client (tests/llamacpp/llama_client.c) against those libraries.
build/llamacpp/llama_client: tests/llamacpp/llama_client.c build/llama.cpp/include/llama.h
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -O2 -Wall -Wextra -Ibuild/llama.cpp/include -Ibuild/llama.cpp/ggml/include -o $@ $< \
	  $(wildcard $(LLAMA_BINS)/libllama.v*.so) $(wildcard $(LLAMA_BINS)/libggml.v*.so) $(LLAMA_BINS)/libggml-base.so \
	  -Wl,-rpath,$(abspath $(LLAMA_BINS)) -lm

build/l4q: $(OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

build/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

build/tests/%: tests/%.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

# Benchmark drivers that use the library (bench/run.sh builds its standalone references).
build/bench/memtime: bench/memtime.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)
build/bench/mkhf: bench/mkhf.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

build/bench/tokbench: bench/tokbench.c $(LIBOBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS)

# Sanitizer build of the binary and the C tests (run by the suite).
asan: build/asan/l4q $(TESTSRC:tests/%.c=build/asan/tests/%)
build/asan/l4q: $(ASAN_OBJS)
	$(call say,LD,$@)
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)
build/asan/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -std=c11 -Wall -Wextra -fopenmp -MMD -MP $(ASAN_FLAGS) -c -o $@ $<
build/asan/tests/%: tests/%.c $(ASAN_LIBOBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS) -std=c11 -Wall -Wextra -fopenmp $(ASAN_FLAGS) -o $@ $< $(ASAN_LIBOBJS) $(LDLIBS)

# libFuzzer targets (Debian clang; test-deps installs it), one per parser: fuzz/*.c.
# fuzz_model.c is built three times, once per model-format seed corpus.
FUZZ_CC    := clang
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_OBJS  := $(LIBSRCS:%.c=build/fuzz/obj/%.o)
FUZZ_SRCS  := $(filter-out fuzz/fuzz_model.c,$(wildcard fuzz/fuzz_*.c))
FUZZ_BINS  := $(FUZZ_SRCS:fuzz/%.c=build/fuzz/%) build/fuzz/fuzz_llama2c build/fuzz/fuzz_gguf build/fuzz/fuzz_l4qz
FUZZ_SECONDS ?= 60
build/fuzz/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -std=c11 -fopenmp -w -MMD -MP $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<
build/fuzz/fuzz_llama2c build/fuzz/fuzz_gguf build/fuzz/fuzz_l4qz: fuzz/fuzz_model.c fuzz/fuzz.h fuzz/fuzz_load.h $(FUZZ_OBJS)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -std=c11 -fopenmp $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)
build/fuzz/%: fuzz/%.c fuzz/fuzz.h fuzz/fuzz_load.h $(FUZZ_OBJS)
	$(Q)$(FUZZ_CC) $(CPPFLAGS) -std=c11 -fopenmp $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LDLIBS)
fuzz-build: $(FUZZ_BINS)
# `make fuzz FUZZ_SECONDS=N`: every target for N seconds from the seed corpora (fuzz/run.sh).
fuzz: build/l4q fuzz-build
	@bash fuzz/run.sh $(FUZZ_SECONDS)

# The MPI plugin after test-deps, which installs OpenMPI.
test: test-deps all tests asan fuzz-build build/llamacpp/llama_client
	@$(MAKE) --no-print-directory build/libl4q_mpi.so
	@bash tests/run.sh

bench: all tests bench-deps build/bench/memtime build/bench/mkhf
	@bash bench/run.sh
	@bash bench/train.sh
	@bash bench/cpu_speed.sh
	@bash bench/big.sh
	@bash bench/stream.sh
	@bash bench/yaml.sh

# The bf16 row (default.yaml `extra`) needs bf16 dot products; elsewhere it is left out, said so.
reproduce: all
	@x=; if ! build/l4q info --system --json | grep -q '"bf16_dot":true'; then x='--set extra=[]'; \
	  echo "reproduce: this CPU has no bf16 dot products (AVX512-BF16): the L4Q bf16 row is left out"; fi; \
	  echo "build/l4q sweep experiments/default.yaml --out results/default --no-report $$x"; \
	  build/l4q sweep experiments/default.yaml --out results/default --no-report $$x
	build/l4q report results/default --plots

clean:
	rm -rf build

# The CUDA plugin and its device tests (optional: built when nvcc is found).
include cuda/cuda.mk

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)
