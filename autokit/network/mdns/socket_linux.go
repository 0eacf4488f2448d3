package mdns

import (
	"encoding/binary"
	"fmt"
	"net"
	"syscall"
)

// listen opens a UDP socket on an ephemeral port whose multicast goes out
// of ifi with TTL 255 (RFC 6762 section 11) and which reports each
// packet's incoming interface.
func listen(ifi *net.Interface) (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{})
	if err != nil {
		return nil, fmt.Errorf("opening a UDP socket: %w", err)
	}
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		s := int(fd)
		if serr = syscall.SetsockoptIPMreqn(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_IF, &syscall.IPMreqn{Ifindex: int32(ifi.Index)}); serr != nil {
			serr = fmt.Errorf("IP_MULTICAST_IF %s: %w", ifi.Name, serr)
			return
		}
		if serr = syscall.SetsockoptInt(s, syscall.IPPROTO_IP, syscall.IP_MULTICAST_TTL, 255); serr != nil {
			serr = fmt.Errorf("IP_MULTICAST_TTL: %w", serr)
			return
		}
		if serr = syscall.SetsockoptInt(s, syscall.IPPROTO_IP, syscall.IP_PKTINFO, 1); serr != nil {
			serr = fmt.Errorf("IP_PKTINFO: %w", serr)
		}
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("setting up the socket: %w", err)
	}
	return c, nil
}

// ifindex is the incoming interface's index from a packet's IP_PKTINFO
// control message; 0 when there is none.
func ifindex(oob []byte) int {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return 0
	}
	for _, m := range msgs {
		// struct in_pktinfo starts with int ipi_ifindex.
		if m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_PKTINFO && len(m.Data) >= 4 {
			return int(int32(binary.NativeEndian.Uint32(m.Data)))
		}
	}
	return 0
}
