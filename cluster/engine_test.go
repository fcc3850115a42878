package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEngineValidate(t *testing.T) {
	certs := t.TempDir()
	for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
		if err := os.WriteFile(filepath.Join(certs, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		e    Engine
		want string // "" = valid
	}{
		{Engine{}, ""},
		{Engine{Host: "unix:///run/other.sock"}, ""},
		{Engine{Host: "ssh://ckalab@engine"}, ""},
		{Engine{Host: "tcp://engine:2376", CertPath: certs}, ""},
		{Engine{Host: "tcp://engine:2375"}, "needs TLS client certificates"},
		{Engine{Host: "tcp://engine:2376", CertPath: t.TempDir()}, "ca.pem"},
		{Engine{Host: "http://engine"}, "want unix://, tcp:// or ssh://"},
	} {
		err := tc.e.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.e, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: %v, want %q", tc.e, err, tc.want)
		}
	}
	env := Engine{Host: "tcp://engine:2376", CertPath: certs}.environ()
	joined := strings.Join(env, "\n")
	for _, want := range []string{"DOCKER_HOST=tcp://engine:2376", "DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH=" + certs} {
		if !strings.Contains(joined, want) {
			t.Errorf("environment lacks %s", want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0B": 0, "512B": 512, "3.5kB": 3500, "986.5MB": 986_500_000, "1.502GB": 1_502_000_000, "2TB": 2e12, "x": 0} {
		if got := parseSize(in); got != want {
			t.Errorf("parseSize(%q) = %d, want %d", in, got, want)
		}
	}
}
