# zetl: one non-recursive Makefile. `make` builds ./zetl; `make check` runs
# every test; `make asan` / `make ubsan` run them under the sanitizers.

VERSION   := 0.1.0
PREFIX    ?= /usr/local
DESTDIR   ?=
VARIANT   ?= release
CC        ?= cc
BUILD     := build/$(VARIANT)

PKGS      := jansson libpq libmariadb libzstd libcurl zlib
TEST_PKGS := cmocka

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_CFLAGS := $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
TEST_LIBS   := $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)

WARN      := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
             -Wno-missing-field-initializers
CFLAGS_release := -O2 -g
CFLAGS_asan    := -O1 -g -fsanitize=address -fno-omit-frame-pointer
CFLAGS_ubsan   := -O1 -g -fsanitize=undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_fuzz    := -O1 -g -fsanitize=address,undefined,fuzzer-no-link
ALL_CFLAGS := -std=c11 -D_GNU_SOURCE -DZETL_VERSION='"$(VERSION)"' -Iinclude -Isrc \
              $(WARN) $(CFLAGS_$(VARIANT)) $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_asan  := -fsanitize=address
LDFLAGS_ubsan := -fsanitize=undefined
ALL_LDFLAGS := $(LDFLAGS_$(VARIANT)) $(LDFLAGS)
LIBS := $(PKG_LIBS) -lpthread -lm

CORE_SRC := $(filter-out src/main.c,$(wildcard src/*.c)) $(wildcard connectors/*/*.c)
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ := $(BUILD)/obj/src/main.o
LIB      := $(BUILD)/libzetl.a
BIN      := $(BUILD)/zetl

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
ITEST_SRC := $(wildcard tests/integration/test_*.c)
ITEST_BIN := $(ITEST_SRC:tests/integration/%.c=$(BUILD)/itests/%)

MAN_PAGES := $(wildcard man/*.[1-8])

.PHONY: all check unit asan ubsan install deps demo bench clean format format-check tests fuzz chaos

all: zetl

# The top-level ./zetl is the release build; sanitizer builds stay in build/.
ifeq ($(VARIANT),release)
zetl: $(BIN)
	cp $(BIN) zetl
else
zetl: $(BIN)
endif

$(BIN): $(MAIN_OBJ) $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(MAIN_OBJ) $(LIB) $(LIBS)

$(LIB): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(BUILD)/tests/test_%: tests/unit/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(LIB) $(ALL_LDFLAGS) $(TEST_LIBS) $(LIBS)

# Integration tests in C: run by scripts/run-tests.sh against the harness servers.
$(BUILD)/itests/test_%: tests/integration/test_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(TEST_CFLAGS) -o $@ $< $(LIB) $(ALL_LDFLAGS) $(TEST_LIBS) $(LIBS)

tests: $(BIN) $(UNIT_BIN) $(ITEST_BIN)

# Every test: unit (cmocka), integration (real servers started by the
# harness), interop (independent readers). One summary line at the end.
check: tests
	scripts/run-tests.sh $(BUILD)

unit: tests
	scripts/run-tests.sh --unit-only $(BUILD)

asan:
	$(MAKE) VARIANT=asan check

ubsan:
	$(MAKE) VARIANT=ubsan check

install: zetl
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 zetl $(DESTDIR)$(PREFIX)/bin/zetl
	for p in $(MAN_PAGES); do \
		s=$${p##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
		install -m 0644 $$p $(DESTDIR)$(PREFIX)/share/man/man$$s/; \
	done

deps:
	scripts/deps.sh

demo:
	scripts/demo.sh

# Throughput against the sources' own limits, measured in the same run.
# Every benchmark measures its limit in the same run (servers without TLS,
# as the limits are measured); BENCH_ONLY="core iceberg" runs a subset.
BENCH_ONLY ?= core parquet iceberg warehouse opensearch
bench: zetl
	@for b in $(BENCH_ONLY); do \
		case $$b in core) s=scripts/bench.sh ;; *) s=scripts/bench-$$b.sh ;; esac; \
		echo "==== $$b ($$s)"; bash $$s || exit 1; \
	done

# SIGKILLs, source restarts and sink faults under a mixed workload, then each
# target compared with its source (tests/chaos/README.md; the harness servers
# are started by the driver). CHAOS_PAIRS, CHAOS_KILLS, CHAOS_SEED choose.
chaos: zetl
	ZETL_BIN=$(CURDIR)/$(BIN) bash tests/chaos/chaos.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build zetl

-include $(CORE_OBJ:.o=.d) $(MAIN_OBJ:.o=.d)

# ---- fuzzing (tests/fuzz) ---------------------------------------------------
# libFuzzer targets, built with clang against the fuzz variant of the library
# (`make VARIANT=fuzz CC=clang fuzzers`); `make fuzz` builds and runs them all
# for FUZZ_SECONDS each (scripts/fuzz.sh).
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzzers/%)
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined

.PHONY: fuzzers

fuzzers: $(FUZZ_BIN)

$(BUILD)/fuzzers/fuzz_%: tests/fuzz/fuzz_%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(FUZZ_FLAGS) -MMD -MP -o $@ $< $(LIB) $(LIBS)

fuzz:
	scripts/fuzz.sh

-include $(FUZZ_BIN:=.d)
