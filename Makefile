# Landshift - non-recursive build: lib/ -> lib/liblandshift.a, filters/*.c -> bin/*
#   make                      build everything
#   make test                 build and run every test (ends with "N passed, N failed")
#   make demo [DATA=dir]      run the main job on the sample data
#   make bench                benchmarks, side by side
#   make SANITIZE=address,undefined   the same with sanitizers

DATA ?= ../shared/data
CC ?= cc
OPT ?= -O3
SANITIZE ?=
PKGS := gdal libtiff-4 openblas
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

LIB_SRC := $(wildcard lib/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/liblandshift.a
FILTERS := $(patsubst filters/%.c,$(BINDIR)/%,$(wildcard filters/*.c))
BENCH := $(patsubst bench/%.c,$(BINDIR)/%,$(wildcard bench/*.c))
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/*.c))

all: deps-check $(FILTERS) $(BENCH) $(TESTS)

deps-check:
	@tools/deps.sh check

deps:
	@tools/deps.sh install

$(BUILD)/%.o: %.c $(wildcard lib/*.h)
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

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(LIB)
	$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

# The learning core built in double precision, for the gradient checks.
NN_SRC := lib/nn.c lib/conv.c lib/layers.c lib/unet.c lib/optim.c lib/critic.c lib/dsn.c
NN_DBL := $(NN_SRC:%.c=$(BUILD)/dbl/%.o)
$(BUILD)/dbl/%.o: %.c $(wildcard lib/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DLS_DOUBLE -c $< -o $@

$(BUILD)/tests/test_grad: $(BUILD)/dbl/tests/test_grad.o $(NN_DBL) $(LIB)
	$(CC) $(LDFLAGS) $< $(NN_DBL) $(LIB) $(LDLIBS) -o $@

test: all
	@BUILD=$(BUILD) BIN=$(BINDIR) DATA=$(DATA) tests/run.sh

demo: all
	@DATA=$(DATA) pipelines/demo.sh

bench: all
	@DATA=$(DATA) bench/run.sh

experiments: all
	@DATA=$(DATA) pipelines/experiments.sh

clean:
	rm -rf build bin

.PHONY: all test demo bench experiments clean deps deps-check
.SECONDARY:
