package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func node(name, cidr, ip string) *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       v1.NodeSpec{PodCIDR: cidr},
		Status: v1.NodeStatus{Addresses: []v1.NodeAddress{
			{Type: v1.NodeHostName, Address: name},
			{Type: v1.NodeInternalIP, Address: "fc00::" + ip[len(ip)-1:]},
			{Type: v1.NodeInternalIP, Address: ip},
		}},
	}
}

func TestPlanRoutes(t *testing.T) {
	nodes := []*v1.Node{
		node("cp", "10.244.0.0/24", "172.18.0.2"),
		node("w1", "10.244.1.0/24", "172.18.0.3"),
		node("w2", "10.244.2.0/24", "172.18.0.4"),
		node("new", "", "172.18.0.5"), // no podCIDR yet: no route
	}
	own, want := planRoutes("w1", nodes)
	if own != "10.244.1.0/24" {
		t.Fatalf("own podCIDR %q", own)
	}
	if !reflect.DeepEqual(want, map[string]string{"10.244.0.0/24": "172.18.0.2", "10.244.2.0/24": "172.18.0.4"}) {
		t.Fatalf("routes %v", want)
	}
}

func TestCNIConfig(t *testing.T) {
	var conf struct {
		Name    string `json:"name"`
		Plugins []struct {
			Type string `json:"type"`
			MTU  int    `json:"mtu"`
			IPAM struct {
				Ranges [][]struct {
					Subnet string `json:"subnet"`
				} `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(cniConfig("10.244.3.0/24", 1450), &conf); err != nil {
		t.Fatal(err)
	}
	if len(conf.Plugins) != 2 || conf.Plugins[0].Type != "ptp" || conf.Plugins[1].Type != "portmap" {
		t.Fatalf("plugins %+v", conf.Plugins)
	}
	if conf.Plugins[0].MTU != 1450 || conf.Plugins[0].IPAM.Ranges[0][0].Subnet != "10.244.3.0/24" {
		t.Fatalf("ptp %+v", conf.Plugins[0])
	}
}

func TestMasqueradeKeepsPodSources(t *testing.T) {
	rules := masqueradeRules("10.244.0.0/16")
	ret := strings.Index(rules, "-d 10.244.0.0/16 -j RETURN")
	masq := strings.Index(rules, "-s 10.244.0.0/16 -j MASQUERADE")
	if ret < 0 || masq < 0 || ret > masq {
		t.Fatalf("pod-to-pod traffic must return before masquerade:\n%s", rules)
	}
}
