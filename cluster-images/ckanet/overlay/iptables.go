//go:build ckanet

// This file is compiled into sigs.k8s.io/kube-network-policies/pkg/networkpolicy
// through `go build -overlay` (see ../build.go). It replaces the upstream
// nftables dataplane, whose `queue` statement needs CONFIG_NFT_QUEUE, with
// iptables-legacy NFQUEUE rules and an ipset: the same hook (postrouting,
// before SNAT), the same filters, the same policy engine.

package networkpolicy

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/klog/v2"
	netutils "k8s.io/utils/net"
)

const (
	ckanetChain  = "CKANET-NETPOL"
	ckanetSet    = "ckanet-netpol-v4"
	ckanetSetTmp = "ckanet-netpol-v4-tmp"
)

// syncNFTablesRules queues the first packet of every connection from or to
// a local pod selected by a NetworkPolicy. There is no --queue-bypass: when
// the controller is not listening, those packets are dropped (fail closed).
func (c *Controller) syncNFTablesRules(ctx context.Context) error {
	policies, err := c.networkpolicyLister.List(labels.Everything())
	if err != nil {
		return err
	}
	ips := map[string]bool{}
	for _, np := range policies {
		for _, pod := range c.getLocalPodsForNetworkPolicy(np) {
			for _, ip := range pod.Status.PodIPs {
				if netutils.IsIPv4String(ip.IP) {
					ips[ip.IP] = true
				}
			}
		}
	}
	sorted := make([]string, 0, len(ips))
	for ip := range ips {
		sorted = append(sorted, ip)
	}
	sort.Strings(sorted)

	var set strings.Builder
	fmt.Fprintf(&set, "create %s hash:ip family inet -exist\n", ckanetSet)
	fmt.Fprintf(&set, "create %s hash:ip family inet -exist\n", ckanetSetTmp)
	fmt.Fprintf(&set, "flush %s\n", ckanetSetTmp)
	for _, ip := range sorted {
		fmt.Fprintf(&set, "add %s %s\n", ckanetSetTmp, ip)
	}
	fmt.Fprintf(&set, "swap %s %s\ndestroy %s\n", ckanetSetTmp, ckanetSet, ckanetSetTmp)
	if err := ckanetRun(ctx, set.String(), "ipset", "restore"); err != nil {
		return err
	}

	if !c.flushed {
		action := fmt.Sprintf("-j NFQUEUE --queue-num %d", c.config.QueueID)
		rules := strings.Join([]string{
			"*mangle",
			":" + ckanetChain + " - [0:0]",
			// kubelet probes and node daemons run as root on the node.
			"-A " + ckanetChain + " -m owner --uid-owner 0 -j RETURN",
			"-A " + ckanetChain + " -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN",
			"-A " + ckanetChain + " -m set --match-set " + ckanetSet + " src " + action,
			"-A " + ckanetChain + " -m set --match-set " + ckanetSet + " dst " + action,
			"COMMIT", "",
		}, "\n")
		if err := ckanetRun(ctx, rules, "iptables-restore", "--noflush", "-w"); err != nil {
			return err
		}
		jump := []string{"POSTROUTING", "-j", ckanetChain}
		if ckanetRun(ctx, "", "iptables", append([]string{"-w", "-t", "mangle", "-C"}, jump...)...) != nil {
			if err := ckanetRun(ctx, "", "iptables", append([]string{"-w", "-t", "mangle", "-I"}, jump...)...); err != nil {
				return err
			}
		}
		c.flushed = true
	}
	klog.V(2).Infof("ckanet: %d local pod IPs under NetworkPolicy", len(sorted))
	return nil
}

// cleanNFTablesRules leaves the rules in place: while the controller
// restarts, policed traffic waits in a queue nobody reads and is dropped.
func (c *Controller) cleanNFTablesRules() {}

func ckanetRun(ctx context.Context, stdin, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
