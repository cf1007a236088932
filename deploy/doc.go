// Package deploy holds the deployment examples of pullkeys, as files to copy, and the tests
// that keep them working as written. It has no code of its own.
//
//	eks/        CredentialProviderConfig for ECR and ECR Public: every host form of every
//	            partition (FIPS, dual-stack), and a variant with tokenAttributes for per-pod
//	            IAM roles
//	gke/        CredentialProviderConfig for gcr.io, *.gcr.io, *.pkg.dev, docker.*.rep.pkg.dev
//	            and container.cloud.google.com, node identity and workload identity
//	dockercfg/  CredentialProviderConfig for private registries: one config.json shared by
//	            every node, and a mounted pull secret
//	systemd/    the kubelet flags --image-credential-provider-config and
//	            --image-credential-provider-bin-dir as a drop-in for kubeadm's kubelet unit
//	daemonset/  a DaemonSet and ConfigMap that install the binaries, the config and a pull
//	            secret on every node (the image is built from the repository's Dockerfile)
//	installer/  the Go package of cmd/pullkeys-installer, the DaemonSet's program
//
// The tests (deploy_test.go), run by go test ./... in CI:
//
//   - decode every CredentialProviderConfig (standalone, or inside a ConfigMap) strictly and
//     validate it with the kubelet's rules, as pullkeys validate does, with no error and no
//     warning; check that each provider names a binary of this repository and that its args
//     parse with that binary's flags;
//   - check that every ecr-credential-provider entry lists exactly ecr.MatchImages(), and that
//     every gcr-credential-provider entry lists exactly the hosts the plugin serves
//     (gcr.DefaultRegistries() plus its --registry args), so the examples cannot drift from
//     the code;
//   - decode every Kubernetes manifest strictly (unknown, duplicate or wrongly cased fields
//     fail) into the k8s.io/api types, and check the DaemonSet's wiring: selector, volumes,
//     the ConfigMap and Secret it mounts, pinned images;
//   - run the DaemonSet's installer, with its own arguments, against a fake node (its mounts
//     mapped to temporary directories), then check the result as the kubelet would at start-up
//     with the flags of the systemd drop-in, and run the installed dockercfg provider with the
//     installed config's args to see it answer with the synced pull secret;
//   - check that the documentation's links into deploy/ exist.
package deploy
