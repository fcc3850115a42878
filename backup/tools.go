package backup

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Tools are pg_dump and pg_restore from one PostgreSQL release.
type Tools struct {
	Dump, Restore string
	Major         int
}

var toolVersion = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// FindTools returns pg_dump and pg_restore of the server's major version,
// else of the closest newer one (pg_dump reads older servers).
func FindTools(ctx context.Context, major int) (Tools, error) {
	var dirs []string
	for _, pattern := range []string{"/usr/lib/postgresql/%d/bin", "/usr/pgsql-%d/bin",
		"/opt/homebrew/opt/postgresql@%d/bin", "/usr/local/opt/postgresql@%d/bin"} {
		dirs = append(dirs, fmt.Sprintf(pattern, major))
	}
	if p, err := exec.LookPath("pg_dump"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pattern)
		dirs = append(dirs, m...)
	}
	var found []Tools
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			continue
		}
		seen[d] = true
		t := Tools{Dump: filepath.Join(d, "pg_dump"), Restore: filepath.Join(d, "pg_restore")}
		if !executable(t.Dump) || !executable(t.Restore) {
			continue
		}
		out, err := exec.CommandContext(ctx, t.Dump, "--version").Output()
		m := toolVersion.FindSubmatch(out)
		if err != nil || m == nil {
			continue
		}
		t.Major, _ = strconv.Atoi(string(m[1]))
		if t.Major == major {
			return t, nil
		}
		found = append(found, t)
	}
	sort.Slice(found, func(i, j int) bool { return found[i].Major < found[j].Major })
	var others []string
	for _, t := range found {
		if t.Major > major {
			return t, nil
		}
		others = append(others, fmt.Sprintf("%d in %s", t.Major, filepath.Dir(t.Dump)))
	}
	msg := fmt.Sprintf("pg_dump and pg_restore of PostgreSQL %d or newer not found", major)
	if len(others) > 0 {
		msg += " (only " + strings.Join(others, ", ") + ")"
	}
	return Tools{}, fmt.Errorf("%w: %s; install them (Debian/Ubuntu: apt-get install postgresql-client-%d; Fedora/RHEL: dnf install postgresql%d)",
		ErrNoTools, msg, major, major)
}

func executable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// pgxOnly are connection parameters pgx understands and libpq refuses.
func pgxOnly(key string) bool {
	switch key {
	case "statement_cache_capacity", "description_cache_capacity", "default_query_exec_mode", "min_read_buffer_size":
		return true
	}
	return strings.HasPrefix(key, "pool_")
}

// conninfo turns a database URL (or key=value string) into what libpq's
// tools take: the connection string without its password, and the
// password apart, for PGPASSWORD.
func conninfo(dbURL string) (conn, password string, err error) {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			return "", "", errors.New("parse database URL: malformed URL") // its text may hold the password
		}
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				password = pw
				u.User = url.User(u.User.Username())
			}
		}
		q := u.Query()
		if pw := q.Get("password"); pw != "" {
			password = pw
		}
		q.Del("password")
		for k := range q {
			if pgxOnly(k) {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), password, nil
	}
	pairs, err := parseKeywords(dbURL)
	if err != nil {
		return "", "", err
	}
	var b strings.Builder
	for _, kv := range pairs {
		switch {
		case kv[0] == "password":
			password = kv[1]
		case pgxOnly(kv[0]):
		default:
			writeKeyword(&b, kv[0], kv[1])
		}
	}
	return b.String(), password, nil
}

// withAppName sets the name the server shows for ckalab's own connections.
func withAppName(dbURL, app string) string {
	if strings.HasPrefix(dbURL, "postgres://") || strings.HasPrefix(dbURL, "postgresql://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			return dbURL
		}
		q := u.Query()
		q.Set("application_name", app)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dbURL + " application_name=" + app
}

func writeKeyword(b *strings.Builder, k, v string) {
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	v = strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v)
	fmt.Fprintf(b, "%s='%s'", k, v)
}

// parseKeywords splits a libpq key=value connection string.
func parseKeywords(s string) ([][2]string, error) {
	var out [][2]string
	for {
		s = strings.TrimLeft(s, " \t\n\r")
		if s == "" {
			return out, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 1 {
			return nil, errors.New("parse database URL: want postgres://… or key=value pairs")
		}
		key := strings.TrimSpace(s[:eq])
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i := 0
		for ; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				val.WriteByte(s[i])
				continue
			}
			if (quoted && c == '\'') || (!quoted && (c == ' ' || c == '\t' || c == '\n')) {
				break
			}
			val.WriteByte(c)
		}
		if quoted {
			if i == len(s) {
				return nil, errors.New("parse database URL: unterminated quoted value")
			}
			i++
		}
		out = append(out, [2]string{key, val.String()})
		s = s[i:]
	}
}

// toolEnv is the tools' environment: ours, with the password and the name
// the server shows for the connection.
func toolEnv(password, app string) []string {
	var env []string
	for _, e := range os.Environ() {
		if password != "" && strings.HasPrefix(e, "PGPASSWORD=") {
			continue
		}
		env = append(env, e)
	}
	if password != "" {
		env = append(env, "PGPASSWORD="+password)
	}
	return append(env, "PGAPPNAME="+app)
}
