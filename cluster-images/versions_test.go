package clusterimages

import (
	"regexp"
	"testing"
)

func TestVersions(t *testing.T) {
	semver := regexp.MustCompile(`^1\.\d+\.\d+$`)
	if v := KubernetesVersion(); !semver.MatchString(v) {
		t.Fatalf("KubernetesVersion %q", v)
	}
	if v := UpgradeVersion(); !semver.MatchString(v) || v == KubernetesVersion() {
		t.Fatalf("UpgradeVersion %q", v)
	}
}
