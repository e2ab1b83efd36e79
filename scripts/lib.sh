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
