# Sourced by scripts/setup.sh and scripts/build-images.sh: network fetches that retry and say what failed,
# and the Debian mirror this machine's apt is configured with (never a host name written here).
# The sourcing script defines say() and fail().

# retry WHAT COMMAND...: runs COMMAND up to 3 times, 10 s then 20 s apart; says which try failed and why.
retry() {
  local what=$1 try rc
  shift
  for try in 1 2 3; do
    rc=0
    "$@" || rc=$?
    [ $rc -eq 0 ] && return 0
    if [ $try -lt 3 ]; then
      say "$what failed (try $try of 3, exit $rc); retrying in $((try * 10)) s"
      sleep $((try * 10))
    fi
  done
  say "$what failed 3 times (last exit $rc)"
  return $rc
}

# apt's own retries for each download, on top of retry() around the whole command.
APT_RETRIES=(-o Acquire::Retries=3)

# The machine's apt sources where apt's configuration puts them (APT_CONFIG honoured), deb822 "URIs:" and
# one-line "deb" entries (comments skipped).
apt_source_uris() {
  local SOURCELIST=/etc/apt/sources.list SOURCEPARTS=/etc/apt/sources.list.d/
  eval "$(apt-config shell SOURCELIST Dir::Etc::sourcelist/f SOURCEPARTS Dir::Etc::sourceparts/d 2>/dev/null)"
  cat "$SOURCEPARTS"/*.sources "$SOURCEPARTS"/*.list "$SOURCELIST" 2>/dev/null \
    | grep -E '^[[:space:]]*(URIs:|deb )' | grep -oE 'https?://[^ ]+' || true
}

# debian_mirror KIND: the machine's Debian archive (KIND=main) or security archive (KIND=security)
# without a trailing slash, from UMS_DEBIAN_MIRROR / UMS_DEBIAN_SECURITY_MIRROR when set. Fails when
# neither the variable nor apt's sources name one.
debian_mirror() {
  local kind=$1 found
  if [ "$kind" = security ]; then
    found=${UMS_DEBIAN_SECURITY_MIRROR:-$(apt_source_uris | grep -E 'security' | head -n1)}
  else
    found=${UMS_DEBIAN_MIRROR:-$(apt_source_uris | grep -v 'security' | head -n1)}
  fi
  local variable=UMS_DEBIAN_MIRROR
  [ "$kind" = security ] && variable=UMS_DEBIAN_SECURITY_MIRROR
  [ -n "$found" ] || fail "no Debian $kind mirror configured: apt's sources (sources.list, sources.list.d/) \
name none; add one there, or set $variable"
  printf '%s' "${found%/}"
}
