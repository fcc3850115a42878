// Command app is ckalab's practice workload (image docker.io/ckalab/app):
// a small web server that can be told to crash, turn unready or unhealthy,
// and burn CPU or memory, for probe, CrashLoopBackOff, OOMKilled and HPA
// tasks. Flags or environment variables set it up at start; HTTP
// endpoints change it while it runs.
//
//	GET /            hostname, version and state
//	GET /healthz     200, or 500 once unhealthy      (liveness)
//	GET /readyz      200, or 503 while unready       (readiness)
//	POST /unhealthy, /unready, /ready, /crash
//	GET /cpu?seconds=N       burn one core for N seconds
//	GET /memory?mb=N         hold N MiB more
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// version is set at build time; each image tag holds its own.
var version = "dev"

type app struct {
	exit      func(code int)
	unready   atomic.Bool
	unhealthy atomic.Bool
	mu        sync.Mutex
	held      [][]byte
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envDuration(name string) time.Duration {
	d, _ := time.ParseDuration(os.Getenv(name))
	return d
}

func main() {
	listen := flag.String("listen", ":"+env("PORT", "8080"), "listen address")
	crashAfter := flag.Duration("crash-after", envDuration("CRASH_AFTER"), "exit with status 1 after this long (0: never)")
	readyAfter := flag.Duration("ready-after", envDuration("READY_AFTER"), "report unready until this long after start")
	unhealthyAfter := flag.Duration("unhealthy-after", envDuration("UNHEALTHY_AFTER"), "fail /healthz after this long (0: never)")
	memoryMB := flag.Int("memory-mb", atoi(os.Getenv("MEMORY_MB")), "MiB to allocate at start (and keep)")
	cpu := flag.Bool("burn-cpu", os.Getenv("BURN_CPU") != "", "keep one core busy")
	flag.Parse()

	a := &app{exit: os.Exit}
	host, _ := os.Hostname()
	log.Printf("ckalab app %s on %s, listening on %s", version, host, *listen)
	if *memoryMB > 0 {
		a.hold(*memoryMB)
	}
	if *cpu {
		go burn(context.Background())
	}
	if *readyAfter > 0 {
		a.unready.Store(true)
		time.AfterFunc(*readyAfter, func() { a.unready.Store(false); log.Print("ready") })
	}
	if *unhealthyAfter > 0 {
		time.AfterFunc(*unhealthyAfter, func() { a.unhealthy.Store(true); log.Print("unhealthy from now on") })
	}
	if *crashAfter > 0 {
		time.AfterFunc(*crashAfter, func() { log.Print("crashing as asked (crash-after)"); os.Exit(1) })
	}

	srv := &http.Server{Addr: *listen, Handler: a.routes(host), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
		<-stop
		log.Print("shutting down")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// routes serves the endpoints listed at the top of this file.
func (a *app) routes(host string) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-App-Version", version)
		fmt.Fprintf(w, "ckalab app %s\nhost: %s\nready: %v\nhealthy: %v\nheld: %d MiB\n",
			version, host, !a.unready.Load(), !a.unhealthy.Load(), a.heldMB())
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if a.unhealthy.Load() {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if a.unready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	flip := func(f func()) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "use POST", http.StatusMethodNotAllowed)
				return
			}
			f()
			fmt.Fprintln(w, "ok")
		}
	}
	mux.HandleFunc("/unhealthy", flip(func() { a.unhealthy.Store(true) }))
	mux.HandleFunc("/unready", flip(func() { a.unready.Store(true) }))
	mux.HandleFunc("/ready", flip(func() { a.unready.Store(false) }))
	mux.HandleFunc("/crash", flip(func() { log.Print("crashing as asked (/crash)"); go a.exit(1) }))
	mux.HandleFunc("/cpu", func(w http.ResponseWriter, r *http.Request) {
		secs, err := strconv.Atoi(r.URL.Query().Get("seconds"))
		if err != nil || secs < 1 || secs > 3600 {
			http.Error(w, "seconds must be 1-3600", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(secs)*time.Second)
		go func() { defer cancel(); burn(ctx) }()
		fmt.Fprintf(w, "burning one core for %d s\n", secs)
	})
	mux.HandleFunc("/memory", func(w http.ResponseWriter, r *http.Request) {
		mb, err := strconv.Atoi(r.URL.Query().Get("mb"))
		if err != nil || mb < 1 || mb > 65536 {
			http.Error(w, "mb must be 1-65536", http.StatusBadRequest)
			return
		}
		a.hold(mb)
		fmt.Fprintf(w, "holding %d MiB\n", a.heldMB())
	})

	return mux
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// hold allocates mb MiB and touches every page, so it counts as used.
func (a *app) hold(mb int) {
	b := make([]byte, mb<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	a.mu.Lock()
	a.held = append(a.held, b)
	a.mu.Unlock()
}

func (a *app) heldMB() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, b := range a.held {
		n += len(b) >> 20
	}
	return n
}

func burn(ctx context.Context) {
	for ctx.Err() == nil {
		for i := 0; i < 1e7; i++ {
		}
	}
}
