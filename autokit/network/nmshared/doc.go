// Package nmshared brings up the DUT network through NetworkManager
// (NETWORK=nmshared): a connection with ipv4.method shared, which makes
// NetworkManager run its own dnsmasq for DHCP and masquerade the DUT's
// traffic. Wired by default; a wifi access point (802-11-wireless.mode
// ap, WPA2-PSK) when NETWORK_WIFI_SSID is set. The DUT's address comes
// from NetworkManager's lease file,
// /var/lib/NetworkManager/dnsmasq-<interface>.leases or, when no lease
// comes in time and NETWORK_MDNS_NAME is set, by mDNS on the interface
// (package mdns).
//
// Every nmcli command is built by a method of its own (AddArgs, UpArgs,
// …) and run through a runner.Runner, so tests check the exact argument
// lists without NetworkManager.
//
// The DUT is not filtered: NetworkManager's shared mode opens the
// testbot to the DUT network for DHCP and DNS and forwards the DUT's
// traffic anywhere, and nothing drops the rest, so the DUT can reach the
// worker API and every other service of the testbot, its Docker networks
// and the LAN. Start logs a warning saying so. Use NETWORK=dnsmasq
// (package dnsmasq, which filters) for DUTs running untrusted images.
//
// Limits: needs NetworkManager running and nmcli; the connection
// (NETWORK_CONNECTION, "leviathan-<interface>" by default) is replaced if
// it exists and deleted on Close. The PSK is passed on nmcli's command line
// (visible in the process list while nmcli runs) and redacted from errors
// and logs.
package nmshared
