#!/bin/bash
# Runs the probes this machine's kernel cannot (kprobes, and what needs BPF trampolines)
# on a second kernel: Debian's own (linux-image-amd64), booted under qemu with a small
# initramfs of busybox and the probe binary. Each tests/qemu/cases/NAME.bt runs there (with
# the command of its `// command:` line as -c; a `// args:` line runs probe with those
# arguments instead of the script); its output must equal NAME.out.
#
#   tests/qemu/run.sh        installs qemu and busybox if needed, downloads the kernel once
#                            into target/qemu, builds probe, boots, compares
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$root/target/qemu
cases=$root/tests/qemu/cases
mkdir -p "$work"

if ! command -v qemu-system-x86_64 >/dev/null || [ ! -x /bin/busybox ] || ! command -v cpio >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    qemu-system-x86 busybox-static cpio >/dev/null
fi
if [ ! -f "$work/vmlinuz" ]; then
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ { print $2; exit }')
  (cd "$work" && apt-get download "$pkg" 2>/dev/null && dpkg-deb -x "$pkg"_*.deb kernel \
    && cp kernel/boot/vmlinuz-* vmlinuz && rm -rf kernel "$pkg"_*.deb)
fi

# The test suite passes the binary it built; run alone, build it.
if [ -z "${PROBE_BIN:-}" ]; then
  cargo build -q --bin probe --manifest-path "$root/Cargo.toml"
fi
probe=${PROBE_BIN:-$root/target/debug/probe}

# The initramfs: busybox, probe and the libraries it links, the cases, and an init that
# runs each case and powers off.
fs=$work/initramfs
rm -rf "$fs" && mkdir -p "$fs"/{bin,proc,sys,tmp,cases}
cp /bin/busybox "$fs/bin/busybox"
cp "$probe" "$fs/bin/probe"
for lib in $(ldd "$probe" | grep -o '/[^ ]*'); do
  mkdir -p "$fs$(dirname "$lib")" && cp -L "$lib" "$fs$lib"
done
cp "$cases"/*.bt "$fs/cases/"
cat > "$fs/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t tracefs tracefs /sys/kernel/tracing
export PATH=/bin
for f in /cases/*.bt; do
  name=$(basename "$f" .bt)
  cmd=$(sed -n 's|^// command: ||p' "$f")
  args=$(sed -n 's|^// args: ||p' "$f")
  echo "=== $name"
  if [ -n "$args" ]; then probe $args 2>&1
  elif [ -n "$cmd" ]; then probe "$f" -c "$cmd" 2>&1
  else probe "$f" 2>&1; fi
  echo "=== exit $?"
done
echo "=== done"
echo o > /proc/sysrq-trigger
INIT
chmod +x "$fs/init"
(cd "$fs" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initramfs.gz"

timeout 300 qemu-system-x86_64 -accel tcg -m 1024 -nographic -no-reboot \
  -kernel "$work/vmlinuz" -initrd "$work/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1" > "$work/console.log" 2>&1 || true
tr -d '\r' < "$work/console.log" > "$work/console.txt"

status=0
grep -q '^=== done' "$work/console.txt" || { echo "qemu: the guest did not finish; see $work/console.log"; exit 1; }
for f in "$cases"/*.bt; do
  name=$(basename "$f" .bt)
  # A marker may follow the firmware's escape codes on its line.
  got=$(awk -v n="=== $name" 'substr($0, length($0) - length(n) + 1) == n { on = 1; next }
    /^=== exit/ { if (on) exit } on' "$work/console.txt")
  if [ "$got" == "$(cat "$cases/$name.out")" ]; then
    echo "qemu: $name ok"
  else
    echo "qemu: $name FAILED"; diff <(echo "$got") "$cases/$name.out" || true
    status=1
  fi
done
exit $status
