package envelope_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/demo"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/twmb/franz-go/pkg/kgo"
)

// demoRecords are n catalog events as the producer writes them (the
// records of the dispatcher's benchmark) and their headers.
func demoRecords(tb testing.TB, n int) ([][]byte, [][]kgo.RecordHeader) {
	tb.Helper()
	gen := demo.NewGenerator(20260101)
	at := time.Date(2026, 4, 30, 14, 22, 1, 0, time.UTC)
	values, headers := make([][]byte, n), make([][]kgo.RecordHeader, n)
	for i := range values {
		e := gen.Next()
		e.TenantID = "t-bench"
		e.CreatedUTC = envelope.NowUTC(at.Add(time.Duration(i) * time.Millisecond))
		e.EventID = fmt.Sprintf("%s:%d:%s", e.Type, i, e.CreatedUTC)
		v, err := envelope.AppendJSON(nil, &e)
		if err != nil {
			tb.Fatal(err)
		}
		values[i], headers[i] = v, envelope.MetaOf(&e).Headers()
	}
	return values, headers
}

// BenchmarkFromRecordDemo reads a mix of catalog records, with and
// without their headers; an op is one record.
func BenchmarkFromRecordDemo(b *testing.B) {
	values, headers := demoRecords(b, 4096)
	size := 0
	for _, v := range values {
		size += len(v)
	}
	for _, withHeaders := range []bool{true, false} {
		name := "headerless"
		if withHeaders {
			name = "headers"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size / len(values)))
			start := cpuTime()
			i := 0
			for b.Loop() {
				var h []kgo.RecordHeader
				if withHeaders {
					h = headers[i]
				}
				if _, err := envelope.FromRecord(h, values[i]); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(values) {
					i = 0
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
