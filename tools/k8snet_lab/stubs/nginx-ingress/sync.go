package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const serviceAccount = "/var/run/secrets/kubernetes.io/serviceaccount/"

// client is the API server as the pod's ServiceAccount sees it (the token is re-read: it rotates).
type client struct {
	base string
	http *http.Client
}

func inCluster() (*client, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("KUBERNETES_SERVICE_HOST/PORT are not set")
	}
	ca, err := os.ReadFile(serviceAccount + "ca.crt")
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return &client{base: "https://" + net.JoinHostPort(host, port),
		http: &http.Client{Transport: transport, Timeout: 10 * time.Second}}, nil
}

func (c *client) do(method, path string, body, out any) error {
	token, err := os.ReadFile(serviceAccount + "token")
	if err != nil {
		return err
	}
	var payload io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		payload = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, c.base+path, payload)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == http.StatusNotFound && method == http.MethodGet {
		return errNotFound
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

var errNotFound = fmt.Errorf("not found")

// The few fields of each kind the stand-in reads.
type meta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	Labels          map[string]string `json:"labels,omitempty"`
	ResourceVersion string            `json:"resourceVersion,omitempty"`
}

type serviceBackend struct {
	Name string `json:"name"`
	Port struct {
		Name   string `json:"name"`
		Number int    `json:"number"`
	} `json:"port"`
}

type backend struct {
	Service *serviceBackend `json:"service"`
}

type lbIngress struct {
	IP       string `json:"ip,omitempty"`
	Hostname string `json:"hostname,omitempty"`
}

type ingress struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		IngressClassName *string  `json:"ingressClassName"`
		DefaultBackend   *backend `json:"defaultBackend"`
		Rules            []struct {
			Host string `json:"host"`
			HTTP *struct {
				Paths []struct {
					Path     string  `json:"path"`
					PathType string  `json:"pathType"`
					Backend  backend `json:"backend"`
				} `json:"paths"`
			} `json:"http"`
		} `json:"rules"`
	} `json:"spec"`
	raw map[string]any
}

type service struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		Ports []struct {
			Name string `json:"name"`
			Port int    `json:"port"`
		} `json:"ports"`
	} `json:"spec"`
	Status struct {
		LoadBalancer struct {
			Ingress []lbIngress `json:"ingress"`
		} `json:"loadBalancer"`
	} `json:"status"`
}

type endpointSlice struct {
	Metadata  meta `json:"metadata"`
	Endpoints []struct {
		Addresses  []string `json:"addresses"`
		Conditions struct {
			Ready *bool `json:"ready"`
		} `json:"conditions"`
	} `json:"endpoints"`
	Ports []struct {
		Name *string `json:"name"`
		Port *int    `json:"port"`
	} `json:"ports"`
}

type syncer struct {
	api       *client
	opts      options
	namespace string
	counters  map[string]*atomic.Uint64 // round-robin position per route, kept across syncs
	last      string
}

func (s *syncer) sync(t *table) error {
	var rawIngresses struct{ Items []map[string]any }
	if err := s.api.do(http.MethodGet, "/apis/networking.k8s.io/v1/ingresses", nil, &rawIngresses); err != nil {
		return err
	}
	var class struct {
		Metadata meta `json:"metadata"`
		Spec     struct {
			Controller string `json:"controller"`
		} `json:"spec"`
	}
	err := s.api.do(http.MethodGet, "/apis/networking.k8s.io/v1/ingressclasses/"+s.opts.ingressClass, nil, &class)
	if err != nil && err != errNotFound {
		return err
	}
	if err == nil && class.Spec.Controller != controllerName {
		return fmt.Errorf("IngressClass %s names controller %q, not %s", s.opts.ingressClass,
			class.Spec.Controller, controllerName)
	}
	isDefault := class.Metadata.Annotations["ingressclass.kubernetes.io/is-default-class"] == "true"
	var services struct{ Items []service }
	if err := s.api.do(http.MethodGet, "/api/v1/services", nil, &services); err != nil {
		return err
	}
	var slices struct{ Items []endpointSlice }
	if err := s.api.do(http.MethodGet, "/apis/discovery.k8s.io/v1/endpointslices", nil, &slices); err != nil {
		return err
	}
	ours := []ingress{}
	for _, raw := range rawIngresses.Items {
		var ing ingress
		data, _ := json.Marshal(raw)
		if err := json.Unmarshal(data, &ing); err != nil {
			return err
		}
		ing.raw = raw
		name := ing.Spec.IngressClassName
		if (name != nil && *name == s.opts.ingressClass) || (name == nil && isDefault) {
			ours = append(ours, ing)
		}
	}
	routes := s.routes(ours, services.Items, slices.Items)
	t.mu.Lock()
	t.routes = routes
	t.mu.Unlock()
	if summary := describe(routes); summary != s.last {
		log.Printf("routes: %s", summary)
		s.last = summary
	}
	if s.opts.reportStatus {
		return s.report(ours, services.Items)
	}
	return nil
}

func (s *syncer) routes(ours []ingress, services []service, slices []endpointSlice) []route {
	routes := []route{}
	add := func(ing ingress, host, path string, exact bool, b backend) {
		if b.Service == nil {
			return
		}
		key := fmt.Sprintf("%s/%s|%s|%s|%v", ing.Metadata.Namespace, ing.Metadata.Name, host, path, exact)
		if s.counters[key] == nil {
			s.counters[key] = &atomic.Uint64{}
		}
		routes = append(routes, route{
			host: strings.ToLower(host), path: path, exact: exact,
			ingress:  ing.Metadata.Namespace + "/" + ing.Metadata.Name,
			backends: endpoints(ing.Metadata.Namespace, *b.Service, services, slices),
			next:     s.counters[key],
		})
	}
	for _, ing := range ours {
		if ing.Spec.DefaultBackend != nil {
			add(ing, "", "/", false, *ing.Spec.DefaultBackend)
		}
		for _, rule := range ing.Spec.Rules {
			if rule.HTTP == nil {
				continue
			}
			for _, p := range rule.HTTP.Paths {
				path := p.Path
				if path == "" {
					path = "/"
				}
				add(ing, rule.Host, path, p.PathType == "Exact", p.Backend)
			}
		}
	}
	return routes
}

// endpoints: ready address:port of the Service port the backend names (by number or name).
func endpoints(namespace string, b serviceBackend, services []service, slices []endpointSlice) []string {
	portName, found := "", false
	for _, svc := range services {
		if svc.Metadata.Namespace != namespace || svc.Metadata.Name != b.Name {
			continue
		}
		for _, p := range svc.Spec.Ports {
			if (b.Port.Name != "" && p.Name == b.Port.Name) || (b.Port.Name == "" && p.Port == b.Port.Number) {
				portName, found = p.Name, true
			}
		}
	}
	if !found {
		return nil
	}
	out := []string{}
	for _, sl := range slices {
		if sl.Metadata.Namespace != namespace || sl.Metadata.Labels["kubernetes.io/service-name"] != b.Name {
			continue
		}
		for _, p := range sl.Ports {
			if p.Port == nil || (p.Name != nil && *p.Name != portName) || (p.Name == nil && portName != "") {
				continue
			}
			for _, ep := range sl.Endpoints {
				if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
					continue
				}
				for _, addr := range ep.Addresses {
					out = append(out, net.JoinHostPort(addr, strconv.Itoa(*p.Port)))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

func describe(routes []route) string {
	parts := []string{}
	for _, r := range routes {
		parts = append(parts, fmt.Sprintf("%s%s -> %v", r.host, r.path, r.backends))
	}
	return strings.Join(parts, "; ")
}

// report writes the address clients reach the controller at into each Ingress's status:
// the ConfigMap's external-status-address first (upstream: it overrides -external-service).
func (s *syncer) report(ours []ingress, services []service) error {
	addresses := []lbIngress{}
	if ns, name, ok := strings.Cut(s.opts.configMap, "/"); ok {
		var cm struct {
			Data map[string]string `json:"data"`
		}
		err := s.api.do(http.MethodGet, "/api/v1/namespaces/"+ns+"/configmaps/"+name, nil, &cm)
		if err != nil && err != errNotFound {
			return err
		}
		for _, a := range strings.Split(cm.Data["external-status-address"], ",") {
			if a = strings.TrimSpace(a); a != "" {
				addresses = append(addresses, lbIngress{IP: a})
			}
		}
	}
	if len(addresses) == 0 && s.opts.externalService != "" {
		for _, svc := range services {
			if svc.Metadata.Namespace == s.namespace && svc.Metadata.Name == s.opts.externalService {
				addresses = append(addresses, svc.Status.LoadBalancer.Ingress...)
			}
		}
	}
	want := []any{} // as JSON decodes it, so that it compares with what the Ingress holds
	for _, a := range addresses {
		entry := map[string]any{}
		if a.IP != "" {
			entry["ip"] = a.IP
		}
		if a.Hostname != "" {
			entry["hostname"] = a.Hostname
		}
		want = append(want, entry)
	}
	for _, ing := range ours {
		status, _ := ing.raw["status"].(map[string]any)
		lb, _ := status["loadBalancer"].(map[string]any)
		have, _ := lb["ingress"].([]any)
		if have == nil {
			have = []any{}
		}
		if reflect.DeepEqual(have, want) {
			continue
		}
		ing.raw["status"] = map[string]any{"loadBalancer": map[string]any{"ingress": want}}
		path := fmt.Sprintf("/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s/status",
			ing.Metadata.Namespace, ing.Metadata.Name)
		if err := s.api.do(http.MethodPut, path, ing.raw, nil); err != nil {
			return err
		}
		log.Printf("status of %s/%s: %v", ing.Metadata.Namespace, ing.Metadata.Name, want)
	}
	return nil
}
