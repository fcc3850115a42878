package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// network keeps this node's CNI config, routes and masquerade rule in step
// with the cluster's Nodes.
type network struct {
	log    *slog.Logger
	cfg    Config
	podNet *net.IPNet
	nodes  corelisters.NodeLister
	routes map[string]string // podCIDR -> gateway, routes this daemon added
}

func (n *network) handler(trigger chan struct{}) cache.ResourceEventHandler {
	poke := func(any) {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}
	return cache.ResourceEventHandlerFuncs{AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke}
}

// run syncs on every Node change and once a minute, to repair drift.
func (n *network) run(ctx context.Context, synced cache.InformerSynced, trigger <-chan struct{}) error {
	if !cache.WaitForCacheSync(ctx.Done(), synced) {
		return ctx.Err()
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if err := n.sync(ctx); err != nil {
			n.log.Error("network sync failed; retrying", "err", err)
			time.Sleep(2 * time.Second)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-trigger:
		case <-tick.C:
		}
	}
}

func (n *network) sync(ctx context.Context) error {
	all, err := n.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	self, want := planRoutes(n.cfg.NodeName, all)
	if self != "" {
		mtu, err := defaultMTU()
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(n.cfg.CNIConfigDir, "10-ckanet.conflist"), cniConfig(self, mtu)); err != nil {
			return err
		}
	}
	for cidr, gw := range want {
		if n.routes[cidr] == gw {
			continue
		}
		if err := replaceRoute(cidr, gw); err != nil {
			return err
		}
		n.log.Info("route", "podCIDR", cidr, "via", gw)
		n.routes[cidr] = gw
	}
	for cidr := range n.routes {
		if _, ok := want[cidr]; !ok {
			_, dst, _ := net.ParseCIDR(cidr)
			if err := netlink.RouteDel(&netlink.Route{Dst: dst}); err != nil {
				n.log.Warn("removing stale route", "podCIDR", cidr, "err", err)
			}
			delete(n.routes, cidr)
		}
	}
	return ensureMasquerade(ctx, n.podNet.String())
}

// planRoutes returns this node's podCIDR and, for every other node, the
// route its podCIDR needs: via that node's InternalIP.
func planRoutes(self string, nodes []*v1.Node) (string, map[string]string) {
	var own string
	want := map[string]string{}
	for _, node := range nodes {
		if node.Spec.PodCIDR == "" {
			continue
		}
		if node.Name == self {
			own = node.Spec.PodCIDR
			continue
		}
		for _, a := range node.Status.Addresses {
			if a.Type == v1.NodeInternalIP && net.ParseIP(a.Address).To4() != nil {
				want[node.Spec.PodCIDR] = a.Address
				break
			}
		}
	}
	return own, want
}

// cniConfig is the config list for the node's pods: a ptp veth per pod with
// an address from the node's podCIDR, and hostPort support.
func cniConfig(podCIDR string, mtu int) []byte {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "ckanet",
		"plugins": []any{
			map[string]any{
				"type": "ptp", "ipMasq": false, "mtu": mtu,
				"ipam": map[string]any{
					"type":    "host-local",
					"dataDir": "/run/cni-ipam-state",
					"ranges":  [][]map[string]string{{{"subnet": podCIDR}}},
					"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	b, _ := json.MarshalIndent(conf, "", "  ")
	return append(b, '\n')
}

func replaceRoute(cidr, gw string) error {
	_, dst, err := net.ParseCIDR(cidr)
	if err != nil {
		return fmt.Errorf("node podCIDR %q: %w", cidr, err)
	}
	if err := netlink.RouteReplace(&netlink.Route{Dst: dst, Gw: net.ParseIP(gw)}); err != nil {
		return fmt.Errorf("route %s via %s: %w", cidr, gw, err)
	}
	return nil
}

// defaultMTU is the MTU of the interface holding the default route.
func defaultMTU() (int, error) {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 0, fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.String() == "0.0.0.0/0" {
			link, err := netlink.LinkByIndex(r.LinkIndex)
			if err != nil {
				return 0, fmt.Errorf("default route link: %w", err)
			}
			return link.Attrs().MTU, nil
		}
	}
	return 1500, nil
}

// ensureMasquerade SNATs pod traffic leaving the pod network; pod-to-pod
// traffic keeps its source address, which NetworkPolicy depends on.
func ensureMasquerade(ctx context.Context, podSubnet string) error {
	rules := masqueradeRules(podSubnet)
	cmd := exec.CommandContext(ctx, "iptables-restore", "--noflush", "-w")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s", err, out)
	}
	jump := []string{"POSTROUTING", "-j", "CKANET-MASQ"}
	if exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat", "-C"}, jump...)...).Run() == nil {
		return nil
	}
	if out, err := exec.CommandContext(ctx, "iptables", append([]string{"-w", "-t", "nat", "-A"}, jump...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("iptables: %w: %s", err, out)
	}
	return nil
}

func masqueradeRules(podSubnet string) string {
	return strings.Join([]string{
		"*nat",
		":CKANET-MASQ - [0:0]",
		"-A CKANET-MASQ -d " + podSubnet + " -j RETURN",
		"-A CKANET-MASQ -s " + podSubnet + " -j MASQUERADE --random-fully",
		"COMMIT", "",
	}, "\n")
}

func writeFileAtomic(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && string(old) == string(data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}
