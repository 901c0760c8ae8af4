#!/usr/bin/env bash
# Shared by .ci/install-backends and .ci/install-tools (sourced, not run): a private apt
# configuration for Debian trixie, derived from the machine's own Debian sources, so that
# `apt-get download` can fetch trixie's packages into a cache without touching the machine's
# apt configuration or dpkg database.
#
# The caller sets TARGET_SUITE (trixie) and APTDIR (the private apt state directory) and
# defines die() and note(); trixie_apt_setup then writes the private sources and apt.conf
# under APTDIR and runs `apt-get update` with them. apt_private runs any apt command against
# that configuration:  apt_private apt-get -q download PKG=VERSION
# (The function bodies are not indented: the apt.conf here-document must start at column 0.)

# Runs an apt tool (`apt-get`, `apt-cache`) with the private configuration.
apt_private() { "$1" -c "$APTDIR/apt.conf" "${@:2}"; }

trixie_apt_setup() {
# ---- 1. private sources file, derived from the machine's own Debian sources ------------------
# Emits one "URI SUITE SIGNED-BY ARCHITECTURES" record (fields separated by \037, so that empty
# fields survive `read`) per binary source entry that has the `main` component. Handles the
# one-line format (sources.list, *.list) and the deb822 format (*.sources, with continuation
# lines and `Enabled: no`).
list_entries() {
  local f
  local files=()
  [[ -f /etc/apt/sources.list ]] && files+=(/etc/apt/sources.list)
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f "$f" ]] && files+=("$f")
  done
  [[ ${#files[@]} -gt 0 ]] || return 0
  for f in "${files[@]}"; do
    case "$f" in
    *.sources)
      awk '
        function flush(   i, n, u, s, nu, ns, okmain, c, nc) {
          if (types ~ /(^|[ \t])deb([ \t]|$)/ && tolower(enabled) != "no") {
            nc = split(comps, c, /[ \t]+/); okmain = 0
            for (i = 1; i <= nc; i++) if (c[i] == "main") okmain = 1
            if (okmain) {
              nu = split(uris, u, /[ \t]+/); ns = split(suites, s, /[ \t]+/)
              for (i = 1; i <= nu; i++) for (n = 1; n <= ns; n++)
                if (u[i] != "" && s[n] != "") printf "%s\037%s\037%s\037%s\n", u[i], s[n], signed, arch
            }
          }
          types = uris = suites = comps = signed = arch = enabled = ""; field = ""
        }
        /^#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ {   # continuation line: only Signed-By may span lines (an embedded key)
          if (field == "signed-by") signed = "EMBEDDED"
          next
        }
        {
          field = tolower($0); sub(/:.*/, "", field)
          val = $0; sub(/^[^:]*:[ \t]*/, "", val); sub(/[ \t]+$/, "", val)
          if (field == "types") types = val
          else if (field == "uris") uris = val
          else if (field == "suites") suites = val
          else if (field == "components") comps = val
          else if (field == "signed-by") signed = (val == "" ? "EMBEDDED" : val)
          else if (field == "architectures") arch = val
          else if (field == "enabled") enabled = val
        }
        END { flush() }
      ' "$f"
      ;;
    *)
      # deb [opt=val ...] URI SUITE COMPONENT...
      awk '
        { sub(/#.*/, "") }
        $1 != "deb" { next }
        {
          signed = ""; arch = ""; i = 2
          if ($2 ~ /^\[/) {
            opts = ""
            for (; i <= NF; i++) { opts = opts " " $i; if ($i ~ /\]$/) { i++; break } }
            gsub(/[\[\]]/, "", opts)
            n = split(opts, o, /[ \t]+/)
            for (k = 1; k <= n; k++) {
              if (o[k] ~ /^signed-by=/) { signed = o[k]; sub(/^signed-by=/, "", signed) }
              if (o[k] ~ /^arch=/) { arch = o[k]; sub(/^arch=/, "", arch); gsub(/,/, " ", arch) }
            }
          }
          uri = $i; suite = $(i + 1); okmain = 0
          for (k = i + 2; k <= NF; k++) if ($k == "main") okmain = 1
          if (uri != "" && suite != "" && okmain) printf "%s\037%s\037%s\037%s\n", uri, suite, signed, arch
        }
      ' "$f"
      ;;
    esac
  done
}

codename=""
if [[ -r /etc/os-release ]]; then
  codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
fi

mkdir -p "$APTDIR"
SOURCES="$APTDIR/trixie.sources"
: >"$SOURCES.tmp"
declare -A seen=()
while IFS=$'\037' read -r uri suite signed arch; do
  # Only the release suite itself ("bookworm"): -updates/-security/-backports are not needed
  # and would only add ways to fail. Suites with '/' or '-' (third-party layouts) are skipped.
  [[ "$suite" =~ ^[a-z]+$ ]] || continue
  if [[ -n "$codename" && "$suite" != "$codename" && "$suite" != "$TARGET_SUITE" ]]; then
    continue
  fi
  case "$uri" in http://* | https://* | mirror+* | mirror://*) ;; *) continue ;; esac
  # Third-party repositories that happen to use the codename as suite carry their own key;
  # keep only entries signed by the Debian archive keyring (or the default trusted keys).
  if [[ -n "$signed" && "$signed" != *debian-archive-keyring* ]]; then
    continue
  fi
  [[ -z "${seen[$uri]:-}" ]] || continue
  seen[$uri]=1
  {
    echo "Types: deb"
    echo "URIs: $uri"
    echo "Suites: $TARGET_SUITE"
    echo "Components: main"
    [[ -n "$signed" ]] && echo "Signed-By: $signed"
    [[ -n "$arch" ]] && echo "Architectures: $arch"
    echo
  } >>"$SOURCES.tmp"
done < <(list_entries)

if [[ ! -s "$SOURCES.tmp" ]]; then
  rm -f "$SOURCES.tmp"
  die "found no Debian 'main' source for the release suite${codename:+ '$codename'} in /etc/apt/sources.list or /etc/apt/sources.list.d/*.list|*.sources; cannot derive a $TARGET_SUITE source"
fi
mv -f "$SOURCES.tmp" "$SOURCES"
note "private sources ($SOURCES):"
sed 's/^/    /' "$SOURCES" >&2

# ---- 2. private apt configuration ------------------------------------------------------------
# Read with `-c` (after the machine's apt.conf.d, so proxies etc. still apply) and overrides:
# every directory apt writes to, including its lock files, lives in the cache, so no root is
# needed; the machine's pins are ignored; hooks that the machine runs after its own updates
# (cache cleaners, appstream, packagekit) are cleared so our update has no side effects.
mkdir -p "$APTDIR"/{lists/partial,archives/partial,cache,state,preferences.d}
: >"$APTDIR/state/status" # an empty dpkg status: we install nothing, so nothing is "installed"
sandbox_user=""
if [[ "$(id -u)" == 0 ]]; then
  # As root apt downloads as the `_apt` user, which cannot enter e.g. /root/.cache.
  sandbox_user='APT::Sandbox::User "root";'
fi
cat >"$APTDIR/apt.conf" <<EOF
Dir::Etc::sourcelist "$SOURCES";
Dir::Etc::sourceparts "-";
Dir::Etc::preferences "$APTDIR/preferences";
Dir::Etc::preferencesparts "$APTDIR/preferences.d";
Dir::State "$APTDIR/state";
Dir::State::Lists "$APTDIR/lists";
Dir::State::status "$APTDIR/state/status";
Dir::Cache "$APTDIR/cache";
Dir::Cache::archives "$APTDIR/archives";
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT::Get::List-Cleanup "0";
Acquire::Languages "none";
Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";
Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled "false";
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
#clear DPkg::Pre-Invoke;
#clear DPkg::Post-Invoke;
$sandbox_user
EOF
apt_private() { "$1" -c "$APTDIR/apt.conf" "${@:2}"; }

note "apt-get update (private lists in $APTDIR/lists)"
if ! apt_private apt-get -q update >"$APTDIR/update.log" 2>&1; then
  cat "$APTDIR/update.log" >&2
  die "private 'apt-get update' for $TARGET_SUITE failed (log above, $APTDIR/update.log)"
fi
# apt-get update exits 0 on some fetch failures (it only warns); those show as W:/E: lines.
if grep -qE '^(E:|W: Failed)' "$APTDIR/update.log"; then
  cat "$APTDIR/update.log" >&2
  die "private 'apt-get update' for $TARGET_SUITE reported errors (log above)"
fi
}
