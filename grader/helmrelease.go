package grader

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

// helmRelease is what a check reads of a Helm 3 release record.
type helmRelease struct {
	Name    string `json:"name"`
	Version int    `json:"version"` // the revision
	Info    struct {
		Status string `json:"status"`
	} `json:"info"`
	Chart struct {
		Metadata struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"metadata"`
	} `json:"chart"`
	Config map[string]any `json:"config"` // the user-supplied values
}

// maxReleaseBytes bounds a decompressed release record.
const maxReleaseBytes = 16 << 20

func (c *cluster) helmRelease(ctx context.Context, h *labs.HelmReleaseCheck) (bool, string, any, error) {
	list, err := c.core.CoreV1().Secrets(h.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "owner=helm,name=" + h.Release})
	if err != nil {
		return false, "", nil, err
	}
	var newest *helmRelease
	for _, s := range list.Items {
		if s.Type != "helm.sh/release.v1" {
			continue
		}
		r, err := decodeRelease(s.Data["release"])
		if err != nil {
			return false, fmt.Sprintf("release %s/%s: %v", h.Namespace, s.Name, err), nil, nil
		}
		if newest == nil || r.Version > newest.Version {
			newest = r
		}
	}
	if newest == nil {
		return false, fmt.Sprintf("no Helm release %s in namespace %s", h.Release, h.Namespace), nil, nil
	}
	r := newest
	ev := map[string]any{"revision": r.Version, "status": r.Info.Status, "chart": r.Chart.Metadata.Name, "chartVersion": r.Chart.Metadata.Version}
	status := h.Status
	if status == "" {
		status = "deployed"
	}
	switch {
	case r.Info.Status != status:
		return false, fmt.Sprintf("release %s is %s, want %s", h.Release, r.Info.Status, status), ev, nil
	case h.Chart != "" && r.Chart.Metadata.Name != h.Chart:
		return false, fmt.Sprintf("release %s installs chart %s, want %s", h.Release, r.Chart.Metadata.Name, h.Chart), ev, nil
	case h.ChartVersion != "" && r.Chart.Metadata.Version != h.ChartVersion:
		return false, fmt.Sprintf("release %s runs chart version %s, want %s", h.Release, r.Chart.Metadata.Version, h.ChartVersion), ev, nil
	case r.Version < h.MinRevision:
		return false, fmt.Sprintf("release %s is at revision %d, want at least %d", h.Release, r.Version, h.MinRevision), ev, nil
	}
	paths := make([]string, 0, len(h.Values))
	for p := range h.Values {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	config := r.Config
	if config == nil {
		config = map[string]any{}
	}
	for _, p := range paths {
		got, err := evalPath(p, config)
		if err != nil {
			return false, "", ev, err
		}
		if got != h.Values[p] {
			return false, fmt.Sprintf("release %s: value %s is %q, want %q", h.Release, p, got, h.Values[p]), ev, nil
		}
	}
	return true, "", ev, nil
}

// decodeRelease reads Helm's storage format: base64 of gzip of JSON (the
// Secret's own base64 is already undone by the API client).
func decodeRelease(data []byte) (*helmRelease, error) {
	raw, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return nil, err
		}
		if raw, err = io.ReadAll(io.LimitReader(zr, maxReleaseBytes)); err != nil {
			return nil, err
		}
	}
	var r helmRelease
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("not a release record: %w", err)
	}
	return &r, nil
}
