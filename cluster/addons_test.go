package cluster

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// testAddons proves what labs run in a cluster with no internet: images
// pulled by their plain names from the cluster's registry, rollouts
// between two honest nginx tags, ImagePullBackOff on a typo, pushes that
// stay in the cluster, `kubectl top`, and Ingress and HTTPRoute through
// Traefik, requested from a node shell.
func testAddons(h *harness, created time.Time) {
	registry := fmt.Sprintf("%s:%d", h.cp, RegistryPort)
	tags := func(repo string) []string {
		var list struct{ Tags []string }
		out := h.sh(h.wk, "curl -fsS http://"+registry+"/v2/"+repo+"/tags/list")
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			h.t.Fatalf("tags of %s: %v: %s", repo, err, out)
		}
		return list.Tags
	}
	full := regexp.MustCompile(`^\d+\.\d+\.\d+$`)
	var nginx []string
	for _, t := range tags("library/nginx") {
		if full.MatchString(t) {
			nginx = append(nginx, t)
		}
	}
	sort.Strings(nginx)
	if len(nginx) != 2 || nginx[0] == nginx[1] {
		h.t.Fatalf("want two nginx versions in the registry, got %v", tags("library/nginx"))
	}
	older, newer := nginx[0], nginx[1]
	h.t.Logf("nginx tags %s and %s", older, newer)

	// By plain name; :latest means imagePullPolicy Always, so these are real pulls.
	h.mustKubectl("", "run", "bb", "--image=busybox", "--", "sleep", "3600")
	h.mustKubectl("", "run", "web", "--image=nginx", "--port=80")
	h.mustKubectl("", "run", "nt", "--image=ckalab/nettools", "--", "sleep", "3600")
	h.mustKubectl("", "run", "httpd", "--image=httpd", "--port=80")
	h.mustKubectl("", "run", "typo", "--image=ngnix:1.22")
	h.mustKubectl("", "wait", "--for=condition=Ready", "pod/bb", "pod/web", "pod/nt", "pod/httpd", "--timeout=180s")
	httpdIP := h.mustKubectl("", "get", "pod", "httpd", "-o", "jsonpath={.status.podIP}")
	if out := h.mustKubectl("", "exec", "nt", "--", "curl", "-fsS", "-m", "5", "http://"+httpdIP+"/"); !strings.Contains(out, "It works!") {
		h.t.Fatalf("httpd page: %q", out)
	}
	if out := h.mustKubectl("", "exec", "nt", "--", "dig", "+short", "kubernetes.default.svc.cluster.local"); out == "" {
		h.t.Fatal("dig in nettools found no address")
	}
	h.eventually("a misspelled image fails to pull", 3*time.Minute, func() error {
		why := h.mustKubectl("", "get", "pod", "typo", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
		if why != "ImagePullBackOff" && why != "ErrImagePull" {
			return fmt.Errorf("waiting reason %q", why)
		}
		return nil
	})

	// A rollout to the newer tag and back; each version says which it is.
	page := func(want string) {
		h.t.Helper()
		h.eventually("shop serves nginx/"+want, 60*time.Second, func() error {
			ip := h.mustKubectl("", "get", "svc", "shop", "-o", "jsonpath={.spec.clusterIP}")
			out, err := h.m.Exec(h.ctx, h.name, h.cp, nil, "curl", "-fsSi", "-m", "5", "http://"+ip+"/")
			if err != nil {
				return err
			}
			if !strings.Contains(string(out), "Server: nginx/"+want) || !strings.Contains(string(out), "nginx/"+want+",") {
				return fmt.Errorf("page: %s", out)
			}
			return nil
		})
	}
	h.mustKubectl("", "create", "deployment", "shop", "--image=nginx:"+older, "--replicas=2", "--port=80")
	h.mustKubectl("", "expose", "deployment", "shop", "--port=80")
	h.mustKubectl("", "rollout", "status", "deployment/shop", "--timeout=180s")
	page(older)
	h.mustKubectl("", "set", "image", "deployment/shop", "nginx=nginx:"+newer)
	h.mustKubectl("", "rollout", "status", "deployment/shop", "--timeout=180s")
	page(newer)
	h.mustKubectl("", "rollout", "undo", "deployment/shop")
	h.mustKubectl("", "rollout", "status", "deployment/shop", "--timeout=180s")
	page(older)

	// Pushes: to this cluster's registry, and pulled back by a pod; deletes are refused.
	h.sh(h.cp, fmt.Sprintf(`set -e
ctr -n k8s.io images tag docker.io/library/busybox:1.35 %[1]s/team/tool:1 >/dev/null
ctr -n k8s.io images push --plain-http %[1]s/team/tool:1 >/dev/null`, registry))
	h.mustKubectl("", "run", "tool", "--image="+registry+"/team/tool:1", "--overrides", `{"spec":{"nodeName":"`+h.wk+`"}}`, "--", "sleep", "3600")
	h.mustKubectl("", "wait", "--for=condition=Ready", "pod/tool", "--timeout=120s")
	digest := h.sh(h.wk, `curl -fsSI -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' http://`+registry+`/v2/library/busybox/manifests/latest | tr -d '\r' | sed -n 's/^Docker-Content-Digest: //Ip'`)
	if code := h.sh(h.wk, `curl -s -o /dev/null -w '%{http_code}' -X DELETE http://`+registry+`/v2/library/busybox/manifests/`+digest); code != "405" {
		h.t.Fatalf("deleting from the registry answered %s, want 405", code)
	}

	// kubectl top, within a few minutes of the cluster's start.
	if !strings.Contains(h.sh(h.cp, "cat /etc/kubernetes/manifests/kube-apiserver.yaml"), "--enable-aggregator-routing=true") {
		h.t.Fatal("the API server runs without --enable-aggregator-routing")
	}
	h.eventually("kubectl top nodes", 4*time.Minute, func() error {
		out, err := h.kubectl("", "top", "nodes")
		if err != nil || !strings.Contains(out, h.wk) {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	h.t.Logf("BENCH kubectl top answers %s after the cluster was created", time.Since(created).Round(time.Second))

	// Traefik: an Ingress and an HTTPRoute, requested from a node shell.
	h.mustKubectl("", "apply", "--server-side", "-f", "/etc/ckalab/addons/gateway-api-crds.yaml")
	h.mustKubectl("", "wait", "--for=condition=Established", "crd/gateways.gateway.networking.k8s.io", "crd/httproutes.gateway.networking.k8s.io", "--timeout=60s")
	h.mustKubectl("", "apply", "-f", "/etc/ckalab/addons/traefik.yaml")
	h.mustKubectl("", "-n", "traefik", "rollout", "status", "deployment/traefik", "--timeout=180s")
	h.mustKubectl("", "create", "deployment", "app", "--image=ckalab/app:1.0", "--port=8080")
	h.mustKubectl("", "expose", "deployment", "app", "--port=80", "--target-port=8080")
	h.mustKubectl("", "create", "ingress", "app", "--rule=app.example/*=app:80")
	h.mustKubectl(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: default}
spec:
  gatewayClassName: traefik
  listeners: [{name: http, protocol: HTTP, port: 80}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop, namespace: default}
spec:
  parentRefs: [{name: web}]
  hostnames: [shop.example]
  rules: [{backendRefs: [{name: shop, port: 80}]}]
`, "apply", "-f", "-")
	get := func(host, want string) {
		h.t.Helper()
		h.eventually(host+" through Traefik", 2*time.Minute, func() error {
			out, err := h.m.Exec(h.ctx, h.name, h.cp, nil, "curl", "-fsS", "-m", "5", "-H", "Host: "+host, "http://"+h.wk+":30080/")
			if err != nil || !strings.Contains(string(out), want) {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	}
	get("app.example", "ckalab app 1.0")
	get("shop.example", "Welcome to nginx!")
	if out := h.mustKubectl("", "get", "httproute", "shop", "-o", "jsonpath={.status.parents[0].conditions[?(@.type=='Accepted')].status}"); out != "True" {
		h.t.Fatalf("HTTPRoute not Accepted: %q", out)
	}
	h.mustKubectl("", "delete", "namespace", "traefik", "--wait=false")
	h.mustKubectl("", "delete", "pod", "bb", "web", "nt", "httpd", "typo", "tool", "--wait=false")
	h.mustKubectl("", "delete", "deployment", "shop", "app", "--wait=false")
}
