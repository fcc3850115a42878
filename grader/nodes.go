package grader

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

// NodeInfo is a node's state as the API server reports it.
type NodeInfo struct {
	Name        string   `json:"name"`
	Kubelet     string   `json:"kubelet"`
	Ready       bool     `json:"ready"`
	Schedulable bool     `json:"schedulable"`
	Taints      []string `json:"taints,omitempty"`
}

// nodeInfos lists the cluster's nodes, or only the container named want.
func (c *cluster) nodeInfos(ctx context.Context, want string) ([]NodeInfo, error) {
	list, err := c.core.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var infos []NodeInfo
	for _, node := range list.Items {
		if want != "" && node.Name != want {
			continue
		}
		info := NodeInfo{Name: node.Name, Kubelet: node.Status.NodeInfo.KubeletVersion, Schedulable: !node.Spec.Unschedulable}
		for _, cond := range node.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				info.Ready = cond.Status == corev1.ConditionTrue
			}
		}
		for _, t := range node.Spec.Taints {
			s := t.Key
			if t.Value != "" {
				s += "=" + t.Value
			}
			info.Taints = append(info.Taints, s+":"+string(t.Effect))
		}
		infos = append(infos, info)
	}
	return infos, nil
}

func (c *cluster) nodes(ctx context.Context, n *labs.NodesCheck) (bool, string, any, error) {
	want := ""
	if n.Node != "" {
		if want = c.t.Nodes[n.Node]; want == "" {
			return false, fmt.Sprintf("no node %s in this cluster", n.Node), nil, nil
		}
	}
	infos, err := c.nodeInfos(ctx, want)
	if err != nil {
		return false, "", nil, err
	}
	if len(infos) == 0 {
		return false, fmt.Sprintf("node %s not found", n.Node), nil, nil
	}
	for _, info := range infos {
		switch {
		case n.KubeletVersion != "" && strings.TrimPrefix(info.Kubelet, "v") != strings.TrimPrefix(n.KubeletVersion, "v"):
			return false, fmt.Sprintf("node %s runs kubelet %s, want v%s", info.Name, info.Kubelet, strings.TrimPrefix(n.KubeletVersion, "v")), infos, nil
		case n.Ready != nil && info.Ready != *n.Ready:
			return false, fmt.Sprintf("node %s Ready=%v, want %v", info.Name, info.Ready, *n.Ready), infos, nil
		case n.Schedulable != nil && info.Schedulable != *n.Schedulable:
			state := map[bool]string{true: "schedulable", false: "cordoned"}
			return false, fmt.Sprintf("node %s is %s, want %s", info.Name, state[info.Schedulable], state[*n.Schedulable]), infos, nil
		case n.Taint != "" && !contains(info.Taints, n.Taint):
			return false, fmt.Sprintf("node %s lacks taint %s (has %v)", info.Name, n.Taint, info.Taints), infos, nil
		case n.NoTaint != "" && contains(info.Taints, n.NoTaint):
			return false, fmt.Sprintf("node %s still has taint %s", info.Name, n.NoTaint), infos, nil
		}
	}
	return true, "", infos, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
