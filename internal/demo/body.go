package demo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// pingType is the type of the API's test deliveries (api.PingType).
const pingType = "ping"

// event is what a receiver reads of each event in a body.
type event struct {
	Type        string `json:"type"`
	EventID     string `json:"eventId"`
	TenantID    string `json:"tenantId"`
	Application string `json:"application"`
	Data        any    `json:"data"`
}

// readBody reads the events of a delivery body, and whether all of them
// are test pings. An error says how the body differs from the shape its
// rules document.
func readBody(body []byte, legacy bool) ([]event, bool, error) {
	body = bytes.TrimSpace(body)
	if legacy {
		return readLegacy(body)
	}
	return readEnvelopes(body)
}

// readEnvelopes reads one envelope or an array of them.
func readEnvelopes(body []byte) ([]event, bool, error) {
	var batch []event
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &batch); err != nil {
			return nil, false, fmt.Errorf("body is not an array of envelopes: %v", err)
		}
	} else {
		var e event
		if err := json.Unmarshal(body, &e); err != nil {
			return nil, false, fmt.Errorf("body is not an envelope: %v", err)
		}
		batch = []event{e}
	}
	if len(batch) == 0 {
		return nil, false, errors.New("empty batch")
	}
	pings := true
	for i, e := range batch {
		pings = pings && e.Type == pingType
		if _, isObject := e.Data.(map[string]any); e.Type == "" || e.EventID == "" || e.TenantID == "" || !isObject {
			return batch, false, fmt.Errorf("event %d: want type, eventId, tenantId and a data object", i)
		}
	}
	return batch, pings, nil
}

// legacyBody is the {event, occurred_at, data} body, one event per POST.
type legacyBody struct {
	Event      string         `json:"event"`
	OccurredAt string         `json:"occurred_at"`
	Data       map[string]any `json:"data"`
}

// readLegacy reads a legacy body: exactly event, occurred_at (ISO 8601)
// and a data object with its id, as the document's example. The API's
// test ping comes in the same shape, its event being ping.
func readLegacy(body []byte) ([]event, bool, error) {
	if len(body) > 0 && body[0] == '[' {
		return nil, false, errors.New("an array: want one {event, occurred_at, data} object per POST")
	}
	var b legacyBody
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		return nil, false, fmt.Errorf("want {event, occurred_at, data}: %v", err)
	}
	if dec.More() {
		return nil, false, errors.New("data after the body's object")
	}
	switch _, err := time.Parse(time.RFC3339, b.OccurredAt); {
	case b.Event == "":
		return nil, false, errors.New("event is missing")
	case err != nil:
		return nil, false, fmt.Errorf("occurred_at %q is not an ISO 8601 time", b.OccurredAt)
	case b.Data == nil || b.Data["id"] == nil:
		return nil, false, errors.New("data is not an object with an id")
	}
	return []event{{Type: b.Event, Data: b.Data}}, b.Event == pingType, nil
}
