# sfnet-explore: GNU Make build.
#   make              build ./sfnet-explore
#   make check        install missing Debian packages, build, run every test
#   make demo         install, build, make the synthetic survey, train, browse
#   make bench        speed and memory figures (beside PyTorch when installed)
#   make bench-scale  every screen and command at 250,000 galaxies a run (long: see bench/bench_scale.c)
#   make fuzz         run every fuzz harness (FUZZ_SECONDS=N each, default 60)
#   make valgrind     every headless command under valgrind (DEBUG=1 build)
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
.PHONY: fuzz fuzzers fuzz-corpus fuzz-fits valgrind
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

# ---- fuzzing ---------------------------------------------------------------------------
# Every tests/fuzz/fuzz_NAME.c is a libFuzzer harness with its seeds in
# tests/fuzz/corpus/NAME/; adding one is adding those two (nothing here changes).
# `make fuzz FUZZ_SECONDS=N` builds them with clang (ASan + UBSan) and runs each N
# seconds (default 60), one after the other; what a run finds goes to
# build-fuzz/found/NAME (the committed seeds stay as they are), a crash to
# build-fuzz/crashes/ (add it to the corpus once mended). `make check` runs each 20 s.
# The harnesses link an archive of the sources, so a harness pulls in only the
# modules it calls (the two sources that need OpenMP's runtime are left out).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_CFLAGS  := -std=c11 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined \
                -fno-sanitize-recover=undefined $(WARN) -Wno-unknown-pragmas
FUZZ_SRCS    := $(filter-out src/main.c,$(shell grep -L '<omp.h>' $(SRCS)))
FUZZ_OBJS    := $(patsubst src/%.c,$(FUZZ_BUILD)/%.o,$(FUZZ_SRCS))
FUZZERS      := $(patsubst tests/fuzz/fuzz_%.c,$(FUZZ_BUILD)/fuzz_%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/%.o: src/%.c
	@mkdir -p $(FUZZ_BUILD)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/libsfnet.a: $(FUZZ_OBJS)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libsfnet.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libsfnet.a $(LDLIBS)

fuzzers: $(FUZZERS)

fuzz: deps
	$(MAKE) fuzzers
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZERS)

# Rewrites the seed corpus (tests/fuzz/make_corpus.c; the FITS seeds by astropy).
fuzz-corpus: $(BUILD)/tests/make_corpus
	$(BUILD)/tests/make_corpus tests/fuzz/corpus
	$(PYTHON) tests/fuzz/fits_seeds.py tests/fuzz/corpus/fits_catalog tests/fuzz/corpus/fits_cutout

$(BUILD)/tests/make_corpus: tests/fuzz/make_corpus.c $(LIB_OBJS) | $(BUILD)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Every headless command under valgrind's memcheck (tests/valgrind.sh, with the
# suppressions of tests/valgrind.supp), on the DEBUG=1 build; about 20 minutes.
valgrind:
	$(MAKE) DEBUG=1 all
	sh tests/valgrind.sh build-debug/sfnet-explore

deps:
	@sh share/install-deps.sh

tests: $(BIN) $(TESTS) $(MPI_HELPERS)

# Each test binary is a Criterion suite; tests/run.sh runs them all and prints the totals.
check: deps
	$(MAKE) tests
	SFNET_BIN=$(CURDIR)/$(BIN) BUILD=$(BUILD) PYTHON=$(PYTHON) sh tests/run.sh $(TESTS)
	$(MAKE) fuzzers
	sh tests/fuzz/run.sh 20 $(FUZZERS)

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

-include $(OBJS:.o=.d) $(TESTS:=.d) $(MPI_HELPERS:=.d) $(FUZZ_OBJS:.o=.d)

# The FITS harnesses on their own (their run options: tests/fuzz/fuzz_fits_*.options).
fuzz-fits: deps
	$(MAKE) $(filter %/fuzz_fits_catalog %/fuzz_fits_cutout,$(FUZZERS))
	sh tests/fuzz/run.sh $(FUZZ_SECONDS) $(filter %/fuzz_fits_catalog %/fuzz_fits_cutout,$(FUZZERS))
