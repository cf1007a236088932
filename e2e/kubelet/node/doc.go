// Package node is pullkeys' real-node suite: the kubelet binary built from k8s.io/kubernetes
// (the version this module pins) runs standalone, with no API server, static pods from a
// manifest directory, containerd's CRI and pullkeys' plugins as its image credential
// providers. Each scenario writes a static pod whose image is private on a loopback registry
// (TLS and htpasswd) and reads the result the way an operator would: the container's log
// (SUCCESS) or the kubelet's own pull-failure lines.
//
// It needs root, containerd, runc and a static busybox (/bin/busybox: Debian's
// busybox-static). Without them it skips with the reason when CI is unset and fails when CI
// is set. Run it with `make node-e2e`; docs/e2e.md says how to run one scenario by hand.
package node
