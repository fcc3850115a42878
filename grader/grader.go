// Package grader checks a student's live cluster against a lab's checks,
// from the server, with the platform's own credentials: the API through a
// system:masters client certificate minted at the cluster's creation;
// node files through the container engine's archive API; probes (network,
// http, dns) in throwaway containers of the node image beside the node,
// with binaries the student cannot replace. Only a nodeCommand check runs
// what the node holds.
package grader

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ckalab/ckalab/labs"
)

// Exec runs a command in a node container of the graded cluster, and
// refuses any other (cluster.Manager.In).
type Exec func(ctx context.Context, node string, stdin io.Reader, command ...string) ([]byte, error)

// Target is the cluster being graded.
type Target struct {
	Kubeconfig []byte
	// Nodes maps a lab's node names (control-plane, worker, worker2 …) to
	// node container names.
	Nodes map[string]string
	Exec  Exec
	// ReadFile copies a file out of a node through the container engine,
	// running nothing there (cluster.Manager.FilesIn).
	ReadFile ReadFile
	// Probe runs a probe's command beside a node with the platform's own
	// binaries, in the node's PID and network namespaces
	// (cluster.Manager.ProbesIn). Without it probes run in the node (Exec).
	Probe Probe
	// SetupDone is when the lab's setup ended (the student's start).
	SetupDone time.Time
}

// Probe runs a command beside a node container of the graded cluster.
type Probe func(ctx context.Context, node string, command ...string) ([]byte, error)

// probe runs connectivity, http and dns probes: beside the node when the
// target can, else in it.
func (c *cluster) probe(ctx context.Context, node string, command ...string) ([]byte, error) {
	if c.t.Probe != nil {
		return c.t.Probe(ctx, node, command...)
	}
	return c.t.Exec(ctx, node, nil, command...)
}

// ReadFile reads a file of a node container of the graded cluster, at
// most limit bytes, and refuses any other container.
type ReadFile func(ctx context.Context, node, path string, limit int64) ([]byte, error)

// hasNode reports whether node is one of the target's node containers.
func (t Target) hasNode(node string) bool {
	for _, n := range t.Nodes {
		if n == node && node != "" {
			return true
		}
	}
	return false
}

// Result is one check's outcome.
type Result struct {
	TaskID  string  `json:"taskId"`
	CheckID string  `json:"checkId"`
	Passed  bool    `json:"passed"`
	Weight  float64 `json:"weight"`
	Message string  `json:"message"`
	// WaitingFor lists the required checks (task/check) that do not pass
	// yet; the check does not count until they do, whatever it found.
	WaitingFor []string `json:"waitingFor,omitempty"`
	Evidence   any      `json:"evidence,omitempty"`
}

// Report is a whole grading.
type Report struct {
	Score    float64       `json:"score"`
	MaxScore float64       `json:"maxScore"`
	Results  []Result      `json:"results"`
	Took     time.Duration `json:"tookMs"`
	// Unreachable is set when the API server did not answer: nothing was graded.
	Unreachable bool `json:"-"`
}

// DefaultTimeout bounds a check without its own timeout.
const DefaultTimeout = 10 * time.Second

// ConnectivityTimeout bounds a connectivity check without its own timeout:
// each starts probe containers and waits on a blocked port, and a lab's
// checks run side by side, so on a loaded 2-core host 10 s ran out before
// the probes answered (netpol-shop's solution graded as blocked).
const ConnectivityTimeout = 30 * time.Second

// ErrUnreachable means the cluster's API server did not answer.
var ErrUnreachable = errors.New("cluster unreachable")

// Grader grades labs.
type Grader struct{ log *slog.Logger }

// New returns a grader.
func New(log *slog.Logger) *Grader { return &Grader{log: log} }

// cluster is the clients one grading uses.
type cluster struct {
	t      Target
	core   kubernetes.Interface
	dyn    dynamic.Interface
	mapper meta.RESTMapper

	client *http.Client // closed after the grading
	served sync.Map     // host:port -> servingOnce's lookup
}

func connect(t Target) (*cluster, error) {
	cfg, err := clientcmd.RESTConfigFromKubeConfig(t.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.Timeout = DefaultTimeout
	cfg.QPS, cfg.Burst = 50, 100
	// Each grading builds its own transport and closes it: client-go would
	// otherwise cache one per cluster credential for the process's life.
	cfg.Proxy = noProxy
	// The API server answering is the student's to replace: its answers
	// are bounded, and its redirects are not followed (they could point
	// the server at its own network).
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return boundedBodies{rt} }
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	core, err := kubernetes.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfigAndClient(rest.CopyConfig(cfg), hc)
	if err != nil {
		return nil, err
	}
	return &cluster{t: t, core: core, dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)), client: hc}, nil
}

// maxAPIBody bounds one API answer the grader reads.
const maxAPIBody = 32 << 20

// boundedBodies cuts API answers at maxAPIBody: past it the read fails.
type boundedBodies struct{ rt http.RoundTripper }

func (b boundedBodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.rt.RoundTrip(req)
	if err == nil && resp.Body != nil {
		resp.Body = &capped{ReadCloser: resp.Body, left: maxAPIBody}
	}
	return resp, err
}

// capped is a body that fails once more than left bytes were read.
type capped struct {
	io.ReadCloser
	left int64
}

func (c *capped) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("the API server's answer is over %d bytes", maxAPIBody)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.ReadCloser.Read(p)
	c.left -= int64(n)
	return n, err
}

// Grade runs every check of the lab, several at a time. A task's weight
// is shared by its checks in proportion to their weights; a check counts
// only when every check it requires passes too. An unreachable API server
// fails every check with that reason.
func (g *Grader) Grade(ctx context.Context, lab *labs.Lab, t Target) Report {
	start := time.Now()
	c, err := connect(t)
	if err == nil {
		_, err = c.core.Discovery().ServerVersion() // bounded by the client timeout
	}
	if c != nil && c.client != nil {
		defer c.client.CloseIdleConnections()
	}
	rep := c.grade(ctx, lab, err)
	rep.Took = time.Since(start)
	rep.Unreachable = err != nil
	return rep
}

// grade runs the checks on c; unreachable, when not nil, fails them all.
func (c *cluster) grade(ctx context.Context, lab *labs.Lab, unreachable error) Report {
	var rep Report
	type item struct {
		task labs.Task
		chk  labs.Check
	}
	var items []item
	for _, task := range lab.Tasks {
		rep.MaxScore += float64(task.Weight)
		total := 0
		for _, chk := range task.Checks {
			total += checkWeight(chk)
		}
		for _, chk := range task.Checks {
			items = append(items, item{task, chk})
			rep.Results = append(rep.Results, Result{TaskID: task.ID, CheckID: chk.ID,
				Weight: float64(task.Weight) * float64(checkWeight(chk)) / float64(total)})
		}
	}
	// Checks only read the cluster (probes run in the student's pods and
	// nodes): run them side by side, a few at a time.
	sem := make(chan struct{}, parallelChecks)
	var wg sync.WaitGroup
	for i := range items {
		r := &rep.Results[i]
		if unreachable != nil {
			r.Message = fmt.Sprintf("%s: the API server did not answer (%v); is the control plane running?", ErrUnreachable, unreachable)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(chk labs.Check) {
			defer func() { <-sem; wg.Done() }()
			r.Passed, r.Message, r.Evidence = c.run(ctx, chk)
		}(items[i].chk)
	}
	wg.Wait()
	// A check counts when it passes and every check it requires counts
	// (transitively; validation refuses cycles, so this settles).
	index := map[string]int{}
	for i, r := range rep.Results {
		index[r.TaskID+"/"+r.CheckID] = i
	}
	found := make([]bool, len(rep.Results))
	for i, r := range rep.Results {
		found[i] = r.Passed
	}
	for changed := true; changed; {
		changed = false
		for i := range rep.Results {
			r := &rep.Results[i]
			var waiting []string
			for _, req := range items[i].chk.Requires {
				full := labs.RequiredCheck(r.TaskID, req)
				if j, ok := index[full]; !ok || !rep.Results[j].Passed {
					waiting = append(waiting, full)
				}
			}
			if passed := found[i] && len(waiting) == 0; passed != r.Passed || len(waiting) != len(r.WaitingFor) {
				r.Passed, r.WaitingFor, changed = passed, waiting, true
			}
		}
	}
	for i := range rep.Results {
		r := &rep.Results[i]
		if found[i] && len(r.WaitingFor) > 0 {
			verb := "passes"
			if len(r.WaitingFor) > 1 {
				verb = "pass"
			}
			r.Message = fmt.Sprintf("%s, but this counts only once %s %s", r.Message, strings.Join(r.WaitingFor, ", "), verb)
		}
		if r.Passed {
			rep.Score += r.Weight
		}
	}
	return rep
}

// parallelChecks bounds the checks one grading runs at once.
const parallelChecks = 8

func checkWeight(c labs.Check) int {
	if c.Weight > 0 {
		return c.Weight
	}
	return 1
}

// run runs one check within its timeout; a panic in a check is a failed
// check, never a crash.
func (c *cluster) run(ctx context.Context, chk labs.Check) (passed bool, msg string, evidence any) {
	timeout := chk.Timeout.Duration
	if timeout == 0 {
		timeout = DefaultTimeout
		if _, ok := chk.Spec.(*labs.ConnectivityCheck); ok {
			timeout = ConnectivityTimeout
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			passed, msg, evidence = false, fmt.Sprintf("the check could not run: %v", p), nil
		}
	}()
	var err error
	if chk.Spec == nil {
		err = errors.New("no check kind")
	} else if run, ok := checkers()[chk.Spec.CheckKind()]; !ok {
		err = fmt.Errorf("this ckalab cannot run %s checks", chk.Spec.CheckKind())
	} else {
		passed, msg, evidence, err = run(ctx, c, chk.Spec)
	}
	if err != nil {
		if ctx.Err() != nil {
			return false, fmt.Sprintf("%s: no answer within %s", chk.Description, timeout), evidence
		}
		return false, fmt.Sprintf("%s: %v", chk.Description, err), evidence
	}
	if msg == "" {
		msg = chk.Description
	}
	return passed, msg, evidence
}
