package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRoutes(t *testing.T) {
	exited := make(chan int, 1)
	a := &app{exit: func(code int) { exited <- code }}
	srv := httptest.NewServer(a.routes("pod-1"))
	defer srv.Close()
	call := func(method, path string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, string(body)
	}
	if code, body := call("GET", "/"); code != 200 || !strings.Contains(body, "ckalab app dev") || !strings.Contains(body, "host: pod-1") {
		t.Fatalf("/: %d %q", code, body)
	}
	steps := []struct {
		method, path string
		want         int
	}{
		{"GET", "/readyz", 200}, {"GET", "/healthz", 200},
		{"GET", "/unready", 405}, {"POST", "/unready", 200}, {"GET", "/readyz", 503},
		{"POST", "/ready", 200}, {"GET", "/readyz", 200},
		{"POST", "/unhealthy", 200}, {"GET", "/healthz", 500},
		{"GET", "/memory?mb=x", 400}, {"GET", "/memory?mb=3", 200},
		{"GET", "/cpu?seconds=0", 400}, {"GET", "/cpu?seconds=1", 200},
	}
	for _, s := range steps {
		if code, body := call(s.method, s.path); code != s.want {
			t.Fatalf("%s %s: %d %q, want %d", s.method, s.path, code, body, s.want)
		}
	}
	if _, body := call("GET", "/"); !strings.Contains(body, "held: 3 MiB") || !strings.Contains(body, "healthy: false") {
		t.Fatalf("state page: %q", body)
	}
	call("POST", "/crash")
	select {
	case code := <-exited:
		if code != 1 {
			t.Fatalf("crash exit code %d", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("/crash did not exit")
	}
}
