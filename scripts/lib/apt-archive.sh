# Sourced by scripts that fetch Debian packages into a private root: the archive address
# comes from this machine's own apt sources, never from a name written in the project.
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
