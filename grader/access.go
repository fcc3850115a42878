package grader

import (
	"context"
	"fmt"
	"strings"

	authv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ckalab/ckalab/labs"
)

func (c *cluster) access(ctx context.Context, a *labs.AccessCheck) (bool, string, any, error) {
	spec := authv1.SubjectAccessReviewSpec{}
	who := ""
	switch {
	// A real request always carries system:authenticated: what is bound
	// to it is granted to every user.
	case a.User != "":
		spec.User, spec.Groups, who = a.User, []string{"system:authenticated"}, "user "+a.User
	case a.Group != "":
		spec.Groups, who = []string{a.Group, "system:authenticated"}, "group "+a.Group
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
