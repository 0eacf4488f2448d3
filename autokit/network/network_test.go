package network

import (
	"errors"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string // error substring; empty for success
	}{
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1"}, ""},
		{map[string]string{"NETWORK": "nmshared", "NETWORK_INTERFACE": "wlan0", "NETWORK_WIFI_SSID": "ap", "NETWORK_WIFI_PSK": "12345678"}, ""},
		{map[string]string{}, "NETWORK is not set; one of: dnsmasq, nmshared"},
		{map[string]string{"NETWORK": "dhcpd"}, `unknown NETWORK="dhcpd"; one of: dnsmasq, nmshared`},
		{map[string]string{"NETWORK": "dnsmasq"}, "NETWORK_INTERFACE is required"},
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1", "NETWORK_NAT": "maybe"}, "NETWORK_NAT"},
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1", "NETWORK_SUBNET": "10.42.0.1"}, "NETWORK_SUBNET"},
		{map[string]string{"NETWORK": "nmshared", "NETWORK_INTERFACE": "eth1", "NETWORK_TIMEOUT": "long"}, "NETWORK_TIMEOUT"},
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1", "NETWORK_MDNS_NAME": "dut"}, ""},
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1", "NETWORK_DUT_ALLOW": "192.168.1.20,10.8.0.0/16"}, ""},
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1", "NETWORK_DUT_ALLOW": "registry.lan"}, "NETWORK_DUT_ALLOW"},
		{map[string]string{"NETWORK": "nmshared", "NETWORK_INTERFACE": "eth1", "NETWORK_MDNS_NAME": "dut.local"}, ""},
		{map[string]string{"NETWORK": "dnsmasq", "NETWORK_INTERFACE": "eth1", "NETWORK_MDNS_NAME": "dut.example.com"}, "NETWORK_MDNS_NAME"},
		{map[string]string{"NETWORK": "nmshared", "NETWORK_INTERFACE": "eth1", "NETWORK_MDNS_NAME": "du t"}, "NETWORK_MDNS_NAME"},
	} {
		n, err := Open(env(tc.env))
		if tc.want == "" {
			if err != nil || n == nil {
				t.Errorf("%v: %v", tc.env, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.env, err, tc.want)
		}
	}
	if _, err := Open(env(nil)); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("err = %v, want ErrNotConfigured", err)
	}
}
