package grader

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/jsonpath"

	"github.com/ckalab/ckalab/labs"
)

// expand replaces ${control-plane}, ${worker} … with node names.
func (c *cluster) expand(s string) string {
	for k, v := range c.t.Nodes {
		s = strings.ReplaceAll(s, "${"+k+"}", v)
	}
	return s
}

func (c *cluster) resource(ctx context.Context, rc *labs.ResourceCheck) (bool, string, any, error) {
	r := *rc
	r.Name, r.Selector, r.FieldSelector = c.expand(r.Name), c.expand(r.Selector), c.expand(r.FieldSelector)
	if r.Equals != nil {
		eq := c.expand(*r.Equals)
		r.Equals = &eq
	}
	gv, err := schema.ParseGroupVersion(r.APIVersion)
	if err != nil {
		return false, "", nil, err
	}
	mapping, err := c.mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: r.Kind}, gv.Version)
	if err != nil {
		return false, "", nil, fmt.Errorf("the cluster does not serve %s %s: %w", r.APIVersion, r.Kind, err)
	}
	ri := c.dyn.Resource(mapping.Resource)
	var client interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
		List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error)
	} = ri
	if r.Namespace != "" {
		client = ri.Namespace(r.Namespace)
	}
	where := r.Kind
	if r.Namespace != "" {
		where += " in namespace " + r.Namespace
	}
	var objs []unstructured.Unstructured
	if r.Name != "" {
		obj, err := client.Get(ctx, r.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if r.Exists != nil && !*r.Exists {
				return true, "", map[string]any{"found": false}, nil
			}
			return false, fmt.Sprintf("%s %q not found", where, r.Name), map[string]any{"found": false}, nil
		}
		if err != nil {
			return false, "", nil, err
		}
		objs = []unstructured.Unstructured{*obj}
		where = fmt.Sprintf("%s %q", r.Kind, r.Name)
	} else {
		list, err := client.List(ctx, metav1.ListOptions{LabelSelector: r.Selector, FieldSelector: r.FieldSelector})
		if err != nil {
			return false, "", nil, err
		}
		objs = list.Items
		if r.Selector != "" {
			where += " with labels " + r.Selector
		}
		if r.FieldSelector != "" {
			where += " with " + r.FieldSelector
		}
	}
	names := make([]string, len(objs))
	for i, o := range objs {
		names[i] = o.GetName()
	}
	ev := map[string]any{"found": names}
	if r.Exists != nil {
		if *r.Exists != (len(objs) > 0) {
			if *r.Exists {
				return false, fmt.Sprintf("no %s found", where), ev, nil
			}
			return false, fmt.Sprintf("%s still exists: %s", where, strings.Join(names, ", ")), ev, nil
		}
	}
	if r.Count != nil && len(objs) != *r.Count {
		return false, fmt.Sprintf("found %d %s, want %d", len(objs), where, *r.Count), ev, nil
	}
	if len(objs) == 0 && (r.JSONPath != "" || r.Condition != "") {
		return false, fmt.Sprintf("no %s found", where), ev, nil
	}
	for _, o := range objs {
		if r.JSONPath != "" {
			got, err := evalPath(r.JSONPath, o.Object)
			if err != nil {
				return false, "", ev, err
			}
			ev["value"] = got
			if r.Equals != nil && got != *r.Equals {
				return false, fmt.Sprintf("%s: %s is %q, want %q", o.GetName(), r.JSONPath, got, *r.Equals), ev, nil
			}
			if r.Matches != "" && !regexp.MustCompile(r.Matches).MatchString(got) {
				return false, fmt.Sprintf("%s: %s is %q, which does not match %s", o.GetName(), r.JSONPath, got, r.Matches), ev, nil
			}
		}
		if r.Condition != "" {
			status, err := evalPath(fmt.Sprintf(`{.status.conditions[?(@.type=="%s")].status}`, r.Condition), o.Object)
			if err != nil {
				return false, "", ev, err
			}
			ev["condition"] = status
			if status != "True" {
				return false, fmt.Sprintf("%s is not %s (condition %s=%q)", o.GetName(), r.Condition, r.Condition, status), ev, nil
			}
		}
	}
	return true, "", ev, nil
}

// evalPath evaluates a kubectl-style JSONPath; a missing field is "".
func evalPath(path string, obj map[string]any) (string, error) {
	jp := jsonpath.New("check").AllowMissingKeys(true)
	if err := jp.Parse(path); err != nil {
		return "", fmt.Errorf("jsonPath %s: %w", path, err)
	}
	var buf bytes.Buffer
	if err := jp.Execute(&buf, obj); err != nil {
		return "", fmt.Errorf("jsonPath %s: %w", path, err)
	}
	return buf.String(), nil
}

func (c *cluster) access(ctx context.Context, a *labs.AccessCheck) (bool, string, any, error) {
	spec := authv1.SubjectAccessReviewSpec{}
	who := ""
	switch {
	case a.User != "":
		spec.User, who = a.User, "user "+a.User
	case a.Group != "":
		spec.Groups, who = []string{a.Group}, "group "+a.Group
	default:
		ns, name, _ := strings.Cut(a.ServiceAccount, "/")
		spec.User = "system:serviceaccount:" + ns + ":" + name
		spec.Groups = []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"}
		who = "ServiceAccount " + a.ServiceAccount
	}
	where := ""
	if a.Namespace != "" {
		where = " in namespace " + a.Namespace
	}
	var wrong []string
	ev := map[string]any{}
	for _, pair := range a.Pairs() {
		resource, group, _ := strings.Cut(pair[1], ".")
		review := &authv1.SubjectAccessReview{Spec: spec}
		review.Spec.ResourceAttributes = &authv1.ResourceAttributes{
			Namespace: a.Namespace, Verb: pair[0], Group: group, Resource: resource, Subresource: a.Subresource,
		}
		sar, err := c.core.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
		if err != nil {
			return false, "", nil, err
		}
		ev[pair[0]+" "+pair[1]] = sar.Status.Allowed
		if sar.Status.Allowed != a.Allowed {
			wrong = append(wrong, pair[0]+" "+pair[1])
		}
	}
	switch {
	case len(wrong) == 0:
		return true, "", ev, nil
	case a.Allowed:
		return false, fmt.Sprintf("%s cannot %s%s yet", who, strings.Join(wrong, ", "), where), ev, nil
	default:
		return false, fmt.Sprintf("%s can %s%s, and should not", who, strings.Join(wrong, ", "), where), ev, nil
	}
}

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
		want = c.t.Nodes[n.Node]
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

// nodeCommand runs the command in the node container and reads its exit
// status from a marker (docker exec's own error hides it).
func (c *cluster) nodeCommand(ctx context.Context, n *labs.NodeCommandCheck) (bool, string, any, error) {
	node := c.t.Nodes[n.Node]
	args := append([]string{"/bin/sh", "-c", `"$@"; echo "ckalab-exit=$?"`, "sh"}, n.Command...)
	out, err := c.t.Exec(ctx, node, nil, args...)
	text := string(out)
	i := strings.LastIndex(text, "ckalab-exit=")
	if i < 0 {
		return false, "", nil, fmt.Errorf("running %s on %s: %v", n.Command[0], n.Node, err)
	}
	code, _ := strconv.Atoi(strings.TrimSpace(text[i+len("ckalab-exit="):]))
	output := text[:i]
	ev := map[string]any{"exitCode": code, "output": tailString(output, 2000)}
	if code != n.ExitCode {
		return false, fmt.Sprintf("%s exited with %d, want %d", strings.Join(n.Command, " "), code, n.ExitCode), ev, nil
	}
	if n.OutputMatches != "" && !regexp.MustCompile(n.OutputMatches).MatchString(output) {
		return false, fmt.Sprintf("the output of %s does not match %s", strings.Join(n.Command, " "), n.OutputMatches), ev, nil
	}
	return true, "", ev, nil
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
