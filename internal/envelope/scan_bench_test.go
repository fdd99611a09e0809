package envelope

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// benchRecord is a producer-written task.updated of about 500 bytes and its
// headers.
func benchRecord(tb testing.TB) ([]byte, []kgo.RecordHeader) {
	tb.Helper()
	task := func(status, seen string) map[string]any {
		return map[string]any{
			"id": "tsk_8QK3M2N4P5", "title": "Route ducts around B-12",
			"status": status,
			"dueUtc": "2026-05-12T17:00:00.000Z", "seenUtc": seen,
		}
	}
	e := Envelope{
		Type: "task.updated", EventID: "task:tsk_8QK3M2N4P5:2026-04-30T14:22:01.234Z",
		TenantID: "t-4f1c2a9e7b", CreatedUTC: "2026-04-30T14:22:01.456Z", Origin: "revit-addin",
		Data: map[string]any{"task": task("Done", "2026-04-30T14:22:00.000Z"), BeforeKey: task("In progress", "2026-04-29T09:10:00.000Z")},
	}
	value, err := AppendJSON(nil, &e)
	if err != nil {
		tb.Fatal(err)
	}
	return value, MetaOf(&e).Headers()
}

// headersOnlyOld is how FromRecord read producer records before it checked
// them against the body, kept to compare costs.
func headersOnlyOld(headers []kgo.RecordHeader) Meta {
	var m Meta
	for _, h := range headers {
		switch h.Key {
		case HeaderType:
			m.Type = view(h.Value)
		case HeaderTenant:
			m.TenantID = view(h.Value)
		case HeaderOrigin:
			m.Origin = view(h.Value)
		case HeaderChanged:
			m.changedRaw, m.hasChanged = h.Value, true
		}
	}
	return m
}

// cpuTime is the process's CPU time so far (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds cpu-ns/op, the CPU time per operation since start: on a
// shared machine wall time per operation counts the waits for a core, and
// CPU time does not.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
}

func BenchmarkFromRecord(b *testing.B) {
	value, headers := benchRecord(b)
	if n := len(value); n < 450 || n > 600 {
		b.Fatalf("envelope of %d bytes, want about 500", n)
	}
	run := func(name string, headers []kgo.RecordHeader) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(value)))
			start := cpuTime()
			for b.Loop() {
				m, err := FromRecord(headers, value)
				if err != nil || m.TenantID == "" {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
	run("headers", headers)
	run("headerless", nil)
	b.Run("headers-only-old", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(value)))
		for b.Loop() {
			if m := headersOnlyOld(headers); m.TenantID == "" {
				b.Fatal("no tenant")
			}
		}
	})
	// What an endpoint with ignoreFields costs on top, without hl-changed.
	b.Run("headerless-changed-fields", func(b *testing.B) {
		b.ReportAllocs()
		start := cpuTime()
		for b.Loop() {
			m, _ := FromRecord(nil, value)
			if strings.Join(m.ChangedFields(), ",") != "seenUtc,status" {
				b.Fatal(m.ChangedFields())
			}
		}
		reportCPU(b, start)
	})
}
