//go:build !linux

package mdns

import (
	"errors"
	"net"
)

func listen(*net.Interface) (*net.UDPConn, error) {
	return nil, errors.New("mDNS queries are implemented for Linux only")
}

func ifindex([]byte) int { return 0 }
