// Package config declares every ckalab server setting once: its flag, its
// CKALAB_* environment variable, its default and its help. The parsed Config
// is passed down explicitly; nothing reads flags or the environment later.
package config

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	clusterimages "github.com/ckalab/ckalab/cluster-images"
)

// Config holds the settings of `ckalab serve` (and the subcommands that
// share its database settings).
type Config struct {
	Listen         string
	MetricsListen  string
	MetricsToken   string
	PublicURL      string
	StateDir       string
	DatabaseURL    string
	LogFormat      string
	LogLevel       string
	SecureCookies  bool
	SessionTTL     time.Duration
	LoginRateLimit int
	ShutdownGrace  time.Duration
	TrustedProxies string

	// Sign-in: passwords and/or one OpenID Connect provider (package sso).
	NoPasswordLogin      bool
	OIDCIssuer           string
	OIDCClientID         string
	OIDCClientSecret     string
	OIDCName             string
	OIDCScopes           string
	OIDCAllowedDomains   string
	OIDCGroupsClaim      string
	OIDCAdminGroups      string
	OIDCInstructorGroups string
	OIDCAllowedGroups    string
	OIDCTrustEmail       bool

	LabsDir string
	// The Docker engine of students' clusters (cluster.Engine).
	DockerHost       string
	DockerCertPath   string
	EngineAPIAddress string
	NodeImage        string
	K8sVersion       string
	ClusterPrefix    string
	PoolSize         int
	PoolTopologies   string
	PoolHot          int
	FreezePool       bool
	SleepAfter       time.Duration
	OrphanGrace      time.Duration
	MaxEnvs          int
	MaxActiveEnvs    int
	MaxEnvsPerUser   int
	EnvGrace         time.Duration
	MaxEnvTime       time.Duration
	NodeMemory       string
	NodeCPUs         string
	NodePids         int
	MinFreeDiskGiB   int
	CreateTimeout    time.Duration

	TerminalIdle    time.Duration
	TerminalPerUser int
	StreamsPerUser  int
}

// Option describes one setting, for help output and the README table.
type Option struct {
	Flag, Env, Default, Help string
}

type binder struct {
	fs   *flag.FlagSet
	opts []Option
	errs []string
}

func (b *binder) add(p any, name, def, help string) {
	env := "CKALAB_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	b.opts = append(b.opts, Option{Flag: name, Env: env, Default: def, Help: help})
	val := def
	if v, ok := os.LookupEnv(env); ok {
		val = v
	}
	usage := fmt.Sprintf("%s (env %s)", help, env)
	switch p := p.(type) {
	case *string:
		b.fs.StringVar(p, name, val, usage)
	case *int:
		n, err := strconv.Atoi(val)
		if err != nil {
			b.errs = append(b.errs, fmt.Sprintf("%s=%q: not an integer", env, val))
		}
		b.fs.IntVar(p, name, n, usage)
	case *bool:
		v, err := strconv.ParseBool(val)
		if err != nil {
			b.errs = append(b.errs, fmt.Sprintf("%s=%q: not a boolean", env, val))
		}
		b.fs.BoolVar(p, name, v, usage)
	case *time.Duration:
		d, err := time.ParseDuration(val)
		if err != nil {
			b.errs = append(b.errs, fmt.Sprintf("%s=%q: not a duration (e.g. 90s, 2h)", env, val))
		}
		b.fs.DurationVar(p, name, d, usage)
	default:
		panic(fmt.Sprintf("config: unsupported type %T", p))
	}
}

func defaultStateDir() string {
	if os.Geteuid() == 0 {
		// PostgreSQL runs as another account then, which cannot enter /root.
		return "/var/lib/ckalab"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "ckalab")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "ckalab")
	}
	return "/var/lib/ckalab"
}

// Register declares every setting on fs, with defaults taken from the
// environment, and returns the options in declaration order. The returned
// function reports environment values that did not parse.
func (c *Config) Register(fs *flag.FlagSet) ([]Option, func() error) {
	b := &binder{fs: fs}
	b.add(&c.Listen, "listen", "127.0.0.1:8080", "address the HTTP server listens on")
	b.add(&c.MetricsListen, "metrics-listen", "", "address of a listener serving only /metrics (then --listen does not serve it); empty: /metrics on --listen, for loopback clients or --metrics-token holders")
	b.add(&c.MetricsToken, "metrics-token", "", "bearer token /metrics requires (Authorization: Bearer …), on either listener; prefer the environment variable: flags show in the process list")
	b.add(&c.PublicURL, "public-url", "", "URL students use to reach ckalab (checked against websocket Origin); default http://<listen>")
	b.add(&c.StateDir, "state-dir", defaultStateDir(), "directory for ckalab's state: embedded database, kubeconfigs, logs (root: /var/lib/ckalab)")
	b.add(&c.DatabaseURL, "database-url", "", "PostgreSQL URL; empty runs a private PostgreSQL under the state directory")
	b.add(&c.LogFormat, "log-format", "text", "log format: text or json")
	b.add(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	b.add(&c.SecureCookies, "secure-cookies", "false", "mark cookies Secure (set when served over TLS)")
	b.add(&c.SessionTTL, "session-ttl", "12h", "how long a sign-in lasts")
	b.add(&c.LoginRateLimit, "login-rate-limit", "10", "failed sign-ins allowed per email and per client address per 15 minutes (sign-ups through invites: 5 times this per client address)")
	b.add(&c.ShutdownGrace, "shutdown-grace", "20s", "how long shutdown waits for requests and terminals to drain")
	b.add(&c.TrustedProxies, "trusted-proxies", "", "comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; empty trusts none")
	b.add(&c.NoPasswordLogin, "disable-password-login", "false", "refuse sign-in and invite sign-up with email and password: single sign-on only (needs --oidc-issuer)")
	b.add(&c.OIDCIssuer, "oidc-issuer", "", "OpenID Connect issuer URL for single sign-on (e.g. https://accounts.google.com); empty: no single sign-on")
	b.add(&c.OIDCClientID, "oidc-client-id", "", "OAuth client id registered at the issuer; its redirect URI is <public-url>/api/v1/auth/oidc/callback")
	b.add(&c.OIDCClientSecret, "oidc-client-secret", "", "OAuth client secret (prefer the environment variable: flags show in the process list)")
	b.add(&c.OIDCName, "oidc-name", "single sign-on", "provider name on the sign-in button (\"Sign in with …\")")
	b.add(&c.OIDCScopes, "oidc-scopes", "email,profile", "comma-separated scopes asked besides openid (add groups if the provider needs it for the groups claim)")
	b.add(&c.OIDCAllowedDomains, "oidc-allowed-domains", "", "comma-separated email domains that may sign in through the provider; empty: any")
	b.add(&c.OIDCGroupsClaim, "oidc-groups-claim", "groups", "ID token claim that lists the person's groups")
	b.add(&c.OIDCAdminGroups, "oidc-admin-groups", "", "comma-separated groups whose members are admins (with --oidc-instructor-groups: roles follow groups at every sign-in)")
	b.add(&c.OIDCInstructorGroups, "oidc-instructor-groups", "", "comma-separated groups whose members are instructors; everyone else signs in as a student")
	b.add(&c.OIDCTrustEmail, "oidc-trust-email", "false", "take the provider's emails as verified when its tokens do not say (Microsoft Entra ID sends no email_verified); an email_verified of false is refused either way")
	b.add(&c.OIDCAllowedGroups, "oidc-allowed-groups", "", "comma-separated groups allowed to sign in (role groups always are); empty: any")
	b.add(&c.DockerHost, "docker-host", "", "Docker engine of students' clusters: unix:///path, tcp://host:2376 (with --docker-cert-path) or ssh://user@host; empty: the local engine. Use a disposable host of its own: see docs/deploy.md")
	b.add(&c.DockerCertPath, "docker-cert-path", "", "directory with ca.pem, cert.pem, key.pem for a tcp:// --docker-host (TLS verified)")
	b.add(&c.EngineAPIAddress, "engine-api-address", "", "address on the engine host where clusters' API servers are published and ckalab reaches them; empty: 127.0.0.1 (a local engine)")
	b.add(&c.LabsDir, "labs-dir", "", "directory of lab folders; empty uses the labs built into the binary")
	b.add(&c.NodeImage, "node-image", "ckalab/node", "node image repository; the tag is the Kubernetes version (e.g. ckalab/node:v1.34.4)")
	b.add(&c.K8sVersion, "kubernetes-version", clusterimages.KubernetesVersion(), "default Kubernetes version of clusters (a node image must exist for it)")
	b.add(&c.ClusterPrefix, "cluster-prefix", "ckalab-", "name prefix of this server's kind clusters; it deletes stray clusters with this prefix, so give each server on one Docker engine its own")
	b.add(&c.PoolSize, "pool-size", "0", "warm clusters kept ready per topology and Kubernetes version")
	b.add(&c.PoolTopologies, "pool-topologies", "1cp-1w", "comma-separated topologies the warm pool keeps (1cp, 1cp-1w, 1cp-2w …)")
	b.add(&c.PoolHot, "pool-hot", "1", "warm clusters per pool kept running; the rest of --pool-size wait paused (no CPU) and take about 10 s to wake when claimed (with --freeze-pool)")
	b.add(&c.FreezePool, "freeze-pool", "true", "pause warm clusters beyond --pool-hot until claimed")
	b.add(&c.SleepAfter, "sleep-after", "20m", "pause a student's cluster after this long without a keystroke, Check, open lab page or terminal; opening the lab wakes it in about 10 s, the lab clock runs on (0: never)")
	b.add(&c.OrphanGrace, "orphan-grace", "10m", "age after which a cluster with this server's prefix but no environment is deleted")
	b.add(&c.MaxEnvs, "max-environments", "6", "clusters this host runs at once (warm pool included; about 3 per CPU core, see docs/benchmarks.md)")
	b.add(&c.MaxActiveEnvs, "max-active-environments", "6", "clusters running (not paused) at once: what the host's CPU allows, about 3 per core (see docs/benchmarks.md); 0: --max-environments alone")
	b.add(&c.MaxEnvsPerUser, "max-environments-per-user", "1", "environments one student may hold at once")
	b.add(&c.EnvGrace, "environment-grace", "15m", "time added to a lab's time limit before its environment expires")
	b.add(&c.MaxEnvTime, "max-environment-time", "4h", "ceiling on an environment's whole time, extensions included (0: none)")
	b.add(&c.NodeMemory, "node-memory", "2g", "memory limit of each node container (docker --memory syntax)")
	b.add(&c.NodeCPUs, "node-cpus", "1", "CPU quota of each node container (docker --cpus syntax; empty: none): one student's busy loops cannot take the whole host")
	b.add(&c.NodePids, "node-pids", "4096", "process limit of each node container")
	b.add(&c.MinFreeDiskGiB, "min-free-disk-gib", "5", "free disk (GiB) the engine host keeps; below it the running environment using the most is stopped with that reason (0: no watch)")
	b.add(&c.CreateTimeout, "create-timeout", "6m", "how long creating one cluster may take")
	b.add(&c.TerminalIdle, "terminal-idle-timeout", "30m", "idle time after which a terminal's shell is closed")
	b.add(&c.TerminalPerUser, "terminals-per-user", "6", "terminals one user may have open at once")
	b.add(&c.StreamsPerUser, "streams-per-user", "24", "live connections one user may hold at once: terminal websockets (also reattached ones) and live views")
	return b.opts, func() error {
		if len(b.errs) > 0 {
			return fmt.Errorf("invalid environment: %s", strings.Join(b.errs, "; "))
		}
		return nil
	}
}

// Defaults is the configuration with every setting at its default (the
// CKALAB_* environment variables still apply), as `ckalab serve` starts.
func Defaults() (Config, error) {
	var c Config
	_, envErr := c.Register(flag.NewFlagSet("defaults", flag.ContinueOnError))
	return c, envErr()
}

// Validate checks values that flags cannot check by type.
func (c *Config) Validate() error {
	var errs []string
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Sprintf("--log-format=%q: want text or json", c.LogFormat))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Sprintf("--log-level=%q: want debug, info, warn or error", c.LogLevel))
	}
	if c.StateDir == "" {
		errs = append(errs, "--state-dir must not be empty")
	}
	if c.SessionTTL < time.Minute {
		errs = append(errs, "--session-ttl must be at least 1m")
	}
	if c.LoginRateLimit < 1 {
		errs = append(errs, "--login-rate-limit must be at least 1")
	}
	if c.MaxEnvs < 1 || c.MaxEnvsPerUser < 1 {
		errs = append(errs, "--max-environments and --max-environments-per-user must be at least 1")
	}
	if c.OIDCIssuer != "" && (c.OIDCClientID == "" || c.PublicURL == "") {
		errs = append(errs, "--oidc-issuer needs --oidc-client-id and --public-url (the provider sends people back to <public-url>/api/v1/auth/oidc/callback)")
	}
	if c.NoPasswordLogin && c.OIDCIssuer == "" {
		errs = append(errs, "--disable-password-login needs --oidc-issuer: nobody could sign in")
	}
	if c.PoolSize < 0 {
		errs = append(errs, "--pool-size must not be negative")
	}
	if c.PoolHot < 0 {
		errs = append(errs, "--pool-hot must not be negative")
	}
	if c.SleepAfter < 0 || (c.SleepAfter > 0 && c.SleepAfter < time.Minute) {
		errs = append(errs, "--sleep-after must be 0 (never) or at least 1m")
	}
	if c.MetricsListen != "" && c.MetricsListen == c.Listen {
		errs = append(errs, "--metrics-listen must differ from --listen")
	}
	for _, p := range c.TrustedProxyList() {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				errs = append(errs, fmt.Sprintf("--trusted-proxies: %q is neither an IP address nor a CIDR", p))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid configuration: %s", strings.Join(errs, "; "))
	}
	return nil
}

// TrustedProxyList is --trusted-proxies split into its entries; nil when
// empty, which trusts no proxy.
func (c *Config) TrustedProxyList() []string { return List(c.TrustedProxies) }

// Origin is the scheme://host[:port] browsers send as Origin for this server.
func (c *Config) Origin() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "http://" + c.Listen
}

// List splits a comma-separated setting into its trimmed, non-empty entries.
func List(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
