# Sourced by scripts that fetch Debian packages into a private root: the archive address
# comes from this machine's own apt sources, never from a name written in the project.
#
# private_apt_opts DIR: set APT_OPTS, the options that make apt-get and apt-cache use DIR
# for their sources, lists, state and cache instead of the system's.
#
# apt_archive_uri SUITE: the URI of the first enabled "deb" source (deb822 or one-line
# format) that lists SUITE; returns 1 if none does.
apt_archive_uri() {
	local suite=$1 f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk -v cn="$suite" '
			function flush() {
				gsub(/[ \t]+/, " ", suites)
				if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled != "no" && index(" " suites " ", " " cn " ") && uris != "") {
					split(uris, u, /[ \t]+/); print u[1]; done = 1; exit
				}
				types = suites = uris = enabled = key = ""
			}
			/^#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^[ \t]/ { v = $0; sub(/^[ \t]+/, "", v)
			           if (key == "suites") suites = suites " " v; else if (key == "uris") uris = uris " " v; next }
			{ key = tolower($0); sub(/:.*/, "", key); v = $0; sub(/^[^:]*:[ \t]*/, "", v)
			  if (key == "types") types = v; else if (key == "suites") suites = v
			  else if (key == "uris") uris = v; else if (key == "enabled") enabled = tolower(v) }
			END { if (!done) flush() }' "$f")
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk -v cn="$suite" '
			$1 == "deb" { i = 2
				if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == cn) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	return 1
}

private_apt_opts() {
	local d=$1
	APT_OPTS=(
		-o "Dir::State=$d/state"
		-o "Dir::State::Lists=$d/lists"
		-o "Dir::State::status=$d/state/status"
		-o "Dir::State::extended_states=$d/state/extended_states"
		-o "Dir::Cache=$d/cache"
		-o "Dir::Cache::archives=$d/cache/archives"
		-o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
		-o "Dir::Etc::SourceList=$d/sources.list"
		-o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::Etc::Preferences=/dev/null"
		-o "Dir::Etc::PreferencesParts=/dev/null"
		-o "Dir::Log=$d/log"
		-o "APT::Architecture=amd64" -o "APT::Architectures=amd64"
		-o "APT::Default-Release=" -o "APT::Get::Show-Versions=false"
		-o "APT::Install-Recommends=false" -o "APT::Install-Suggests=false"
		-o "Acquire::Languages=none"
		-o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
		-o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
	)
}
