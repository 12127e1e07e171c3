# Landshift - non-recursive build: lib/ -> lib/liblandshift.a, filters/*.c -> bin/*
#   make                      build everything
#   make test                 build and run every test (ends with "N passed, N failed")
#   make demo [DATA=dir]      run the main job on the sample data
#   make experiments [QUICK=1] the benchmark (egs/uda/run.sh)
#   make rotterdam            the unlabelled Rotterdam modalities (egs/rotterdam/run.sh)
#   make models               the shipped models and their cards (egs/models/run.sh)
#   make bench                benchmarks, side by side
#   make SANITIZE=address,undefined   the same with sanitizers
#   make install PREFIX=dir   binaries, man pages (make man) and the main pipeline

DATA ?= ../shared/data
CC ?= cc
OPT ?= -O3
SANITIZE ?=
PKGS := gdal libtiff-4 openblas fftw3f
MSGPACK_PKG := $(shell pkg-config --exists msgpack-c 2>/dev/null && echo msgpack-c || echo msgpack)
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) $(MSGPACK_PKG) 2>/dev/null)
DEP_LIBS := $(shell pkg-config --libs $(PKGS) $(MSGPACK_PKG) 2>/dev/null)

CFLAGS := $(OPT) -g -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-format-truncation -Wshadow -fno-strict-aliasing \
	-march=x86-64-v3 -mtune=generic -pthread -fopenmp -Ilib $(DEP_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS := $(DEP_LIBS) -lm -pthread -fopenmp
ifneq ($(SANITIZE),)
CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
BUILD := build/san
BINDIR := build/san/bin
else
BUILD := build/rel
BINDIR := bin
endif

LIB_SRC := $(wildcard lib/*/*.c)
LIB_HDR := $(wildcard lib/*/*.h)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/liblandshift.a
FILTERS := $(patsubst filters/%.c,$(BINDIR)/%,$(wildcard filters/*.c))
BENCH := $(patsubst bench/%.c,$(BINDIR)/%,$(wildcard bench/*.c))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))
FUZZ := frame model stats vector
REPLAY := $(FUZZ:%=$(BUILD)/tests/replay_%)

# critic-train under MPI (Debian's OpenMPI), when mpicc is there: the same
# filter with the MPI build of lib/dist.c linked ahead of the library's.
MPICC := $(shell command -v mpicc 2>/dev/null)
ifneq ($(MPICC),)
ifeq ($(SANITIZE),)
MPI_BIN := $(BINDIR)/critic-train-mpi
endif
endif

all: deps-check $(FILTERS) $(BENCH) $(UNIT_TESTS) $(REPLAY) $(MPI_BIN) $(BINDIR)/map

# the one-command mapper is a script over the filters
$(BINDIR)/map: pipelines/map.sh
	@mkdir -p $(BINDIR)
	ln -sf $(abspath pipelines/map.sh) $@

$(BUILD)/mpi/dist.o: lib/train/dist.c lib/train/dist.h
	@mkdir -p $(dir $@)
	$(MPICC) $(CFLAGS) -DLS_MPI -c $< -o $@
$(BINDIR)/critic-train-mpi: $(BUILD)/filters/critic-train.o $(BUILD)/mpi/dist.o $(LIB)
	$(MPICC) $(LDFLAGS) $(BUILD)/filters/critic-train.o $(BUILD)/mpi/dist.o $(LIB) $(LDLIBS) -o $@

deps-check:
	@tools/deps.sh check

deps:
	@tools/deps.sh install

$(BUILD)/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BINDIR)/%: $(BUILD)/filters/%.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BINDIR)/%: $(BUILD)/bench/%.o $(LIB)
	@mkdir -p $(BINDIR)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# test_engine counts the allocator calls of a training step
WRAP_ALLOC := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=aligned_alloc,--wrap=posix_memalign
$(BUILD)/tests/test_engine: $(BUILD)/tests/unit/test_engine.o $(LIB)
	$(CC) $(LDFLAGS) $(WRAP_ALLOC) $< $(LIB) $(LDLIBS) -o $@

# Fuzz targets: replayed over tests/fuzz/corpus by make test (no libFuzzer
# needed); `make fuzz` builds them with clang's libFuzzer into build/fuzz/
# and runs each for FUZZ_SECONDS (600), adding what it finds to the corpus.
$(BUILD)/tests/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(LIB)
	$(CC) $(LDFLAGS) $(BUILD)/tests/fuzz/fuzz_$*.o $(BUILD)/tests/fuzz/replay.o $(LIB) $(LDLIBS) -o $@

FUZZ_CFLAGS := -O1 -g -std=gnu11 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -march=x86-64-v3 -fopenmp -Ilib $(DEP_CFLAGS)
FUZZ_OBJ := $(LIB_SRC:%.c=build/fuzz/%.o)
FUZZ_SECONDS ?= 600
build/fuzz/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/fuzz_%: build/fuzz/tests/fuzz/fuzz_%.o $(FUZZ_OBJ)
	clang -fsanitize=fuzzer,address,undefined -fopenmp $^ $(DEP_LIBS) -lm -o $@
fuzz: $(FUZZ:%=build/fuzz/fuzz_%)
	@for t in $(FUZZ); do mkdir -p build/fuzz/new_$$t; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=3072 -print_final_stats=1 \
	    build/fuzz/new_$$t tests/fuzz/corpus/$$t 2>&1 | grep -E '^(stat::number_of_executed_units|stat::peak_rss|==|SUMMARY)|crash-' ; \
	done

# The learning core built in double precision, for the gradient checks.
NN_SRC := $(addprefix lib/nn/,nn.c conv.c layers.c unet.c optim.c critic.c dsn.c) lib/train/dist.c
NN_DBL := $(NN_SRC:%.c=$(BUILD)/dbl/%.o)
$(BUILD)/dbl/%.o: %.c $(LIB_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DLS_DOUBLE -c $< -o $@

$(BUILD)/tests/test_grad: $(BUILD)/dbl/tests/unit/test_grad.o $(NN_DBL) $(LIB)
	$(CC) $(LDFLAGS) $< $(NN_DBL) $(LIB) $(LDLIBS) -o $@

test: all
	@tools/check-layers.sh
	@BUILD=$(BUILD) BIN=$(BINDIR) DATA=$(DATA) tests/run.sh

demo: all
	@DATA=$(DATA) pipelines/demo.sh

bench: all
	@tools/deps.sh bench || echo "bench: without python3-torch, Landshift is timed alone"
	@DATA=$(DATA) bench/run.sh

# The models that ship in models/, with their cards (egs/models).
models: all
	@DATA=$(DATA) egs/models/run.sh

# The benchmark (egs/uda: the table in docs/experiments; its 11 headline
# pairs, six methods, three seeds and their source models took 12.2
# run-hours of one thread, about 6 hours two at a time on 2 cores; QUICK=1
# seed 1 of four pairs, one for each kind of shift, its table in
# docs/experiments/quick.md; runs in the ledger are not run again).
JOBS ?= 2
experiments: all
	@DATA=$(DATA) QUICK=$(QUICK) JOBS=$(JOBS) egs/uda/run.sh

# WDGRL and DSN to the unlabelled Rotterdam multispectral and SAR rasters
# (egs/rotterdam: nothing to score, the reports show the predictions).
rotterdam: all
	@DATA=$(DATA) egs/rotterdam/run.sh

# Man pages from each filter's --help (tools/man.sh), and installation.
PREFIX ?= /usr/local
MAN := $(patsubst filters/%.c,build/man/%.1,$(wildcard filters/*.c))
build/man/%.1: $(BINDIR)/% tools/man.sh
	@mkdir -p build/man
	tools/man.sh $< >$@.tmp && mv $@.tmp $@
man: $(MAN)

install: all man
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 \
		$(DESTDIR)$(PREFIX)/share/landshift/pipelines $(DESTDIR)$(PREFIX)/share/landshift/python
	install -m 755 $(FILTERS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(MAN) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 755 pipelines/adapt.sh pipelines/report.sh pipelines/map-scenes.sh pipelines/map.sh pipelines/map-report.py \
		pipelines/pool-metrics.py pipelines/shared-bands.py $(DESTDIR)$(PREFIX)/share/landshift/pipelines/
	install -m 644 python/landshift_frames.py $(DESTDIR)$(PREFIX)/share/landshift/python/
	install -m 644 VERSION $(DESTDIR)$(PREFIX)/share/landshift/
	ln -sf ../share/landshift/pipelines/map.sh $(DESTDIR)$(PREFIX)/bin/map

clean:
	rm -rf build bin

.PHONY: all test demo bench experiments rotterdam models fuzz man install clean deps deps-check
.SECONDARY:
