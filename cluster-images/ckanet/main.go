// ckanet is the network daemon of ckalab's node images: it routes pod
// traffic between nodes (ptp veths, one route per node podCIDR, like kind's
// kindnet), masquerades traffic leaving the pod network, and enforces
// NetworkPolicy with kube-network-policies' engine behind iptables NFQUEUE.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

// Config is everything ckanet reads from its flags and environment.
type Config struct {
	NodeName     string // NODE_NAME, from the downward API
	PodSubnet    string // POD_SUBNET, the cluster's pod CIDR
	APIEndpoint  string // CONTROL_PLANE_ENDPOINT, host:port (set by kind)
	CNIConfigDir string
	QueueID      int
}

func main() {
	cfg := Config{NodeName: os.Getenv("NODE_NAME"), PodSubnet: os.Getenv("POD_SUBNET"), APIEndpoint: os.Getenv("CONTROL_PLANE_ENDPOINT")}
	flag.StringVar(&cfg.CNIConfigDir, "cni-config-dir", "/etc/cni/net.d", "where the CNI config list is written")
	flag.IntVar(&cfg.QueueID, "nfqueue-id", 100, "netfilter queue read by the policy engine")
	klog.InitFlags(nil)
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, cfg); err != nil {
		log.Error("ckanet stopped", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, cfg Config) error {
	if cfg.NodeName == "" {
		return fmt.Errorf("NODE_NAME is not set")
	}
	_, podNet, err := net.ParseCIDR(cfg.PodSubnet)
	if err != nil {
		return fmt.Errorf("POD_SUBNET %q: %w", cfg.PodSubnet, err)
	}
	restCfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster config: %w", err)
	}
	if cfg.APIEndpoint != "" {
		// Reach the API server directly: the Service IP needs kube-proxy.
		restCfg.Host = "https://" + cfg.APIEndpoint
	}
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}

	factory := informers.NewSharedInformerFactory(client, 30*time.Minute)
	nodes := factory.Core().V1().Nodes()
	policy, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(),
		factory.Core().V1().Namespaces(),
		factory.Core().V1().Pods(),
		nil, nil, nil, nil,
		networkpolicy.Config{QueueID: cfg.QueueID, NodeName: cfg.NodeName, FailOpen: false},
	)
	if err != nil {
		return fmt.Errorf("network policy controller: %w", err)
	}
	nw := &network{log: log, cfg: cfg, podNet: podNet, nodes: nodes.Lister(), routes: map[string]string{}}
	trigger := make(chan struct{}, 1)
	nodes.Informer().AddEventHandler(nw.handler(trigger))
	factory.Start(ctx.Done())

	errs := make(chan error, 2)
	go func() { errs <- nw.run(ctx, nodes.Informer().HasSynced, trigger) }()
	go func() { errs <- policy.Run(ctx) }()
	log.Info("ckanet running", "node", cfg.NodeName, "podSubnet", cfg.PodSubnet)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}
