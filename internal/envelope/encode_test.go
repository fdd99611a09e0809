package envelope

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	e := Envelope{
		Type: "task.updated", EventID: "task:abc123:2026-04-30T14:22:01.234Z", TenantID: "t-abcdef0123",
		CreatedUTC: "2026-04-30T14:22:01.456Z", Origin: "api",
		Data: map[string]any{
			"task": map[string]any{
				"id": "abc123", "title": "quote \" back \\ nl \n tab \t ctl \x01 uni é 日本 \u2028",
				"n": 1.5, "big": 1e21, "small": 1e-7, "i": 42, "neg": int64(-7), "u": uint(3), "f32": float32(0.1),
				"num": json.Number("80.10"), "yes": true, "none": nil,
				"list": []any{"a", 1.0, map[string]any{"z": 1, "a": 2}}, "strs": []string{"x", "y"},
				"typed": struct{ A int }{A: 1},
			},
			"before": map[string]any{"id": "abc123"},
		},
	}
	got, err := AppendJSON(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(&e)
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("invalid JSON %s: %v", got, err)
	}
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("decoded differently:\n got %s\nwant %s", got, want)
	}
	// Without HTML characters (which encoding/json escapes) the bytes match.
	e.Data["task"].(map[string]any)["title"] = "plain"
	delete(e.Data["task"].(map[string]any), "num") // json.Number keeps its text; encoding/json does too
	got, _ = AppendJSON(nil, &e)
	want, _ = json.Marshal(&e)
	if !bytes.Equal(got, want) {
		t.Fatalf("bytes differ:\n got %s\nwant %s", got, want)
	}
	if bytes.Contains(got, []byte("\u2028")) {
		t.Fatal("U+2028 left raw")
	}
}

func TestAppendJSONRejectsInvalid(t *testing.T) {
	for name, v := range map[string]any{
		"bad number": json.Number("12abc"),
		"nan":        func() float64 { z := 0.0; return z / z }(),
	} {
		e := Envelope{Type: "x.y", Data: map[string]any{"v": v}}
		if _, err := AppendJSON(nil, &e); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
	deep := map[string]any{}
	cur := deep
	for i := 0; i < 100; i++ {
		next := map[string]any{}
		cur["x"] = next
		cur = next
	}
	if _, err := AppendJSON(nil, &Envelope{Data: deep}); err == nil {
		t.Error("100-deep data encoded")
	}
}
