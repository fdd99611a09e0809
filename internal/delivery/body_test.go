package delivery

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// TestSharedBodyReturnsOnlyWhenAllLetGo: the buffer goes back to the pool
// after the owner and every reader let go, never before; a reader closed in
// the middle of a write releases when that write returns.
func TestSharedBodyReturnsOnlyWhenAllLetGo(t *testing.T) {
	var returned [][]byte
	s := NewSharedBody([]byte("[1,2,3]"), func(b []byte) { returned = append(returned, b) })
	r1, _ := s.Reader()
	r2, _ := s.Reader()
	s.Release()
	if len(returned) != 0 {
		t.Fatal("returned while readers are open")
	}
	got, _ := io.ReadAll(r1)
	if string(got) != "[1,2,3]" {
		t.Fatalf("read %q", got)
	}
	r1.(io.Closer).Close()
	r1.(io.Closer).Close() // twice is once
	if len(returned) != 0 {
		t.Fatal("returned while a reader is open")
	}
	// Close while r2 is writing: the release waits for the write.
	w := writerFunc(func(p []byte) (int, error) {
		r2.(io.Closer).Close()
		if len(returned) != 0 {
			t.Error("returned during a write")
		}
		return len(p), nil
	})
	if _, err := r2.(io.WriterTo).WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if len(returned) != 1 || string(returned[0]) != "[1,2,3]" {
		t.Fatalf("returned %q, want the buffer once", returned)
	}
	if _, err := r2.Read(make([]byte, 4)); err == nil {
		t.Fatal("a closed reader read on")
	}
	if _, err := s.Reader(); err == nil {
		t.Fatal("a released body gave a reader")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestSharedBodyThroughHTTP: net/http closes what it reads, so after a POST
// and the owner's release the buffer is back, and the server got the bytes.
func TestSharedBodyThroughHTTP(t *testing.T) {
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	body := bytes.Repeat([]byte("x"), 1<<20)
	back := make(chan []byte, 1)
	s := NewSharedBody(body, func(b []byte) { back <- b })
	req, err := retryablehttp.NewRequest(http.MethodPost, srv.URL, retryablehttp.ReaderFunc(s.Reader))
	if err != nil {
		t.Fatal(err)
	}
	client := retryablehttp.NewClient()
	client.Logger = nil
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.ContentLength != int64(len(body)) || !bytes.Equal(got, body) {
		t.Fatalf("server got %d bytes (content length %d), want %d", len(got), req.ContentLength, len(body))
	}
	s.Release()
	select {
	case b := <-back:
		if len(b) != len(body) {
			t.Fatalf("returned %d bytes", len(b))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("buffer not returned after the POST and the owner's release")
	}
}
