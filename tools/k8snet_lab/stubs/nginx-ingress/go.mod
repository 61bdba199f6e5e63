// The lab's stand-in for F5 NGINX Ingress Controller's /nginx-ingress (see README.md).
module k8snet.lab/standin/nginx-ingress

go 1.25
