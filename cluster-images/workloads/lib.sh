# lib.sh: shared by the workload hooks; $root is the image's root directory.

# upstream_version PACKAGE: the package's version without epoch or Debian revision.
upstream_version() { chroot "$root" dpkg-query -W -f '${Version}' "$1" | sed -e 's/^[0-9]*://' -e 's/-[^-]*$//' -e 's/[+~].*//'; }

# suite: the Debian release the image is built from.
suite() { . "$root/etc/os-release" && echo "$VERSION_CODENAME"; }
