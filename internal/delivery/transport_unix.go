//go:build unix

package delivery

import (
	"net"
	"syscall"
)

// alive tells whether an idle connection can carry a request: the server
// has not closed it (a read would see EOF) nor sent anything unasked. One
// non-blocking peek; net/http learns the same from its reader goroutine.
func alive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	live := false
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read yet is the one live answer; EOF reads 0 bytes
		// without an error.
		live = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && live
}
