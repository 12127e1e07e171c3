#!/bin/sh
# tools/man.sh BIN - a man page (troff, on stdout) from a filter's --help,
# so that the page and --help never disagree (make man).
set -eu
prog=$(basename "$1")
"$1" --help | awk -v prog="$prog" -v date="$(date -u +%Y-%m-%d)" '
function esc(s) { gsub(/\\/, "\\e", s); gsub(/^[.\x27]/, "\\\\\\&&", s); gsub(/-/, "\\-", s); return s }
NR == 1 {
	sub(/^[^ ]+ - /, "")
	printf ".TH %s 1 %s Landshift \"Landshift manual\"\n.SH NAME\n%s \\- %s\n", toupper(prog), date, prog, esc($0)
	next
}
/^usage: / { sub(/^usage: /, ""); printf ".SH SYNOPSIS\n.B %s\n%s\n", prog, esc(substr($0, length(prog) + 2)); next }
/^options:/ { print ".SH OPTIONS"; sect = "opt"; next }
/^example:/ { print ".SH EXAMPLE"; sect = "ex"; next }
/^$/ { next }
sect == "opt" && /^  -/ {
	line = $0; sub(/^  /, "", line)
	split(line, parts, /  +/)
	desc = substr(line, length(parts[1]) + 1); sub(/^ +/, "", desc)
	printf ".TP\n.B %s\n%s\n", esc(parts[1]), esc(desc); next
}
sect == "ex" { sub(/^  /, ""); printf ".nf\n%s\n.fi\n", esc($0); next }
{ print esc($0) }
END {
	print ".SH SEE ALSO"
	print "The README of Landshift: the frame format, every filter with an example, and the pipelines."
}'
