#!/usr/bin/env bash
# deps.sh demo|test: installs the Debian packages `make demo` or `make test`
# needs when some are missing, so that the README's two commands work on a
# fresh machine. Quiet when all is there (no apt-get update then); one line
# naming what it installed otherwise.
#
# As root it runs apt-get itself; as a user with passwordless sudo, through
# sudo; otherwise it stops (exit 1) and prints the one command to run and
# why each package is needed. Without apt-get (not Debian or Ubuntu) it
# prints the Debian package names and exits 1. LEVIATHAN_SKIP_DEPS=1 skips
# the whole step (exit 0), for machines set up another way.
#
# It uses only bash builtins and dpkg-query, apt-get, sudo and id, so that
# scripts/depstest can run it against stubs of those four.
set -euo pipefail

usage="usage: scripts/deps.sh demo|test (the packages make demo or make test needs)"

# Needs, as "package|why": what `leviathan run` uses on the host for the
# demo; everything the tests use for the tests. dpkg-deb, which builds
# the test OS image from apt-get download's packages, is part of every
# Debian system.
demo_needs=(
	"qemu-system-x86|qemu-system-x86_64 runs the virtual DUT"
	"ovmf|the UEFI firmware the virtual DUT boots"
	"ca-certificates|the go command fetches modules over HTTPS"
)
test_needs=(
	"${demo_needs[@]}"
	"openssh-client|ssh, the baseline of the benchmarks (make bench)"
	"dosfstools|fsck.vfat checks the boot partitions the tests write"
	"cpio|cross-checks the initramfs the test image builder writes"
	"bmap-tools|bmaptool writes the block maps the flash tests read"
	"xz-utils|xz, the fast decoder the flash tests compare"
	"dnsmasq-base|the DUT network's DHCP server (network tests)"
	"busybox|udhcpc and ping in the network tests' DUT namespace"
	"iproute2|ip, the network tests' namespaces and links"
	"nftables|nft, the DUT network's NAT and filter"
	"iptables|closes the host to the testrunner container's network"
	"ffmpeg|the video capture tests"
	"avahi-daemon|the mDNS responder the address fallback is tested against"
	"passwd|useradd, groupadd and gpasswd for the runner hook's permission tests"
	"chromium|the browser the visual report (index.html) is checked in"
)

if [ $# -ne 1 ]; then
	echo "$usage" >&2
	exit 2
fi
case "$1" in
demo) needs=("${demo_needs[@]}") ;;
test) needs=("${test_needs[@]}") ;;
*)
	echo "deps.sh: unknown set \"$1\"; $usage" >&2
	exit 2
	;;
esac
target="make $1"

if [ "${LEVIATHAN_SKIP_DEPS:-}" = 1 ]; then
	exit 0
fi

names=()
declare -A why=()
for n in "${needs[@]}"; do
	names+=("${n%%|*}")
	why[${n%%|*}]=${n#*|}
done

# explain prints each package of its arguments with why it is needed.
explain() {
	local p
	for p in "$@"; do
		printf '  %-16s %s\n' "$p" "${why[$p]}" >&2
	done
}

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
	echo "deps.sh: $target needs these Debian packages (or your system's equivalents), and this system has no apt-get to install them:" >&2
	explain "${names[@]}"
	echo "Install them, then run $target again with LEVIATHAN_SKIP_DEPS=1." >&2
	exit 1
fi

# One dpkg-query for all: it prints the packages dpkg knows, in its own
# order, and complains on stderr (exit 1) about those it has never seen.
# The second letter of the status is "i" when the package is installed.
declare -A installed=()
status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${names[@]}" 2>/dev/null) || true
while read -r pkg abbrev; do
	if [ "${abbrev:1:1}" = i ]; then
		installed[$pkg]=1
	fi
done <<<"$status"

missing=()
for p in "${names[@]}"; do
	if [ -z "${installed[$p]:-}" ]; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi

export DEBIAN_FRONTEND=noninteractive
if [ "$(id -u)" = 0 ]; then
	apt_get=(apt-get)
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
	apt_get=(sudo -n env DEBIAN_FRONTEND=noninteractive apt-get)
else
	echo "deps.sh: $target needs Debian packages that are not installed, and installing them needs root (no passwordless sudo here). Run:" >&2
	echo >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	echo >&2
	explain "${missing[@]}"
	echo "then run $target again (LEVIATHAN_SKIP_DEPS=1 skips this check)." >&2
	exit 1
fi

# apt runs apt-get as root, non-interactively, showing its output only when
# it fails.
apt() {
	local out
	if ! out=$("${apt_get[@]}" "$@" 2>&1); then
		printf '%s\n' "$out" >&2
		echo "deps.sh: apt-get $* failed; $target needs:" >&2
		explain "${missing[@]}"
		exit 1
	fi
}
apt update -qq
apt install -y -qq --no-install-recommends "${missing[@]}"
echo "deps.sh: installed ${missing[*]} for $target"
