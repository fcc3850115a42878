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
