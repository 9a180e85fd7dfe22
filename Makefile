# sfnet-explore: GNU Make build.
#   make              build ./sfnet-explore
#   make check        install missing Debian packages, build, run every test
#   make demo         install, build, make the synthetic survey, train, browse
#   make bench        speed and memory figures (beside PyTorch when installed)
#   make bench-scale  every screen and command at 250,000 galaxies a run (long: see bench/bench_scale.c)
#   make install PREFIX=/usr/local
# Switches: DEBUG=1 (-O0 -g), SANITIZE=1 (ASan + UBSan), WERROR=1 (warnings are errors).

PREFIX     ?= /usr/local
CC         ?= cc
PKG_CONFIG ?= pkg-config
PYTHON     ?= /usr/bin/python3

PKGS := openblas lapacke sqlite3 ncursesw libpng libjpeg chafa cairo libcjson
# FITS catalogues, cutouts and tables (data_fits.c)
PKGS += cfitsio

BUILD := build
ifeq ($(DEBUG),1)
BUILD := $(BUILD)-debug
OPT   := -O0 -g3
else
OPT   := -O2 -g -march=native
endif
ifeq ($(SANITIZE),1)
BUILD := $(BUILD)-san
OPT   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SANFLAGS := -fsanitize=address,undefined
endif

WARN := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes
ifeq ($(WERROR),1)
WARN += -Werror
endif

SHARE_INSTALL := $(PREFIX)/share/sfnet-explore
CPPFLAGS += -Iinclude -D_GNU_SOURCE \
            -DSF_SHARE_DIR='"$(SHARE_INSTALL)"' -DSF_SOURCE_SHARE_DIR='"$(CURDIR)/share"' \
            $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
CFLAGS   += -std=c11 $(OPT) $(WARN) -fopenmp -pthread
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -ldnnl -llinear -lm -lpthread
LDFLAGS  += -fopenmp $(SANFLAGS)

# Open MPI for data-parallel training (src/sf_mpi.c). The one binary serves both
# cases: started alone it never initialises MPI.
MPI_PKG  := ompi-c
CPPFLAGS += $(shell $(PKG_CONFIG) --cflags $(MPI_PKG) 2>/dev/null)
LDLIBS   += $(shell $(PKG_CONFIG) --libs $(MPI_PKG) 2>/dev/null)

SRCS      := $(wildcard src/*.c)
OBJS      := $(patsubst src/%.c,$(BUILD)/%.o,$(SRCS))
LIB_OBJS  := $(filter-out $(BUILD)/main.o,$(OBJS))
TEST_SRCS := $(wildcard tests/test_*.c)
TESTS     := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
# programs the tests start under mpirun (tests/mpi_*.c)
MPI_HELPERS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/mpi_*.c))
BIN       := $(BUILD)/sfnet-explore
BENCHES   := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out bench/bench_scale.c,$(wildcard bench/bench_*.c)))

.PHONY: all check tests deps demo bench bench-scale bench-recipe install uninstall clean
.SECONDARY:
all: $(BIN) sfnet-explore

sfnet-explore: $(BIN)
	ln -sf $(BIN) $@

$(BUILD)/%.o: src/%.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(BIN): $(OBJS)
	$(CC) $(LDFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD):
	mkdir -p $(BUILD)/tests

$(BUILD)/tests/%.o: tests/%.c | $(BUILD)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tests/test_%: $(BUILD)/tests/test_%.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS) $(shell $(PKG_CONFIG) --libs criterion)

$(BUILD)/tests/mpi_%: $(BUILD)/tests/mpi_%.o $(LIB_OBJS)
	$(CC) $(LDFLAGS) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/bench_%: bench/bench_%.c $(LIB_OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

deps:
	@sh share/install-deps.sh

tests: $(BIN) $(TESTS) $(MPI_HELPERS)

# Each test binary is a Criterion suite; tests/run.sh runs them all and prints the totals.
check: deps
	$(MAKE) tests
	SFNET_BIN=$(CURDIR)/$(BIN) BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run.sh $(TESTS)

# Every bench/bench_*.c is a program that prints its own figures.
bench: $(BENCHES)
	@for b in $(BENCHES); do $$b || exit 1; done

# The paper's scale: a 250,000-galaxy survey, two runs stored through predict --into, every
# screen and command timed beside its goal. The survey, models and database are kept in
# $$SFNET_BENCH_CACHE (default ~/.cache/sfnet-explore/bench-scale): a rerun takes minutes.
# BENCH_SCALE_ARGS passes options (--n, --size, --rebuild, --reps).
bench-scale: $(BIN) $(BUILD)/bench/bench_scale
	$(BUILD)/bench/bench_scale --bin $(CURDIR)/$(BIN) $(BENCH_SCALE_ARGS)

# The synthetic survey, an SL and a Z run, then the explorer (share/demo.sh).
demo: deps
	$(MAKE) all
	sh share/demo.sh $(CURDIR)/$(BIN)

# The training recipe against PyTorch's on the shared real galaxies, seed for seed
# (bench/recipe_compare.c; hours at the paper's settings on 2 cores). Options go in
# RECIPE_ARGS, e.g. make bench-recipe RECIPE_ARGS="--seeds 5 --first-seed 5".
$(BUILD)/bench/recipe_compare: bench/recipe_compare.c $(LIB_OBJS) | $(BUILD)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-recipe: $(BUILD)/bench/recipe_compare
	$(BUILD)/bench/recipe_compare --out $(BUILD)/recipe-compare $(RECIPE_ARGS)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SHARE_INSTALL) $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BIN) $(DESTDIR)$(PREFIX)/bin/sfnet-explore
	cp -r share/. $(DESTDIR)$(SHARE_INSTALL)/
	if [ -f share/man/man1/sfnet-explore.1 ]; then install -m 644 share/man/man1/sfnet-explore.1 $(DESTDIR)$(PREFIX)/share/man/man1/; fi

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/sfnet-explore $(DESTDIR)$(SHARE_INSTALL) $(DESTDIR)$(PREFIX)/share/man/man1/sfnet-explore.1

clean:
	rm -rf build build-* sfnet-explore

-include $(OBJS:.o=.d) $(TESTS:=.d) $(MPI_HELPERS:=.d)

# ---- FITS fuzzing (libFuzzer, clang) ----
#   make fuzz-fits [FUZZ_SECONDS=600]   each FITS harness (tests/fuzz/fuzz_fits_*.c)
#   for FUZZ_SECONDS from its seeds in tests/fuzz/corpus/fits_* (written by
#   tests/fuzz/fits_seeds.py); what a run finds goes to build-fuzz/found/fits_*.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FITS_FUZZ_CFLAGS := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
FITS_FUZZ_SRCS := src/data_fits.c src/data_catalog.c src/data_catalog_join.c src/data_image.c src/sf_util.c
FITS_FUZZ_LIBS := $(shell $(PKG_CONFIG) --libs cfitsio libcjson libpng libjpeg 2>/dev/null) -lm -lpthread
FITS_FUZZERS := $(FUZZ_BUILD)/fuzz_fits_catalog $(FUZZ_BUILD)/fuzz_fits_cutout

$(FITS_FUZZERS): $(FUZZ_BUILD)/fuzz_fits_%: tests/fuzz/fuzz_fits_%.c $(FITS_FUZZ_SRCS) include/data_fits.h
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(CPPFLAGS) $(FITS_FUZZ_CFLAGS) -o $@ $< $(FITS_FUZZ_SRCS) $(FITS_FUZZ_LIBS)

# cfitsio answers a corrupt header's absurd sizes with a calloc that fails (then an
# error status): the sanitizer and libFuzzer let that allocation return NULL, as the
# C library does, instead of calling it a crash.
.PHONY: fuzz-fits
fuzz-fits: $(FITS_FUZZERS)
	@for h in fits_catalog fits_cutout; do \
	    mkdir -p $(FUZZ_BUILD)/found/$$h $(FUZZ_BUILD)/crashes && \
	    ASAN_OPTIONS=allocator_may_return_null=1 $(FUZZ_BUILD)/fuzz_$$h \
	        -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -malloc_limit_mb=1048576 \
	        -rss_limit_mb=4096 -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/crashes/ \
	        $(FUZZ_BUILD)/found/$$h tests/fuzz/corpus/$$h || exit 1; \
	done
