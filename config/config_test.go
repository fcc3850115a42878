package config

import (
	"flag"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &Config{}
	_, envErr := c.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := envErr(); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func TestPrecedenceFlagOverEnvOverDefault(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil || c.Listen != "127.0.0.1:8080" || c.SessionTTL != 12*time.Hour {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = parse(t, map[string]string{"CKALAB_LISTEN": ":9000", "CKALAB_POOL_SIZE": "3"})
	if err != nil || c.Listen != ":9000" || c.PoolSize != 3 {
		t.Fatalf("env: %+v %v", c, err)
	}
	c, err = parse(t, map[string]string{"CKALAB_LISTEN": ":9000"}, "--listen", ":9100")
	if err != nil || c.Listen != ":9100" {
		t.Fatalf("flag over env: %+v %v", c, err)
	}
}

func TestBadValuesExplained(t *testing.T) {
	_, err := parse(t, map[string]string{"CKALAB_SESSION_TTL": "forever"})
	if err == nil || !strings.Contains(err.Error(), "CKALAB_SESSION_TTL") {
		t.Fatalf("bad env duration: %v", err)
	}
	_, err = parse(t, map[string]string{"CKALAB_SESSION_TTL": "1h"}, "--log-format", "xml", "--pool-size", "-1")
	if err == nil || !strings.Contains(err.Error(), "log-format") || !strings.Contains(err.Error(), "pool-size") {
		t.Fatalf("want both problems reported: %v", err)
	}
}

func TestEveryOptionHasEnvAndHelp(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	opts, _ := (&Config{}).Register(fs)
	seen := map[string]bool{}
	for _, o := range opts {
		if o.Help == "" || !strings.HasPrefix(o.Env, "CKALAB_") || seen[o.Env] {
			t.Errorf("option %+v", o)
		}
		seen[o.Env] = true
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := parse(t, nil)
	if err != nil || c.TrustedProxyList() != nil {
		t.Fatalf("default must trust no proxy: %q %v", c.TrustedProxyList(), err)
	}
	c, err = parse(t, map[string]string{"CKALAB_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1,,::1"})
	if err != nil || strings.Join(c.TrustedProxyList(), "|") != "10.0.0.0/8|127.0.0.1|::1" {
		t.Fatalf("env list: %q %v", c.TrustedProxyList(), err)
	}
	c, err = parse(t, nil, "--trusted-proxies", "192.168.1.0/24")
	if err != nil || strings.Join(c.TrustedProxyList(), "|") != "192.168.1.0/24" {
		t.Fatalf("flag: %q %v", c.TrustedProxyList(), err)
	}
	_, err = parse(t, nil, "--trusted-proxies", "127.0.0.1,proxy.example,10.0.0.0/33")
	if err == nil || !strings.Contains(err.Error(), `"proxy.example"`) || !strings.Contains(err.Error(), `"10.0.0.0/33"`) {
		t.Fatalf("want both bad entries reported: %v", err)
	}
}

func TestDefaultsAreServeDefaults(t *testing.T) {
	t.Setenv("CKALAB_NODE_CPUS", "")
	os.Unsetenv("CKALAB_NODE_CPUS")
	c, err := Defaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.NodeMemory != "2g" || c.NodeCPUs != "1" || c.NodePids != 4096 || c.MaxEnvTime != 4*time.Hour {
		t.Fatalf("defaults: memory %q cpus %q pids %d max time %s", c.NodeMemory, c.NodeCPUs, c.NodePids, c.MaxEnvTime)
	}
}
