#!/usr/bin/env bash
# action-bin.sh: the composite action's first step. It finds the
# leviathan-action binary the next steps run and writes to $GITHUB_OUTPUT:
#   path=…       where the binary is (or will be built)
#   build=…      true when the action must build it from source
#   setup-go=…   true when that build needs actions/setup-go first
#
# In order:
#   1. $LEVIATHAN_ACTION_BIN, when set, wins (it must be executable);
#   2. a binary already in $RUNNER_TEMP for this action version is reused;
#   3. a released ref (the action's tree holds dist/SHA256SUMS and
#      dist/VERSION, committed by the release workflow) downloads
#      leviathan-action_<os>_<arch> from the release and checks it against
#      dist/SHA256SUMS; a download that does not match fails the step and
#      leaves nothing executable behind;
#   4. otherwise (a branch or commit ref) the action builds from source.
# The download base is $LEVIATHAN_ACTION_DOWNLOAD_URL, or
# $SERVER_URL/$ACTION_REPOSITORY/releases/download/<dist/VERSION>.
set -euo pipefail

out=${GITHUB_OUTPUT:?GITHUB_OUTPUT is not set: run this as a step of the action}
emit() { printf '%s=%s\n' "$1" "$2" >>"$out"; }
fail() { echo "::error::$*"; exit 1; }

if [ -n "${LEVIATHAN_ACTION_BIN:-}" ]; then
	if [ ! -f "$LEVIATHAN_ACTION_BIN" ] || [ ! -x "$LEVIATHAN_ACTION_BIN" ]; then
		echo "::error::LEVIATHAN_ACTION_BIN=$LEVIATHAN_ACTION_BIN is not an executable file"
		exit 2
	fi
	emit path "$LEVIATHAN_ACTION_BIN"
	emit build false
	emit setup-go false
	exit 0
fi

action=${GITHUB_ACTION_PATH:?GITHUB_ACTION_PATH is not set}
# One binary per job and version of the action: GITHUB_ACTION_PATH is
# where the runner checked this version out.
dir="${RUNNER_TEMP:?RUNNER_TEMP is not set}/leviathan-action-$(printf %s "$action" | sha256sum | cut -c1-12)"
bin=$dir/leviathan-action
emit path "$bin"
if [ -x "$bin" ]; then
	emit build false
	emit setup-go false
	exit 0
fi

build() {
	emit build true
	if command -v go >/dev/null; then emit setup-go false; else emit setup-go true; fi
	exit 0
}

sums=$action/dist/SHA256SUMS
if [ ! -f "$sums" ]; then
	echo "leviathan-action: no dist/SHA256SUMS in the action's tree (not a released ref): building from source"
	build
fi
version=$(tr -d '[:space:]' <"$action/dist/VERSION" 2>/dev/null || true)
[ -n "$version" ] || fail "the action's tree has dist/SHA256SUMS but no dist/VERSION naming its release; pin a release tag or a commit of a branch, or set LEVIATHAN_ACTION_BIN"

case "$(uname -s)" in
Linux) os=linux ;;
*) os=$(uname -s | tr '[:upper:]' '[:lower:]') ;;
esac
case "$(uname -m)" in
x86_64 | amd64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
*) arch=$(uname -m) ;;
esac
name=leviathan-action_${os}_${arch}
want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$sums")
if [ -z "$want" ]; then
	echo "leviathan-action: release $version has no $name: building from source"
	build
fi

base=${LEVIATHAN_ACTION_DOWNLOAD_URL:-${SERVER_URL:-https://github.com}/${ACTION_REPOSITORY:-${GITHUB_REPOSITORY:?}}/releases/download/$version}
url=${base%/}/$name
mkdir -p "$dir"
tmp=$(mktemp "$dir/.download.XXXXXX")
trap 'rm -f "$tmp"' EXIT
start=$SECONDS
if ! curl -fsSL --retry 3 --retry-delay 1 --retry-connrefused --connect-timeout 10 --max-time 120 -o "$tmp" "$url"; then
	fail "could not download $url (release $version); set LEVIATHAN_ACTION_BIN to a binary you installed, or pin a commit to build from source"
fi
got=$(sha256sum "$tmp" | cut -d' ' -f1)
if [ "$got" != "$want" ]; then
	fail "$url has SHA-256 $got, the action's dist/SHA256SUMS says $want for $name: refusing to run it"
fi
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
echo "leviathan-action: $name of release $version downloaded and verified in $((SECONDS - start))s"
emit build false
emit setup-go false
