#!/bin/sh
# Builds the test VMs' Debian 12 image from Debian's packages.
# Inputs (arguments):
#   $1  output folder (made empty by the caller): base.qcow2, vmlinuz, initrd.img land there
#   $2  the public key the test logs in with (root and the test user)
#   $3  the test user's name (non-root, in the docker group)
#   $4  the commands the test user may run with `sudo -n`, comma-separated (the README's list)
# The package list is packages.txt and the files added are rootfs/, both next to this script.
set -eu
out="$1" client_key="$2" user="$3" sudo_commands="$4"
here=$(cd "$(dirname "$0")" && pwd)
root="$out/root"
packages=$(grep -v '^#' "$here/packages.txt" | paste -sd, -)

mmdebstrap --variant=apt --include="$packages" --aptopt='APT::Install-Recommends "false"' \
    bookworm "$root" http://deb.debian.org/debian

cp -a "$here/rootfs/." "$root/"
# Each VM makes its own identity at first boot: no host keys, an empty machine-id.
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
printf '/dev/vda / ext4 rw,errors=remount-ro 0 1\n' > "$root/etc/fstab"
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n' \
    > "$root/etc/ssh/sshd_config.d/wipp-test.conf"
systemctl --root="$root" enable wipp-test-net.service wipp-test-announce.service
# The image is one host of many: nothing but what Docker and sshd need starts (NFS only when asked).
systemctl --root="$root" disable nfs-server.service 2>/dev/null || true

chroot "$root" useradd --create-home --shell /bin/bash --uid 1001 --groups docker "$user"
for home in "$root/root" "$root/home/$user"; do
    mkdir -p "$home/.ssh"
    cp "$client_key" "$home/.ssh/authorized_keys"
    chmod 700 "$home/.ssh"
    chmod 600 "$home/.ssh/authorized_keys"
done
chroot "$root" chown -R "$user:$user" "/home/$user/.ssh"
paths=""
old_ifs=$IFS
IFS=,
for name in $sudo_commands; do
    path=$(chroot "$root" env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin sh -c "command -v '$name'")
    paths="${paths:+$paths, }$path"
done
IFS=$old_ifs
printf '%s ALL=(root) NOPASSWD: %s\n' "$user" "$paths" > "$root/etc/sudoers.d/wipp-test"
chmod 440 "$root/etc/sudoers.d/wipp-test"
chroot "$root" visudo -c -f /etc/sudoers.d/wipp-test >/dev/null

cp -L "$root/vmlinuz" "$out/vmlinuz"
cp -L "$root/initrd.img" "$out/initrd.img"
chroot "$root" apt-get clean
rm -rf "$root/var/lib/apt/lists/"*
truncate -s 6G "$out/root.raw"
mkfs.ext4 -q -L wipp-root -d "$root" "$out/root.raw"
qemu-img convert -O qcow2 "$out/root.raw" "$out/base.qcow2"
rm -rf "$out/root.raw" "$root"
