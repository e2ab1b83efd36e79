# Shared by the scripts: find or install Go, install Debian packages.
# Sourced, not run.

GO_VERSION=${GO_VERSION:-1.26.8}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install [--no-install-recommends] PKG...: installs the packages that are missing.
apt_install() {
	local missing=() opts=()
	if [ "${1:-}" = --no-install-recommends ]; then opts+=("$1"); shift; fi
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	command -v apt-get >/dev/null || die "apt-get not found: install ${missing[*]} with your package manager"
	say "installing ${missing[*]}"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${opts[@]}" "${missing[@]}" >/dev/null
}

go_ok() {
	local v
	v=$("$1" env GOVERSION 2>/dev/null) || return 1
	v=${v#go}
	[ "$(printf '%s\n1.26\n' "${v%.*}" | sort -V | head -n1)" = 1.26 ]
}

# ensure_go puts a Go >= 1.26 on PATH, installing the official release in
# /usr/local/go when there is none.
ensure_go() {
	for g in go /usr/local/go/bin/go; do
		if command -v "$g" >/dev/null && go_ok "$(command -v "$g")"; then
			export PATH="$(dirname "$(command -v "$g")"):$PATH"
			return 0
		fi
	done
	apt_install ca-certificates curl
	local arch
	case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) die "unsupported CPU $(uname -m)" ;; esac
	say "installing Go $GO_VERSION in /usr/local/go"
	curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-${arch}.tar.gz" -o /tmp/go.tgz || die "could not download Go"
	as_root rm -rf /usr/local/go
	as_root tar -C /usr/local -xzf /tmp/go.tgz
	rm -f /tmp/go.tgz
	export PATH="/usr/local/go/bin:$PATH"
}

# debian_root prints the path of a tarball of a fresh Debian 12 (bookworm)
# root, made with debootstrap --variant=minbase, for the test of `wod install
# --root` (cmd/wod TestInstallFreshDebianRoot): its apt lists are current and
# its apt cache holds the .deb files of every role's packages, so that the
# test installs them with no network. It is made once under
# $WOD_TEST_CACHE (/var/cache/wod-test) and reused while what the roles
# need (install/packages.go) and this recipe are unchanged. Needs root.
# (Every step checks its own status: set -e does not reach into a command
# substitution nor a condition.)
debian_root() {
	local cache=${WOD_TEST_CACHE:-/var/cache/wod-test} key tarball work
	key=$({ cat install/packages.go && declare -f debian_root _debian_root_make _debian_root_umount; } | sha256sum | cut -c1-12)
	tarball=$cache/bookworm-minbase-$key.tar.zst
	if [ -s "$tarball" ] && zstd -q -t "$tarball" 2>/dev/null; then
		printf '%s\n' "$tarball"
		return 0
	fi
	[ "$(id -u)" = 0 ] || die "making the Debian root for the install test needs root"
	apt_install --no-install-recommends debootstrap debian-archive-keyring zstd
	mkdir -p "$cache" || die "could not create $cache"
	work=$(mktemp -d "$cache/make.XXXXXX") || die "could not create a directory in $cache"
	local start=$SECONDS
	# The subshell unmounts what the recipe mounted, whatever happens
	# (debootstrap mounts /proc and /sys while it works), and the tree is
	# removed only once nothing is mounted under it.
	if ! (trap '_debian_root_umount "$work/root"' EXIT; _debian_root_make "$work" "$tarball.tmp") >&2; then
		_debian_root_umount "$work/root"
		rm -rf --one-file-system "$work" "$tarball.tmp"
		die "could not make the Debian root for the install test"
	fi
	rm -rf --one-file-system "$work"
	mv "$tarball.tmp" "$tarball" || die "could not move $tarball.tmp"
	# Older recipes' tarballs.
	find "$cache" -maxdepth 1 -name 'bookworm-minbase-*.tar.zst' ! -path "$tarball" -delete
	say "made $tarball in $((SECONDS - start)) s"
	printf '%s\n' "$tarball"
}

_debian_root_umount() {
	local m
	for m in $(awk -v r="$1" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r); do
		umount -l "$m" || true
	done
}

# _debian_root_make WORK TARBALL: debootstrap into WORK/root, then, with
# wod's own plan on that fresh root (`wod install --dry-run` of each role),
# download every package a role installs.
_debian_root_make() {
	local work=$1 out=$2 root=$1/root mirror plan pkgs role
	# The mirror apt is configured with here (a Debian machine's own).
	mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE) $(IDENTIFIER)' |
		awk '$3 == "Packages" && $2 !~ /-(security|updates|backports)$/ { print $1; exit }')
	[ -n "$mirror" ] || { echo "no Debian mirror in apt's configuration"; return 1; }
	say "debootstrap bookworm (minbase) from $mirror"
	debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
		{ tail -n 20 "$work/debootstrap.log"; return 1; }
	chroot "$root" apt-get update -q >/dev/null || return 1
	go build -o "$work/wod" ./cmd/wod || return 1
	# Each role's set by itself: apt may resolve a set's alternatives
	# differently from the whole. The student root's filesystem picks
	# btrfs-progs or quota: both.
	for role in "up" "agent --server http://127.0.0.1:9 --agent-token t" "server --postgres"; do
		# shellcheck disable=SC2086
		plan=$("$work/wod" install --role $role --root "$root" --dry-run --log-level error) || return 1
		# "install packages: NAME (why), NAME (why)": the names before "(".
		pkgs=$(printf '%s\n' "$plan" | sed -n 's/^ *[0-9]*\. install packages: //p' |
			grep -o '[a-z0-9][a-z0-9+.-]* ([^)]*)' | cut -d' ' -f1 | tr '\n' ' ')
		[ -n "$pkgs" ] || { printf 'no packages in the plan of %s:\n%s\n' "$role" "$plan"; return 1; }
		case $role in server*) ;; *) pkgs="$pkgs btrfs-progs quota" ;; esac
		say "downloading into the root's apt cache, for ${role%% *}: $pkgs"
		# shellcheck disable=SC2086
		chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -q -y --download-only \
			--no-install-recommends $pkgs >/dev/null || return 1
	done
	rm -f "$root/etc/resolv.conf" # the test's root has no network
	tar --numeric-owner --xattrs -C "$root" -I 'zstd -T0 -3' -cf "$out" . || return 1
}
