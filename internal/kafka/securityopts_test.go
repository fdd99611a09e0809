package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, v string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(v), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSecretFilesAreReadAtEveryAuthentication: a rotated password or a
// renewed token is used by the next authentication, without a restart.
func TestSecretFilesAreReadAtEveryAuthentication(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		sec  Security
		file string
	}{
		{Security{SASLMechanism: MechanismPlain, SASLUser: "u", SASLPasswordFile: filepath.Join(dir, "pw")}, filepath.Join(dir, "pw")},
		{Security{SASLMechanism: MechanismOAuthBearer, SASLTokenFile: filepath.Join(dir, "token")}, filepath.Join(dir, "token")},
	} {
		writeFile(t, tc.file, "first-secret\n")
		m, err := tc.sec.mechanism()
		if err != nil {
			t.Fatal(err)
		}
		_, msg, err := m.Authenticate(context.Background(), "127.0.0.1:9092")
		if err != nil || !strings.Contains(string(msg), "first-secret") || strings.Contains(string(msg), "\n") {
			t.Fatalf("%s: first authentication %q, %v", tc.sec.SASLMechanism, msg, err)
		}
		writeFile(t, tc.file, "second-secret")
		if _, msg, err = m.Authenticate(context.Background(), "127.0.0.1:9092"); err != nil || !strings.Contains(string(msg), "second-secret") {
			t.Fatalf("%s: after the file changed: %q, %v", tc.sec.SASLMechanism, msg, err)
		}
		writeFile(t, tc.file, "")
		if _, _, err = m.Authenticate(context.Background(), "127.0.0.1:9092"); !errors.Is(err, ErrSecurity) {
			t.Fatalf("%s: emptied file: %v, want ErrSecurity", tc.sec.SASLMechanism, err)
		}
	}
}

// awsEnv gives the AWS SDK's default chain only what the test sets: no
// shared files, no instance metadata.
func awsEnv(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestAWSMSKIAMSignsWithTheDefaultChain: the credentials the SDK's chain
// finds (here the environment) sign the authentication, for the region
// of the broker's host, as hookline.
func TestAWSMSKIAMSignsWithTheDefaultChain(t *testing.T) {
	awsEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDHOOKLINETEST")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "c2VjcmV0LWtleS1vZi10aGUtdGVzdA")
	t.Setenv("AWS_SESSION_TOKEN", "session-token-of-the-test")
	m, err := Security{TLS: true, SASLMechanism: MechanismAWSMSKIAM}.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	const host = "b-1.orders.ab12cd.c3.kafka.eu-west-1.amazonaws.com"
	_, msg, err := m.Authenticate(context.Background(), host+":9098")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("%q: %v", msg, err)
	}
	if !strings.HasPrefix(got["x-amz-credential"], "AKIDHOOKLINETEST/") || !strings.Contains(got["x-amz-credential"], "/eu-west-1/kafka-cluster/") ||
		got["x-amz-security-token"] != "session-token-of-the-test" || got["user-agent"] != "hookline" || got["host"] != host ||
		got["action"] != "kafka-cluster:Connect" || got["x-amz-signature"] == "" {
		t.Fatalf("signed payload %v", got)
	}
	if strings.Contains(string(msg), "c2VjcmV0LWtleS1vZi10aGUtdGVzdA") {
		t.Fatal("the secret key itself was sent")
	}
}

// TestAWSMSKIAMWithoutCredentials: a chain that finds nothing fails the
// authentication with errAWSCredentials, which Check words as a refusal.
func TestAWSMSKIAMWithoutCredentials(t *testing.T) {
	awsEnv(t)
	m, err := Security{TLS: true, SASLMechanism: MechanismAWSMSKIAM}.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = m.Authenticate(context.Background(), "b-1.x.kafka.us-east-1.amazonaws.com:9098")
	if !errors.Is(err, errAWSCredentials) {
		t.Fatalf("got %v, want errAWSCredentials", err)
	}
	ce := Security{TLS: true, SASLMechanism: MechanismAWSMSKIAM}.explain("b-1:9098", err)
	if !errors.Is(ce, ErrAuth) || !strings.Contains(ce.Error(), "kafka-cluster:Connect") {
		t.Fatalf("explained as %v", ce)
	}
}
