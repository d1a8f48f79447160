# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# loopscope: `make` builds ./loopscope; `make test` runs the test suite (as root);
# `make V=1` shows the commands; SANITIZE=1 builds with ASan+UBSan.
OUTPUT ?= .output
CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PYTHON ?= /usr/bin/python3

ARCH ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h
ifeq ($(wildcard $(VMLINUX)),)
$(error Architecture $(ARCH) has no $(VMLINUX): run scripts/gen-vmlinux.sh)
endif

CFLAGS ?= -g -O2
override CFLAGS += -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers \
		   -std=gnu11 -D_GNU_SOURCE -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS += $(EXTRA_LDFLAGS)
LDLIBS := -lbpf -lelf -lz
ifeq ($(SANITIZE),1)
override CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS += -fsanitize=address,undefined
endif
INCLUDES := -I$(OUTPUT) -Ibpf -Iuser

# clang -target bpf lacks the system's multiarch include dirs (asm/types.h); borrow them.
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) -MMD -MP \
	      -I$(dir $(VMLINUX)) -Ibpf $(CLANG_BPF_SYS_INCLUDES)

BPF_APPS := loopscope
# e.g. make OUTPUT=/tmp/asan BIN=/tmp/asan/loopscope SANITIZE=1 keeps ./loopscope
BIN ?= loopscope
USER_SRCS := $(wildcard user/*.c user/py/*.c user/daemon/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean test bench
all: $(BIN)

$(OUTPUT):
	$(Q)mkdir -p $@

$(OUTPUT)/%.bpf.o: bpf/%.bpf.c | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MF $@.d -MT $@ -c $< -o $@.tmp
	$(Q)$(BPFTOOL) gen object $@ $@.tmp
	$(Q)rm -f $@.tmp

$(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

$(OUTPUT)/syscall_names.h: scripts/gen-syscall-names.sh | $(OUTPUT)
	$(call msg,GEN,$@)
	$(Q)scripts/gen-syscall-names.sh "$(CC)" > $@

# every object may include a skeleton or a generated table: generate them first
$(USER_OBJS): | $(patsubst %,$(OUTPUT)/%.skel.h,$(BPF_APPS)) $(OUTPUT)/syscall_names.h

$(OUTPUT)/%.o: user/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# the test suite drives real processes and loads BPF: it needs root
test: $(BIN)
	LOOPSCOPE_BIN=$(abspath $(BIN)) $(PYTHON) -m pytest -rs -p no:cacheprovider tests/ \
		$(PYTEST_ARGS)

bench: $(BIN)
	bench/run.sh $(BENCH_ARGS)

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) $(BIN)

.DELETE_ON_ERROR:
.SECONDARY:

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/py/*.d $(OUTPUT)/daemon/*.d)
