package labs

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// CurriculumVersion is the CKA curriculum the competencies below follow.
const CurriculumVersion = "CKA curriculum v1.34/v1.35"

// CurriculumDomain is one domain of the exam: its key in Domains, its
// weight in the exam and its competencies, worded as the official
// curriculum words them.
type CurriculumDomain struct {
	Key          string
	Weight       int // percent of the exam
	Competencies []Competency
}

// Competency is one line of the curriculum. ID is what a lab lists under
// competencies: in lab.yaml; it is stable, the text may follow the
// curriculum's wording.
type Competency struct {
	ID   string
	Text string
}

// Curriculum is the CKA curriculum, heaviest domain first. The exam gives
// no weight to a single competency: each one weighs its domain's weight
// divided by the number of competencies in the domain (CompetencyWeight),
// and that is what coverage adds up.
var Curriculum = []CurriculumDomain{
	{Key: "troubleshooting", Weight: 30, Competencies: []Competency{
		{"troubleshoot-nodes", "Troubleshoot clusters and nodes"},
		{"troubleshoot-components", "Troubleshoot cluster components"},
		{"resource-monitoring", "Monitor cluster and application resource usage"},
		{"container-logs", "Manage and evaluate container output streams"},
		{"troubleshoot-networking", "Troubleshoot services and networking"},
	}},
	{Key: "cluster-architecture", Weight: 25, Competencies: []Competency{
		{"rbac", "Manage role based access control (RBAC)"},
		{"cluster-infrastructure", "Prepare underlying infrastructure for installing a Kubernetes cluster"},
		{"kubeadm-clusters", "Create and manage Kubernetes clusters using kubeadm"},
		{"cluster-lifecycle", "Manage the lifecycle of Kubernetes clusters"},
		{"ha-control-plane", "Implement and configure a highly-available control plane"},
		{"helm-kustomize", "Use Helm and Kustomize to install cluster components"},
		{"extension-interfaces", "Understand extension interfaces (CNI, CSI, CRI, etc.)"},
		{"crds-operators", "Understand CRDs, install and configure operators"},
	}},
	{Key: "services-networking", Weight: 20, Competencies: []Competency{
		{"pod-connectivity", "Understand connectivity between Pods"},
		{"network-policies", "Define and enforce Network Policies"},
		{"services", "Use ClusterIP, NodePort, LoadBalancer service types and endpoints"},
		{"gateway-api", "Use the Gateway API to manage Ingress traffic"},
		{"ingress", "Know how to use Ingress controllers and Ingress resources"},
		{"coredns", "Understand and use CoreDNS"},
	}},
	{Key: "workloads-scheduling", Weight: 15, Competencies: []Competency{
		{"rollouts", "Understand application deployments and how to perform rolling update and rollbacks"},
		{"configmaps-secrets", "Use ConfigMaps and Secrets to configure applications"},
		{"autoscaling", "Configure workload autoscaling"},
		{"self-healing", "Understand the primitives used to create robust, self-healing, application deployments"},
		{"pod-admission-scheduling", "Configure Pod admission and scheduling (limits, node affinity, etc.)"},
	}},
	{Key: "storage", Weight: 10, Competencies: []Competency{
		{"storage-classes", "Implement storage classes and dynamic volume provisioning"},
		{"volume-types", "Configure volume types, access modes and reclaim policies"},
		{"persistent-volumes", "Manage persistent volumes and persistent volume claims"},
	}},
}

// competencyDomain maps a competency id to its domain.
var competencyDomain = func() map[string]*CurriculumDomain {
	m := map[string]*CurriculumDomain{}
	for i := range Curriculum {
		for _, c := range Curriculum[i].Competencies {
			m[c.ID] = &Curriculum[i]
		}
	}
	return m
}()

// CompetencyWeight is a competency's share of the exam in percent: its
// domain's weight divided by the number of competencies in the domain.
// Zero for an unknown id.
func CompetencyWeight(id string) float64 {
	d, ok := competencyDomain[id]
	if !ok {
		return 0
	}
	return float64(d.Weight) / float64(len(d.Competencies))
}

// competencyIDs lists every competency id, sorted, for messages.
func competencyIDs() string {
	ids := make([]string, 0, len(competencyDomain))
	for id := range competencyDomain {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// Trainers maps each competency id to the ids of the labs that list it,
// sorted.
func Trainers(all []*Lab) map[string][]string {
	out := map[string][]string{}
	for _, l := range all {
		for _, c := range l.Competencies {
			out[c] = append(out[c], l.ID)
		}
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

// Coverage is the share of the exam, in percent, that the labs train: the
// sum of the weights of the competencies at least one of them lists.
func Coverage(all []*Lab) float64 {
	total := 0.0
	for id := range Trainers(all) {
		total += CompetencyWeight(id)
	}
	return total
}

// CoverageLine says the labs' weighted coverage, in whole percent rounded
// down (89.9 % has not reached 90 %).
func CoverageLine(all []*Lab) string {
	return fmt.Sprintf("Weighted coverage: %d %%", int(math.Floor(Coverage(all)+1e-9)))
}

// CurriculumMarkdown renders docs/curriculum.md: every competency with its
// weight and the labs that train it, then the weighted coverage.
func CurriculumMarkdown(all []*Lab) []byte {
	var b strings.Builder
	trainers := Trainers(all)
	b.WriteString("# The CKA curriculum and the labs that train it\n\n")
	b.WriteString("<!-- Generated from labs/curriculum.go and the labs' lab.yaml by TestCurriculumDocIsCurrent:\n")
	b.WriteString("     CKALAB_UPDATE_DOCS=1 go test ./labs/ -run TestCurriculumDocIsCurrent -->\n\n")
	fmt.Fprintf(&b, "Every competency of the %s, worded as the curriculum words it,\n", CurriculumVersion)
	b.WriteString("with the labs that train it. A lab lists the competencies it makes the student practise under\n")
	b.WriteString("`competencies:` in its `lab.yaml`, by the ids below; `ckalab labs validate` refuses an id that is\n")
	b.WriteString("not here.\n\n")
	b.WriteString("The exam weighs domains, not competencies: a competency weighs its domain's weight divided by the\n")
	b.WriteString("number of competencies in the domain. The weighted coverage adds up the weights of the\n")
	b.WriteString("competencies that at least one lab trains.\n")
	for _, d := range Curriculum {
		fmt.Fprintf(&b, "\n## %s (%d %%)\n\n", Domains[d.Key], d.Weight)
		b.WriteString("| competency | id | weight | labs |\n| --- | --- | --- | --- |\n")
		for _, c := range d.Competencies {
			labs := "—"
			if ids := trainers[c.ID]; len(ids) > 0 {
				labs = strings.Join(ids, ", ")
			}
			fmt.Fprintf(&b, "| %s | `%s` | %s %% | %s |\n", c.Text, c.ID, percent(CompetencyWeight(c.ID)), labs)
		}
	}
	fmt.Fprintf(&b, "\n%s\n\nLabs: %d\n", CoverageLine(all), len(all))
	return []byte(b.String())
}

// percent writes a weight with at most three decimals: 6, 3.125, 3.333.
func percent(w float64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", w), "0"), ".")
}
