# Test stand-ins for OpenWrt's /lib/functions.sh (UCI helpers) and
# /lib/functions/procd.sh. Sourced by rc.common in this directory.
# shellcheck shell=dash
#
# UCI: config_load NAME reads $UCI_CONFIG_DIR/NAME, a file in real UCI syntax,
# and stores it the way OpenWrt's functions.sh does: option X of section S in
# CONFIG_S_X, list items in CONFIG_S_X_ITEMn with CONFIG_S_X_LENGTH.
#
# procd: service and instance boundaries and triggers are appended to
# $PROCD_LOG, one line each, every argument in single quotes;
# procd_close_instance writes each parameter of the instance as procd would
# get it (after all set_param/append_param calls): "INSTANCE NAME: 'ARG' ...".
# logger(1) calls are recorded there too. OpenWrt's network.sh is stubbed in
# lib/functions/network.sh beside this file (point IPKG_INSTROOT here).

: "${UCI_CONFIG_DIR:?}" "${PROCD_LOG:?}"

_q() {
	# Prints its arguments, each in single quotes, separated by spaces.
	local out="" arg
	for arg in "$@"; do
		out="$out${out:+ }'$(printf '%s' "$arg" | sed "s/'/'\\\\''/g")'"
	done
	printf '%s' "$out"
}

_record() { printf '%s\n' "$*" >> "$PROCD_LOG"; }

# --- UCI --------------------------------------------------------------------
CONFIG_SECTION=""

config() {
	CONFIG_SECTION="$2"
	eval "CONFIG_${CONFIG_SECTION}_TYPE=\$1"
}

option() {
	eval "CONFIG_${CONFIG_SECTION}_$1=\$2"
}

list() {
	local len
	eval "len=\${CONFIG_${CONFIG_SECTION}_$1_LENGTH:-0}"
	len=$((len + 1))
	eval "CONFIG_${CONFIG_SECTION}_$1_ITEM$len=\$2"
	eval "CONFIG_${CONFIG_SECTION}_$1_LENGTH=$len"
	eval "CONFIG_${CONFIG_SECTION}_$1=\"\${CONFIG_${CONFIG_SECTION}_$1:+\${CONFIG_${CONFIG_SECTION}_$1} }\$2\""
}

# Turns UCI syntax into calls of config/option/list above, as `uci export`
# output is evaluated on the device. Values in '' or "" or bare words.
_uci_to_sh() {
	awk '
	function word(   c, q, w) {
		sub(/^[ \t]+/, "", line)
		if (line == "" || substr(line, 1, 1) == "#") return ""
		w = ""
		while (line != "" && substr(line, 1, 1) !~ /[ \t]/) {
			c = substr(line, 1, 1)
			if (c == "\047" || c == "\"") {
				q = c; line = substr(line, 2)
				while (line != "" && substr(line, 1, 1) != q) {
					c = substr(line, 1, 1)
					if (q == "\"" && c == "\\") { line = substr(line, 2); c = substr(line, 1, 1) }
					w = w c; line = substr(line, 2)
				}
				if (line == "") { printf "uci stub: unterminated quote on line %d\n", NR > "/dev/stderr"; bad = 1 }
				line = substr(line, 2)
			} else if (c == "\\") {
				w = w substr(line, 2, 1); line = substr(line, 3)
			} else {
				w = w c; line = substr(line, 2)
			}
		}
		nwords++
		return w
	}
	function sq(s) { gsub(/\047/, "\047\\\\\047\047", s); return "\047" s "\047" }
	{
		line = $0; nwords = 0; out = ""
		for (i = 0; i < 3; i++) {
			w = word()
			if (nwords == i) break
			out = out (i ? " " : "") sq(w)
		}
		if (nwords == 0) next
		if (out !~ /^\047(config|option|list)\047 /) { printf "uci stub: bad line %d: %s\n", NR, $0 > "/dev/stderr"; bad = 1; next }
		print out
	}
	END { exit bad }'
}

config_load() {
	local file="$UCI_CONFIG_DIR/$1" code
	[ -f "$file" ] || return 1
	code="$(_uci_to_sh < "$file")" || { echo "uci stub: cannot parse $file" >&2; exit 3; }
	eval "$code"
}

config_get() {
	case "$3" in
		"") eval "printf '%s\n' \"\${CONFIG_$1_$2}\"" ;;
		*) eval "$1=\"\${CONFIG_$2_$3:-\$4}\"" ;;
	esac
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
		1|on|true|yes|enabled) _tmp=1 ;;
		0|off|false|no|disabled) _tmp=0 ;;
		*) _tmp="$4" ;;
	esac
	eval "$1=\$_tmp"
}

config_list_foreach() {
	[ "$#" -ge 3 ] || return 0
	local section="$1" option="$2" function="$3" len c=1 val
	shift 3
	eval "len=\${CONFIG_${section}_${option}_LENGTH}"
	[ -z "$len" ] && return 0
	while [ "$c" -le "$len" ]; do
		eval "val=\${CONFIG_${section}_${option}_ITEM$c}"
		"$function" "$val" "$@"
		c=$((c + 1))
	done
}

# --- procd --------------------------------------------------------------------
_PROCD_DIR="$(mktemp -d)"
trap 'rm -rf "$_PROCD_DIR"' EXIT
_PROCD_INSTANCE=0

procd_open_service() { _record "open_service $(_q "$@")"; }
procd_close_service() { _record "close_service"; }

procd_open_instance() {
	[ "$_PROCD_INSTANCE" = 1 ] && { _record "ERROR: instance opened twice"; return 1; }
	_PROCD_INSTANCE=1
	rm -f "$_PROCD_DIR"/*
	_record "open_instance $(_q "$@")"
}

# Parameters kept as lists of quoted words; env as KEY=VALUE words.
procd_set_param() {
	local name="$1"
	shift
	[ "$_PROCD_INSTANCE" = 1 ] || { _record "ERROR: set_param $name outside an instance"; return 1; }
	_q "$@" > "$_PROCD_DIR/$name"
}

procd_append_param() {
	local name="$1"
	shift
	[ "$_PROCD_INSTANCE" = 1 ] || { _record "ERROR: append_param $name outside an instance"; return 1; }
	if [ -s "$_PROCD_DIR/$name" ]; then
		printf ' %s' "$(_q "$@")" >> "$_PROCD_DIR/$name"
	else
		_q "$@" > "$_PROCD_DIR/$name"
	fi
}

procd_close_instance() {
	local f
	[ "$_PROCD_INSTANCE" = 1 ] || { _record "ERROR: close_instance without open"; return 1; }
	for f in "$_PROCD_DIR"/*; do
		[ -e "$f" ] || continue
		printf 'INSTANCE %s: %s\n' "$(basename "$f")" "$(cat "$f")" >> "$PROCD_LOG"
	done
	_record "close_instance"
	_PROCD_INSTANCE=0
}

procd_add_reload_trigger() { _record "reload_trigger $(_q "$@")"; }
procd_add_reload_interface_trigger() { _record "reload_interface_trigger $(_q "$@")"; }
procd_kill() { _record "kill $(_q "$@")"; }

# --- other commands -----------------------------------------------------------
# logger(1) of busybox: recorded instead of sent to syslog.
logger() { _record "logger $(_q "$@")"; }
