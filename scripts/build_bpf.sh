#!/usr/bin/env bash
# Builds the BPF objects into bpf/out/. Quick when nothing changed: vmlinux.h is made once
# from the running kernel's BTF, and an object is rebuilt only when a source is newer.
set -euo pipefail
cd "$(dirname "$0")/.."
out=bpf/out
mkdir -p "$out"

if [[ ! -s $out/vmlinux.h ]]; then
  if [[ ! -r /sys/kernel/btf/vmlinux ]]; then
    echo "build: /sys/kernel/btf/vmlinux is missing; upspan needs a kernel built with CONFIG_DEBUG_INFO_BTF=y" >&2
    exit 1
  fi
  bpftool btf dump file /sys/kernel/btf/vmlinux format c >"$out/vmlinux.h.tmp"
  mv "$out/vmlinux.h.tmp" "$out/vmlinux.h"
fi

arch=$(uname -m)
case $arch in
  x86_64) target_arch=x86 ;;
  aarch64) target_arch=arm64 ;;
  *) target_arch=$arch ;;
esac

for src in bpf/uprobes/*.bpf.c bpf/bench/*.bpf.c; do
  obj=$out/$(basename "${src%.c}").o
  if [[ -f $obj ]] && [[ $obj -nt $src ]] && ! find bpf -path bpf/out -prune -o -name '*.h' -newer "$obj" -print | grep -q .; then
    continue
  fi
  clang -O2 -g -Wall -Werror -target bpf -D__TARGET_ARCH_$target_arch \
    -I "$out" -I bpf/uprobes -c "$src" -o "$obj.tmp"
  mv "$obj.tmp" "$obj"
  echo "build: $obj" >&2
done
