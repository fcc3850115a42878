package grader

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"

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
	r.Name, r.Namespace, r.Selector, r.FieldSelector = c.expand(r.Name), c.expand(r.Namespace), c.expand(r.Selector), c.expand(r.FieldSelector)
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
