#!/bin/sh
# nginx.sh ROOT: Debian's nginx set up like the official image: serves
# /usr/share/nginx/html on port 80 and logs to stdout and stderr. Its page
# and Server header name the version, so two tags tell themselves apart.
set -eu
root=$1
. "$(dirname "$0")/lib.sh"
v=$(upstream_version nginx)
mkdir -p "$root/usr/share/nginx/html"
cat >"$root/usr/share/nginx/html/index.html" <<HTML
<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>nginx/$v, Debian $(suite)'s package, in a ckalab image.</p>
</body>
</html>
HTML
cat >"$root/etc/nginx/sites-available/default" <<'CONF'
server {
    listen 80 default_server;
    server_name _;
    server_tokens on;
    root /usr/share/nginx/html;
    index index.html index.htm;
    location / {
        try_files $uri $uri/ =404;
    }
}
CONF
ln -sf /dev/stdout "$root/var/log/nginx/access.log"
ln -sf /dev/stderr "$root/var/log/nginx/error.log"
echo "$v" >"$root/etc/ckalab-version"
