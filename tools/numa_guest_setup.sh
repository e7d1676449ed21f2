#!/usr/bin/env bash
# tools/numa_guest_setup.sh: fetch and unpack what the NUMA lab's guest tests boot.
#
# The numa lab proves multi-node placement (interleave, bind to node 1, move_pages migration,
# a thread on node 1's CPUs) on machines that have one node, by booting a QEMU guest with two and
# four nodes (labs/numa/numa_guest.h). The guest is Debian's own kernel, booted directly (PVH)
# from the uncompressed vmlinux inside linux-image-*-amd64, and busybox from busybox-static. This
# script puts both in a cache, once; the tests never download or extract anything, and skip with
# a plain message when the cache is missing.
#
#   tools/numa_guest_setup.sh [DIR]     default DIR: ${IPCLABS_NUMA_GUEST_DIR:-~/.cache/ipclabs/numa-guest}
#
# Needs: apt-get (to download two .deb files, not to install them), dpkg-deb, xz, and
# qemu-system-x86 installed to run the tests (`apt-get install qemu-system-x86`). Idempotent:
# a complete cache is left alone. Called by `labctl setup`.
set -euo pipefail

dir="${1:-${IPCLABS_NUMA_GUEST_DIR:-$HOME/.cache/ipclabs/numa-guest}}"
if [[ -s "$dir/vmlinux" && -x "$dir/busybox" && -s "$dir/kernel-version" ]]; then
  echo "numa guest: $dir is complete ($(cat "$dir/kernel-version"))"
  exit 0
fi
for tool in apt-get apt-cache dpkg-deb xz grep; do
  command -v "$tool" >/dev/null || { echo "numa guest: $tool is missing" >&2; exit 1; }
done
command -v qemu-system-x86_64 >/dev/null ||
  echo "numa guest: note: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86); the guest tests will skip without it" >&2

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
chmod 777 "$work"  # apt's _apt user downloads into it

# The kernel package that linux-image-amd64 points at now (e.g. linux-image-6.1.0-56-amd64).
kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
[[ -n "$kernel_pkg" ]] || { echo "numa guest: cannot resolve linux-image-amd64 (apt-get update?)" >&2; exit 1; }
apt-get download -q "$kernel_pkg" busybox-static >/dev/null

# vmlinuz is a bzImage: a decompressor followed by the xz-compressed kernel. PVH boot wants the
# ELF inside it, so find the xz magic (FD 37 7A 58 5A 00) and decompress from there; xz stops at
# the end of its stream and complains about the bytes after it, which is expected.
dpkg-deb --fsys-tarfile "$kernel_pkg"_*.deb | tar -x ./boot
vmlinuz=$(ls boot/vmlinuz-*)
offset=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$vmlinuz" | head -1 | cut -d: -f1)
[[ -n "$offset" ]] || { echo "numa guest: no xz stream in $vmlinuz" >&2; exit 1; }
tail -c +"$((offset + 1))" "$vmlinuz" | xz -dc > vmlinux 2>/dev/null || true
[[ "$(head -c 4 vmlinux | od -An -c | tr -d ' ')" == "177ELF" ]] ||
  { echo "numa guest: the extracted kernel is not an ELF file" >&2; exit 1; }

dpkg-deb --fsys-tarfile busybox-static_*.deb | tar -x ./bin/busybox

mkdir -p "$dir"
install -m 0644 vmlinux "$dir/vmlinux.new" && mv "$dir/vmlinux.new" "$dir/vmlinux"
install -m 0755 bin/busybox "$dir/busybox"
basename "$vmlinuz" | sed 's/^vmlinuz-//' > "$dir/kernel-version"
chmod 0755 "$dir"
echo "numa guest: $dir ready (kernel $(cat "$dir/kernel-version"), $(du -sh "$dir" | cut -f1))"
