#!/bin/sh
# httpd.sh ROOT: Debian's Apache httpd set up like the official image:
# serves /usr/local/apache2/htdocs on port 80, logs to stdout and stderr.
set -eu
root=$1
. "$(dirname "$0")/lib.sh"
v=$(upstream_version apache2)
mkdir -p "$root/usr/local/apache2/htdocs"
printf '<html><body><h1>It works!</h1><p>Apache/%s, Debian %s'"'"'s package, in a ckalab image.</p></body></html>\n' \
  "$v" "$(suite)" >"$root/usr/local/apache2/htdocs/index.html"
sed -i 's#/var/www/html#/usr/local/apache2/htdocs#' "$root/etc/apache2/sites-available/000-default.conf"
cat >>"$root/etc/apache2/apache2.conf" <<'CONF'

ServerName localhost
<Directory /usr/local/apache2/htdocs/>
	Options Indexes FollowSymLinks
	AllowOverride None
	Require all granted
</Directory>
CONF
for f in access.log other_vhosts_access.log; do ln -sf /dev/stdout "$root/var/log/apache2/$f"; done
ln -sf /dev/stderr "$root/var/log/apache2/error.log"
echo "$v" >"$root/etc/ckalab-version"
