// Command nginx-ingress is the k8snet lab's stand-in for F5 NGINX Ingress Controller's
// /nginx-ingress: it routes HTTP by Ingress rules and reports the Ingress address, with the
// flags, ports and RBAC of the upstream manifests. See README.md for what it does not do.
package main

import (
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const controllerName = "nginx.org/ingress-controller"

type options struct {
	ingressClass    string
	configMap       string // namespace/name
	reportStatus    bool
	externalService string
	readyPort       int
}

// parseArgs takes the upstream flag syntax (-name=value, -name) and ignores flags this
// stand-in has no use for, so the upstream manifests run unchanged.
func parseArgs(args []string) options {
	o := options{ingressClass: "nginx", readyPort: 8081}
	for _, arg := range args {
		name, value, hasValue := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		value = os.Expand(value, os.Getenv) // the kubelet expands $(VAR); keep ${VAR} working too
		switch name {
		case "ingress-class":
			o.ingressClass = value
		case "nginx-configmaps":
			o.configMap = value
		case "report-ingress-status":
			o.reportStatus = !hasValue || value == "true"
		case "external-service":
			o.externalService = value
		case "ready-status-port":
			if n, err := strconv.Atoi(value); err == nil {
				o.readyPort = n
			}
		default:
			log.Printf("flag %q is not used by the lab stand-in", arg)
		}
	}
	return o
}

// route is one path of one Ingress rule with the endpoints of its backend.
type route struct {
	host, path string
	exact      bool
	ingress    string // namespace/name, for logs
	backends   []string
	next       *atomic.Uint64
}

func (r route) matches(host, path string) bool {
	if r.host != "" && r.host != host {
		return false
	}
	if r.exact {
		return path == r.path
	}
	prefix := strings.TrimSuffix(r.path, "/")
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

type table struct {
	mu     sync.RWMutex
	routes []route
	ready  atomic.Bool
}

func (t *table) pick(host, path string) (route, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	best, found := route{}, false
	for _, r := range t.routes {
		if r.matches(host, path) && (!found || better(r, best)) {
			best, found = r, true
		}
	}
	return best, found
}

// better: a rule with a host wins over a catch-all, then an exact path, then the longer path.
func better(a, b route) bool {
	if (a.host != "") != (b.host != "") {
		return a.host != ""
	}
	if a.exact != b.exact {
		return a.exact
	}
	return len(a.path) > len(b.path)
}

func (t *table) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	host := req.Host
	if h, _, ok := strings.Cut(host, ":"); ok {
		host = h
	}
	r, ok := t.pick(strings.ToLower(host), req.URL.Path)
	if !ok {
		http.Error(w, "404 Not Found (no Ingress rule for this host and path)", http.StatusNotFound)
		return
	}
	if len(r.backends) == 0 {
		http.Error(w, "503 Service Unavailable (no ready endpoint for "+r.ingress+")", http.StatusServiceUnavailable)
		return
	}
	target := r.backends[int(r.next.Add(1)-1)%len(r.backends)]
	proxy := &httputil.ReverseProxy{
		Rewrite: func(p *httputil.ProxyRequest) {
			p.SetURL(&url.URL{Scheme: "http", Host: target})
			p.Out.Host = req.Host
			p.SetXForwarded()
		},
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, "502 Bad Gateway ("+err.Error()+")", http.StatusBadGateway)
		},
	}
	proxy.ServeHTTP(w, req)
}

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	opts := parseArgs(os.Args[1:])
	api, err := inCluster()
	if err != nil {
		log.Fatalf("no API access: %v", err)
	}
	namespace := os.Getenv("POD_NAMESPACE")
	t := &table{}
	go func() {
		mux := http.NewServeMux()
		mux.HandleFunc("/nginx-ready", func(w http.ResponseWriter, _ *http.Request) {
			if !t.ready.Load() {
				http.Error(w, "not synced yet", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write([]byte("Ready\n"))
		})
		log.Fatal(http.ListenAndServe(":"+strconv.Itoa(opts.readyPort), mux))
	}()
	go func() {
		log.Fatal(http.ListenAndServe(":80", t))
	}()
	log.Printf("lab stand-in for nginx/nginx-ingress: class %q, readiness on :%d, HTTP on :80",
		opts.ingressClass, opts.readyPort)
	s := &syncer{api: api, opts: opts, namespace: namespace, counters: map[string]*atomic.Uint64{}}
	for {
		if err := s.sync(t); err != nil {
			log.Printf("sync: %v", err)
		} else if !t.ready.Swap(true) {
			log.Printf("first sync done")
		}
		time.Sleep(time.Second)
	}
}
