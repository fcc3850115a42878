// Package clusterimages tells Go code which versions the node images are
// built with: versions.env, the one place they are set, is embedded.
package clusterimages

import (
	_ "embed"
	"strings"
)

//go:embed versions.env
var versionsEnv string

func value(key string) string {
	for _, line := range strings.Split(versionsEnv, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSpace(v)
		}
	}
	panic("cluster-images/versions.env lacks " + key) // caught by every test run
}

// KubernetesVersion is the default cluster version (vA), e.g. "1.34.4".
func KubernetesVersion() string { return value("KUBERNETES_VERSION") }

// UpgradeVersion is the kubeadm-upgrade target baked into vA's image (vB).
func UpgradeVersion() string { return value("KUBERNETES_UPGRADE_VERSION") }
