package deployments_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/topics"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// kinds are the types manifests may be, by kind, with their apiVersion.
var kinds = map[string]struct {
	apiVersion string
	new        func() any
}{
	"Deployment":          {"apps/v1", func() any { return &appsv1.Deployment{} }},
	"Job":                 {"batch/v1", func() any { return &batchv1.Job{} }},
	"Service":             {"v1", func() any { return &corev1.Service{} }},
	"ConfigMap":           {"v1", func() any { return &corev1.ConfigMap{} }},
	"Secret":              {"v1", func() any { return &corev1.Secret{} }},
	"PodDisruptionBudget": {"policy/v1", func() any { return &policyv1.PodDisruptionBudget{} }},
	"NetworkPolicy":       {"networking.k8s.io/v1", func() any { return &networkingv1.NetworkPolicy{} }},
	"ScaledObject":        {"keda.sh/v1alpha1", func() any { return &scaledObject{} }},
	"Kustomization":       {"kustomize.config.k8s.io/v1beta1", func() any { return &kustomization{} }},
}

var docSep = regexp.MustCompile(`(?m)^---\s*$`)

// decodeFile decodes every document of a manifest strictly into its
// Kubernetes type: an unknown or misspelled field fails.
func decodeFile(t *testing.T, path string) []any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for i, doc := range docSep.Split(string(raw), -1) {
		if strings.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAllString(doc, "")) == "" {
			continue
		}
		js, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			t.Fatalf("%s document %d: %v", path, i+1, err)
		}
		var tm metav1.TypeMeta
		if err := json.Unmarshal(js, &tm); err != nil {
			t.Fatalf("%s document %d: %v", path, i+1, err)
		}
		k, ok := kinds[tm.Kind]
		if !ok || k.apiVersion != tm.APIVersion {
			t.Fatalf("%s document %d: unexpected %s %s", path, i+1, tm.APIVersion, tm.Kind)
		}
		obj := k.new()
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", path, i+1, tm.Kind, err)
		}
		out = append(out, obj)
	}
	return out
}

// base is the decoded base, by kind and name.
type base struct {
	deployments map[string]*appsv1.Deployment
	jobs        map[string]*batchv1.Job
	configMaps  map[string]map[string]string
	secrets     map[string]map[string]string
	objs        []any
}

func loadBase(t *testing.T) *base {
	t.Helper()
	dir := "k8s/base"
	ks := decodeFile(t, filepath.Join(dir, "kustomization.yaml"))[0].(*kustomization)
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	var listed []string
	for _, f := range files {
		if filepath.Base(f) != "kustomization.yaml" {
			listed = append(listed, filepath.Base(f))
		}
	}
	if r := slices.Sorted(slices.Values(ks.Resources)); !slices.Equal(r, listed) {
		t.Errorf("kustomization resources %v, files %v", r, listed)
	}
	b := &base{deployments: map[string]*appsv1.Deployment{}, jobs: map[string]*batchv1.Job{},
		configMaps: map[string]map[string]string{}, secrets: map[string]map[string]string{}}
	for _, f := range ks.Resources {
		b.objs = append(b.objs, decodeFile(t, filepath.Join(dir, f))...)
	}
	for _, o := range b.objs {
		switch o := o.(type) {
		case *appsv1.Deployment:
			for _, l := range ks.Labels { // what kustomize adds to the pods
				if l.IncludeTemplates {
					for k, v := range l.Pairs {
						o.Spec.Template.Labels[k] = v
					}
				}
			}
			b.deployments[o.Name] = o
		case *batchv1.Job:
			b.jobs[o.Name] = o
		case *corev1.ConfigMap:
			b.configMaps[o.Name] = o.Data
		case *corev1.Secret:
			b.secrets[o.Name] = o.StringData
		}
	}
	return b
}

// containerEnv resolves a container's environment as the pod sees it.
func (b *base) containerEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		var src map[string]string
		var ok bool
		switch {
		case ef.ConfigMapRef != nil:
			src, ok = b.configMaps[ef.ConfigMapRef.Name]
		case ef.SecretRef != nil:
			src, ok = b.secrets[ef.SecretRef.Name]
		}
		if !ok {
			t.Errorf("container %s: envFrom names a ConfigMap or Secret the base lacks: %+v", c.Name, ef)
		}
		for k, v := range src {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		v := e.Value
		if vf := e.ValueFrom; vf != nil {
			var src map[string]string
			var key string
			switch {
			case vf.FieldRef != nil:
				v = "pod-name"
			case vf.ConfigMapKeyRef != nil:
				src, key = b.configMaps[vf.ConfigMapKeyRef.Name], vf.ConfigMapKeyRef.Key
			case vf.SecretKeyRef != nil:
				src, key = b.secrets[vf.SecretKeyRef.Name], vf.SecretKeyRef.Key
			}
			if key != "" {
				var ok bool
				if v, ok = src[key]; !ok {
					t.Errorf("container %s: %s refers to a key the base lacks: %+v", c.Name, e.Name, vf)
				}
			}
		}
		env[e.Name] = v
	}
	return env
}

func TestKubernetesBase(t *testing.T) {
	b := loadBase(t)
	for _, name := range []string{"hookline-api", "hookline-dispatcher", "hookline-retrier"} {
		d, ok := b.deployments[name]
		if !ok {
			t.Errorf("no Deployment %s", name)
			continue
		}
		t.Run(name, func(t *testing.T) { b.checkDeployment(t, d) })
	}
	var svcs []service
	for _, j := range b.jobs {
		c := j.Spec.Template.Spec.Containers[0]
		inv, err := parseInvocation(t, c.Args)
		if err == nil {
			err = inv.checkEnv(b.containerEnv(t, c))
		}
		if err != nil {
			t.Errorf("job %s: %v", j.Name, err)
			continue
		}
		svcs = append(svcs, service{j.Name, inv, b.containerEnv(t, c)})
	}
	for _, d := range b.deployments {
		c := d.Spec.Template.Spec.Containers[0]
		if inv, err := parseInvocation(t, c.Args); err == nil { // an error is the Deployment check's
			svcs = append(svcs, service{d.Name, inv, b.containerEnv(t, c)})
		}
	}
	checkTopicNames(t, "hookline-topics", svcs)
	for _, o := range b.objs {
		switch o := o.(type) {
		case *policyv1.PodDisruptionBudget:
			if b.selected(t, o.Spec.Selector) == 0 {
				t.Errorf("PodDisruptionBudget %s selects no Deployment's pods", o.Name)
			}
		case *networkingv1.NetworkPolicy:
			if n := b.selected(t, &o.Spec.PodSelector); n != len(b.deployments) {
				t.Errorf("NetworkPolicy %s selects %d of %d Deployments' pods", o.Name, n, len(b.deployments))
			}
		case *corev1.Service:
			b.checkService(t, o)
		case *scaledObject:
			b.checkScaledObject(t, o)
		}
	}
}

// selected counts the Deployments whose pods sel matches.
func (b *base) selected(t *testing.T, sel *metav1.LabelSelector) int {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range b.deployments {
		if s.Matches(labels.Set(d.Spec.Template.Labels)) {
			n++
		}
	}
	return n
}

func (b *base) checkDeployment(t *testing.T, d *appsv1.Deployment) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Errorf("selector %v does not match the pod labels %v (%v)", d.Spec.Selector, d.Spec.Template.Labels, err)
	}
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	c := d.Spec.Template.Spec.Containers[0]
	inv, err := parseInvocation(t, c.Args)
	if err != nil {
		t.Fatal(err)
	}
	env := b.containerEnv(t, c)
	if err := inv.checkEnv(env); err != nil {
		t.Error(err)
	}
	if id := findEnv(c, "HOOKLINE_INSTANCE_ID"); id == nil || id.ValueFrom == nil || id.ValueFrom.FieldRef == nil || id.ValueFrom.FieldRef.FieldPath != "metadata.name" {
		t.Errorf("HOOKLINE_INSTANCE_ID: %+v, want the pod name from the downward API", id)
	}
	listens, err := inv.listeners(env)
	if err != nil {
		t.Fatal(err)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
		if _, ok := listens[strconv.Itoa(int(p.ContainerPort))]; !ok {
			t.Errorf("containerPort %s %d: the command serves %v", p.Name, p.ContainerPort, listens)
		}
	}
	for _, pr := range []struct {
		what, path string
		p          *corev1.Probe
	}{{"readiness", "/readyz", c.ReadinessProbe}, {"liveness", "/healthz", c.LivenessProbe}} {
		if pr.p == nil || pr.p.HTTPGet == nil {
			t.Errorf("no %s httpGet probe", pr.what)
			continue
		}
		port, ok := ports[pr.p.HTTPGet.Port.String()]
		if !ok {
			t.Errorf("%s probe port %s is no containerPort", pr.what, pr.p.HTTPGet.Port.String())
			continue
		}
		if pr.p.HTTPGet.Path != pr.path {
			t.Errorf("%s probe path %s, want %s", pr.what, pr.p.HTTPGet.Path, pr.path)
		}
		if err := checkProbe(fmt.Sprintf("http://127.0.0.1:%d%s", port, pr.p.HTTPGet.Path), listens); err != nil {
			t.Errorf("%s probe: %v", pr.what, err)
		}
	}
	checkResources(t, inv, c, env)
}

func findEnv(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// checkResources wants requests and a memory limit; the dispatcher's limit
// must clear the Go soft memory limit it sets itself (3 x the buffer +
// 64 MiB, at least 256 MiB) with a quarter to spare.
func checkResources(t *testing.T, inv *invocation, c corev1.Container, env map[string]string) {
	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() || lim.Memory().IsZero() {
		t.Fatalf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	if inv.words[0] != "dispatcher" {
		return
	}
	buf := int64(64 << 20)
	if v, ok := inv.setting("max-buffered-bytes", env); ok {
		var err error
		if buf, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatal(err)
		}
	}
	soft := max(3*buf+64<<20, 256<<20)
	if got := lim.Memory().Value(); got < soft+soft/4 {
		t.Errorf("dispatcher memory limit %s is under 1.25 x its soft limit of %d MiB", lim.Memory(), soft>>20)
	}
}

func (b *base) checkService(t *testing.T, s *corev1.Service) {
	s.Spec.Selector["app.kubernetes.io/part-of"] = "hookline"
	if n := b.selected(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}); n != 1 {
		t.Errorf("Service %s selects %d Deployments, want 1", s.Name, n)
	}
	for _, d := range b.deployments {
		if !labels.SelectorFromSet(s.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
			continue
		}
		for _, p := range s.Spec.Ports {
			found := false
			for _, cp := range d.Spec.Template.Spec.Containers[0].Ports {
				found = found || cp.Name == p.TargetPort.String()
			}
			if !found {
				t.Errorf("Service %s targetPort %s is no port of %s", s.Name, p.TargetPort.String(), d.Name)
			}
		}
	}
}

func (b *base) checkScaledObject(t *testing.T, so *scaledObject) {
	d, ok := b.deployments[so.Spec.ScaleTargetRef.Name]
	if !ok {
		t.Fatalf("ScaledObject %s targets no Deployment (%s)", so.Name, so.Spec.ScaleTargetRef.Name)
	}
	c := d.Spec.Template.Spec.Containers[0]
	if so.Spec.ScaleTargetRef.EnvSourceContainerName != c.Name {
		t.Errorf("ScaledObject %s reads env of container %q, the pod's is %q", so.Name, so.Spec.ScaleTargetRef.EnvSourceContainerName, c.Name)
	}
	inv, err := parseInvocation(t, c.Args)
	if err != nil {
		t.Fatal(err)
	}
	env := b.containerEnv(t, c)
	defaultGroup := map[string]string{"dispatcher": "hookline-dispatcher", "retrier": "hookline-retrier"}[inv.words[0]]
	group, ok := inv.setting("group", env)
	if !ok {
		group = defaultGroup
	}
	if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "kafka" {
		t.Fatalf("ScaledObject %s: want one kafka trigger, got %+v", so.Name, so.Spec.Triggers)
	}
	md := so.Spec.Triggers[0].Metadata
	for k := range md {
		if !kafkaScalerKeys[k] {
			t.Errorf("ScaledObject %s: the kafka scaler has no %q", so.Name, k)
		}
	}
	if md["consumerGroup"] != group {
		t.Errorf("ScaledObject %s: consumerGroup %q, the %s's group is %q", so.Name, md["consumerGroup"], inv.words[0], group)
	}
	if v := md["bootstrapServersFromEnv"]; env[v] == "" {
		t.Errorf("ScaledObject %s: bootstrapServersFromEnv %q is not in the container's environment", so.Name, v)
	}
	// Past one member per partition the extra members idle.
	job := b.jobs["hookline-topics"]
	layout, err := parseInvocation(t, job.Spec.Template.Spec.Containers[0].Args)
	if err != nil {
		t.Fatal(err)
	}
	flag := map[string]string{"dispatcher": "partitions", "retrier": "retry-partitions"}[inv.words[0]]
	parts, err := strconv.Atoi(layout.given[flag])
	if err != nil {
		t.Fatalf("topics job: --%s: %v", flag, err)
	}
	if so.Spec.MaxReplicaCount == nil || int(*so.Spec.MaxReplicaCount) != parts {
		t.Errorf("ScaledObject %s: maxReplicaCount %v, want --%s %d of the topics job", so.Name, so.Spec.MaxReplicaCount, flag, parts)
	}
	if inv.words[0] == "dispatcher" {
		topic, ok := inv.setting("events-topic", env)
		if !ok {
			topic = topics.DefaultEvents
		}
		if md["topic"] != topic {
			t.Errorf("ScaledObject %s: topic %q, the dispatcher reads %q", so.Name, md["topic"], topic)
		}
	}
}

func TestKubernetesOverlay(t *testing.T) {
	b := loadBase(t)
	dir := "k8s/overlays/example"
	ks := decodeFile(t, filepath.Join(dir, "kustomization.yaml"))[0].(*kustomization)
	if !slices.Equal(ks.Resources, []string{"../../base"}) {
		t.Errorf("overlay resources %v, want the base", ks.Resources)
	}
	for _, p := range ks.Patches {
		for _, o := range decodeFile(t, filepath.Join(dir, p.Path)) {
			switch o := o.(type) {
			case *appsv1.Deployment:
				d, ok := b.deployments[o.Name]
				if !ok {
					t.Fatalf("patch %s: no Deployment %s in the base", p.Path, o.Name)
				}
				for _, c := range o.Spec.Template.Spec.Containers {
					if c.Name != d.Spec.Template.Spec.Containers[0].Name {
						t.Errorf("patch %s: container %s is not the base's", p.Path, c.Name)
					}
					inv, err := parseInvocation(t, d.Spec.Template.Spec.Containers[0].Args)
					if err != nil {
						t.Fatal(err)
					}
					env := b.containerEnv(t, d.Spec.Template.Spec.Containers[0])
					for _, e := range c.Env {
						env[e.Name] = e.Value
					}
					if err := inv.checkEnv(env); err != nil {
						t.Errorf("patch %s: %v", p.Path, err)
					}
					checkResources(t, inv, c, env)
				}
			case *corev1.ConfigMap:
				if _, ok := b.configMaps[o.Name]; !ok {
					t.Fatalf("patch %s: no ConfigMap %s in the base", p.Path, o.Name)
				}
			default:
				t.Errorf("patch %s: unexpected %T", p.Path, o)
			}
		}
	}
	if len(ks.Images) != 1 || ks.Images[0].Name != "hookline" {
		t.Errorf("overlay images %+v, want the base's image name hookline", ks.Images)
	}
}
