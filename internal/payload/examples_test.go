package payload_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/payload"
)

func example(t *testing.T, name string, value []byte) []byte {
	t.Helper()
	src, err := payload.Examples.ReadFile("examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	sh, err := payload.New(&payload.Spec{Shape: payload.ShapeTemplate, Template: string(src)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := sh.Append(nil, value)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", name, out)
	return out
}

// strict decodes body into v refusing fields v does not declare: the
// target's JSON shape, as its documentation gives it.
func strict(t *testing.T, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one value", body)
	}
}

// slackMessage is an incoming webhook's body: text is required.
type slackMessage struct {
	Text string `json:"text"`
}

func TestSlackExample(t *testing.T) {
	var m slackMessage
	strict(t, example(t, "slack.tmpl", events(t)[0]), &m)
	if want := `task.created: Ducts "level 2" (task t1, project p9)`; m.Text != want {
		t.Fatalf("text %q, want %q", m.Text, want)
	}
}

// pagerDutyEvent is an Events v2 enqueue body.
type pagerDutyEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key,omitempty"`
	Payload     struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp,omitempty"`
		Component     string         `json:"component,omitempty"`
		Group         string         `json:"group,omitempty"`
		Class         string         `json:"class,omitempty"`
		CustomDetails map[string]any `json:"custom_details,omitempty"`
	} `json:"payload"`
}

func TestPagerDutyExample(t *testing.T) {
	var e pagerDutyEvent
	strict(t, example(t, "pagerduty.tmpl", events(t)[2]), &e)
	p := e.Payload
	switch {
	case !regexp.MustCompile(`^[A-Za-z0-9]{32}$`).MatchString(e.RoutingKey):
		t.Errorf("routing_key %q: PagerDuty wants a 32-character integration key", e.RoutingKey)
	case e.EventAction != "trigger" && e.EventAction != "acknowledge" && e.EventAction != "resolve":
		t.Errorf("event_action %q", e.EventAction)
	case len(e.DedupKey) > 255 || e.DedupKey != "project:p9:80":
		t.Errorf("dedup_key %q", e.DedupKey)
	case p.Summary == "" || len(p.Summary) > 1024 || p.Summary != "Project Tower B used 81.5% of its 120 allocated hours":
		t.Errorf("summary %q", p.Summary)
	case p.Source != "hookline/t-acme":
		t.Errorf("source %q", p.Source)
	case p.Severity != "warning":
		t.Errorf("severity %q: want one of critical, error, warning, info (warning below 100%%)", p.Severity)
	case p.Class != "project.budget_threshold" || p.CustomDetails["usedHours"] != 97.8:
		t.Errorf("class %q, custom_details %v", p.Class, p.CustomDetails)
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
		t.Errorf("timestamp: %v", err)
	}
}
