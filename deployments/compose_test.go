package deployments_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/hookline/hookline/internal/endpoints"
)

// entrypoint is the binary's path in the image, from the Dockerfile.
func entrypoint(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0", "USER 65532:65532", "FROM gcr.io/distroless/static-debian12:nonroot", "./cmd/hookline"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]$`).FindStringSubmatch(df)
	if m == nil {
		t.Fatal(`Dockerfile has no ENTRYPOINT ["<binary>"]`)
	}
	return m[1]
}

func loadCompose(t *testing.T, file string) *types.Project {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	// No variable set: the file's placeholders must make a working demo.
	details := types.ConfigDetails{WorkingDir: filepath.Dir(abs), ConfigFiles: []types.ConfigFile{{Filename: abs}}, Environment: types.Mapping{}}
	p, err := loader.LoadWithContext(context.Background(), details, func(o *loader.Options) {
		o.SetProjectName("hookline", true)
		o.Profiles = []string{"*"}
	})
	if err != nil {
		t.Fatalf("compose-go loads %s: %v", file, err)
	}
	return p
}

func envOf(s types.ServiceConfig) map[string]string {
	out := map[string]string{}
	for k, v := range s.Environment {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

func TestComposeFile(t *testing.T) {
	p := loadCompose(t, "../docker-compose.yml")
	bin := entrypoint(t)
	for _, want := range []string{"kafka", "redis", "topics", "api", "dispatcher", "retrier", "receiver", "demo-event", "doctor"} {
		if _, err := p.GetService(want); err != nil {
			t.Errorf("no service %s: %v", want, err)
		}
	}
	for _, s := range p.Services {
		t.Run(s.Name, func(t *testing.T) {
			if s.Image != "hookline:local" {
				checkBackingService(t, s)
				return
			}
			if s.Build == nil || s.Build.Context != p.WorkingDir {
				t.Errorf("build: %+v, want the repository root (the Dockerfile)", s.Build)
			}
			if err := checkHooklineService(t, p, s, bin); err != nil {
				t.Error(err)
			}
		})
	}
	if d, _ := p.GetService("dispatcher"); d.Deploy == nil || d.Deploy.Replicas == nil || *d.Deploy.Replicas != 2 {
		t.Errorf("dispatcher replicas: %+v, want 2", d.Deploy)
	}
	checkDemoEndpoint(t, p)
	var svcs []service
	for _, s := range p.Services {
		if s.Image != "hookline:local" {
			continue
		}
		inv, err := parseInvocation(t, s.Command)
		if err != nil {
			continue // reported above
		}
		svcs = append(svcs, service{s.Name, inv, envOf(s)})
	}
	checkTopicNames(t, "topics", svcs)
}

func checkBackingService(t *testing.T, s types.ServiceConfig) {
	switch {
	case strings.HasPrefix(s.Image, "apache/kafka:"):
		env := envOf(s)
		if env["KAFKA_PROCESS_ROLES"] != "broker,controller" || !strings.Contains(env["KAFKA_ADVERTISED_LISTENERS"], "PLAINTEXT://kafka:9092") {
			t.Errorf("kafka: want a KRaft broker+controller advertising kafka:9092, got %v", env)
		}
	case strings.HasPrefix(s.Image, "redis:"):
		if !strings.Contains(strings.Join(s.Command, " "), "--appendonly yes") || len(s.Volumes) == 0 {
			t.Errorf("redis: want --appendonly yes on a volume, got %v %v", s.Command, s.Volumes)
		}
	default:
		t.Errorf("unexpected image %q", s.Image)
	}
	if s.HealthCheck == nil || len(s.HealthCheck.Test) == 0 {
		t.Errorf("%s has no healthcheck", s.Name)
	}
}

func checkHooklineService(t *testing.T, p *types.Project, s types.ServiceConfig, bin string) error {
	inv, err := parseInvocation(t, s.Command)
	if err != nil {
		return err
	}
	env := envOf(s)
	if err := inv.checkEnv(env); err != nil {
		return err
	}
	listens, err := inv.listeners(env)
	if err != nil {
		return err
	}
	for _, port := range s.Ports {
		if _, ok := listens[fmt.Sprint(port.Target)]; !ok {
			return fmt.Errorf("publishes port %d, but serves %v", port.Target, listens)
		}
	}
	if hc := s.HealthCheck; hc != nil {
		test := []string(hc.Test)
		if len(test) < 3 || test[0] != "CMD" || test[1] != bin {
			return fmt.Errorf("healthcheck %v: want [CMD %s probe --url URL] (the image has no shell)", test, bin)
		}
		probe, err := parseInvocation(t, test[2:])
		if err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
		if err := checkProbe(probe.given["url"], listens); err != nil {
			return fmt.Errorf("healthcheck: %w", err)
		}
	} else if s.Restart != "no" {
		return fmt.Errorf("a long-running service needs a healthcheck")
	}
	for name, dep := range s.DependsOn {
		target, err := p.GetService(name)
		if err != nil {
			return fmt.Errorf("depends on %s: %w", name, err)
		}
		switch dep.Condition {
		case types.ServiceConditionHealthy:
			if target.HealthCheck == nil {
				return fmt.Errorf("waits for %s to be healthy, which has no healthcheck", name)
			}
		case types.ServiceConditionCompletedSuccessfully:
			if target.Restart != "no" {
				return fmt.Errorf("waits for %s to complete, but it restarts (%q)", name, target.Restart)
			}
		default:
			return fmt.Errorf("depends on %s with condition %q, want service_healthy or service_completed_successfully", name, dep.Condition)
		}
	}
	return checkBackends(p, s, inv, env)
}

// checkBackends checks the brokers and Redis a service is given are
// services of the file it waits for.
func checkBackends(p *types.Project, s types.ServiceConfig, inv *invocation, env map[string]string) error {
	if brokers, ok := inv.setting("brokers", env); ok {
		for _, b := range strings.Split(brokers, ",") {
			host, _, _ := strings.Cut(b, ":")
			if dep, ok := s.DependsOn[host]; !ok || dep.Condition != types.ServiceConditionHealthy {
				return fmt.Errorf("brokers %s: not a service this one waits for (healthy)", b)
			}
		}
	} else if _, has := inv.flags["brokers"]; has {
		return fmt.Errorf("no --brokers / HOOKLINE_BROKERS: the default 127.0.0.1:9092 is not Kafka in a container")
	}
	if u, ok := inv.setting("redis-url", env); ok {
		parsed, err := url.Parse(u)
		if err != nil {
			return err
		}
		if _, err := p.GetService(parsed.Hostname()); err != nil {
			return fmt.Errorf("redis-url %s: %w", u, err)
		}
	}
	return nil
}

// checkDemoEndpoint follows the demo endpoint from the file the API loads
// to the receiver: the URL names the receiver's service and port, and
// both hold the same secret.
func checkDemoEndpoint(t *testing.T, p *types.Project) {
	api, _ := p.GetService("api")
	inv, err := parseInvocation(t, api.Command)
	if err != nil {
		t.Fatal(err)
	}
	file, _ := inv.setting("endpoints", envOf(api))
	var source string
	for _, v := range api.Volumes {
		if v.Target == file {
			source = v.Source
		}
	}
	if source == "" {
		t.Fatalf("api --endpoints %s is not a mounted file (volumes %v)", file, api.Volumes)
	}
	set, err := endpoints.LoadFile(source)
	if err != nil {
		t.Fatal(err)
	}
	recv, _ := p.GetService("receiver")
	env := envOf(recv)
	for _, e := range set.All() {
		u, _ := url.Parse(e.URL)
		if u.Hostname() != "receiver" || u.Port() != strings.TrimPrefix(env["HOOKLINE_LISTEN"], "0.0.0.0:") {
			t.Errorf("endpoint %s posts to %s, not to the receiver service (listening on %s)", e.ID, e.URL, env["HOOKLINE_LISTEN"])
		}
		if e.Secrets[0] != env["HOOKLINE_SECRET"] {
			t.Errorf("endpoint %s signs with another secret than the receiver verifies", e.ID)
		}
	}
	if len(set.All()) == 0 {
		t.Error("the demo endpoints file is empty")
	}
}
