package delivery

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// SharedBody is a request body buffer that goes back to its pool only when
// both its owner and net/http are done with it. The owner's end is known
// (the delivery settled), but net/http may still be reading a request body
// after the response arrived (a server may answer early), and says it is
// done only by closing the body. So every reader handed to net/http holds a
// reference and drops it on Close; a closed reader reads nothing more.
type SharedBody struct {
	buf  []byte
	refs atomic.Int32
	put  func([]byte)
}

// NewSharedBody wraps buf, held by the caller; put receives it when the
// last reference is released.
func NewSharedBody(buf []byte, put func([]byte)) *SharedBody {
	s := &SharedBody{buf: buf, put: put}
	s.refs.Store(1)
	return s
}

// Bytes returns the body. It is valid until the caller's Release.
func (s *SharedBody) Bytes() []byte { return s.buf }

// Release drops a reference; the last one returns the buffer.
func (s *SharedBody) Release() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		buf := s.buf
		s.buf = nil
		s.put(buf)
	case n < 0:
		panic("delivery: SharedBody released more often than held")
	}
}

// Reader returns a new reader over the body holding a reference until it
// is closed. Its signature fits retryablehttp.ReaderFunc.
func (s *SharedBody) Reader() (io.Reader, error) {
	if s.refs.Add(1) <= 1 {
		s.refs.Add(-1)
		return nil, errReleasedBody
	}
	return &sharedReader{s: s, b: s.buf}, nil
}

var errReleasedBody = errors.New("delivery: body read after release")

// sharedReader reads a SharedBody until closed. net/http may close it from
// one goroutine while another is writing it out, so a Close during a read
// only marks it; the read that is running releases the reference when it
// returns. The buffer is never written during a read.
type sharedReader struct {
	s *SharedBody
	b []byte

	mu       sync.Mutex
	busy     bool // a Read or WriteTo is running
	closed   bool
	released bool
}

func (r *sharedReader) enter() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false
	}
	r.busy = true
	return true
}

func (r *sharedReader) exit() {
	r.mu.Lock()
	r.busy = false
	release := r.closed && !r.released
	r.released = r.released || release
	r.mu.Unlock()
	if release {
		r.s.Release()
	}
}

func (r *sharedReader) Read(p []byte) (int, error) {
	if !r.enter() {
		return 0, errReleasedBody
	}
	defer r.exit()
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// WriteTo lets net/http write the rest of the body in one call.
func (r *sharedReader) WriteTo(w io.Writer) (int64, error) {
	if !r.enter() {
		return 0, errReleasedBody
	}
	defer r.exit()
	n, err := w.Write(r.b)
	r.b = r.b[n:]
	return int64(n), err
}

// Len is the unread length; retryablehttp takes it as Content-Length.
func (r *sharedReader) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.b)
}

func (r *sharedReader) Close() error {
	r.mu.Lock()
	release := !r.closed && !r.busy
	r.closed = true
	r.released = r.released || release
	r.mu.Unlock()
	if release {
		r.s.Release()
	}
	return nil
}
