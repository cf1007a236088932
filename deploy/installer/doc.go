// Package installer copies the pullkeys binaries, a kubelet CredentialProviderConfig and
// optionally a docker pull secret into host directories, for clusters whose node software is
// installed by a DaemonSet (deploy/daemonset). The cmd/pullkeys-installer command is [Main];
// node-image builders can run the same command in their image build.
//
// # What it does
//
// [Install] runs in this order and stops at the first error:
//
//  1. It reads and checks everything it is given before it writes anything. The configs are
//     decoded and validated with the kubelet's own rules (kubelet: strict decoding,
//     unique names, matchImages that parse, a defaultCacheDuration…) and every provider a
//     config names must be among the binaries being installed or already in the bin dir. A pull
//     secret must parse as a docker config. The kubelet refuses to start with a bad config or a
//     missing binary, and a broken kubelet cannot run the pod that would fix it, so a mistake
//     here must never reach the node.
//  2. It installs the binaries into the bin dir, mode 0755, one file per plugin. What releases
//     that shipped two files per plugin left behind is removed and reported: a <name>-full
//     beside an installed binary, and the answers directory in the plugins' cache directory
//     (Options.CacheDir, when given).
//  3. It checks the configs again against the bin dir as it now is, exactly as the kubelet does
//     at start-up (exec.LookPath of <bin-dir>/<name>).
//  4. It installs the configs into the config dir (mode 0644 by default) under their base
//     names, and then the pull secret's .dockerconfigjson and .dockercfg into the pull secret
//     dir, mode 0600 (the directory itself 0700). A key that the Secret no longer has is
//     removed from the pull secret dir.
//
// Binaries go before configs, so the kubelet never finds a config that names a binary not yet
// there.
//
// # Atomic and idempotent
//
// Each file is written to a temporary file in the target directory, synced, given its mode,
// and renamed over the target, then the directory is synced: a kubelet starting or a plugin
// being exec'd at any moment sees either the old file or the new one, never a part. A target
// that already has the same content (compared by SHA-256) and mode is not touched at all, so
// running the installer again changes nothing and a running plugin's file is not replaced for
// no reason. Temporary files left by an interrupted run are removed by the next one.
//
// # What it does not do
//
// It does not change the kubelet's flags or restart it. The kubelet reads its credential
// provider config and checks the binaries only at start-up; the flags come from the node's
// kubelet unit (deploy/systemd) and take effect at the next kubelet restart. An installed
// config that differs from the running one therefore takes effect at that restart too.
//
// It never prints file contents: errors about a config name fields, never env values, and
// errors about a pull secret name the file, never its content.
package installer
