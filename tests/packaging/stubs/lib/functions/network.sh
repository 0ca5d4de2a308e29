# Test stand-in for OpenWrt's /lib/functions/network.sh, reached through
# ${IPKG_INSTROOT}/lib/functions/network.sh with IPKG_INSTROOT pointing at
# tests/packaging/stubs. The interfaces are lines "NAME IPV4 IPV6" of the file
# $NETWORK_INTERFACES ("-": no such address); an interface not listed does
# not exist. Like the real helpers, network_get_ipaddr VAR IFACE sets VAR to
# the interface's first address (empty when there is none) and fails when
# it is empty. Calls are recorded in $PROCD_LOG.
# shellcheck shell=dash

: "${NETWORK_INTERFACES:?}" "${PROCD_LOG:?}"

# __network_address VAR IFACE FIELD (2: IPv4, 3: IPv6)
__network_address() {
	local value
	value="$(awk -v name="$2" -v field="$3" '$1 == name && $field != "-" { print $field; exit }' \
		"$NETWORK_INTERFACES")"
	printf 'network %s %s -> %s\n' "$( [ "$3" = 2 ] && echo ipaddr || echo ipaddr6)" "$2" \
		"${value:-(none)}" >> "$PROCD_LOG"
	eval "$1=\$value"
	[ -n "$value" ]
}

network_get_ipaddr() { __network_address "$1" "$2" 2; }
network_get_ipaddr6() { __network_address "$1" "$2" 3; }
