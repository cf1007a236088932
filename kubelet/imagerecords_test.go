package kubelet

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadImageRecords(t *testing.T) {
	root := t.TempDir()
	pulled := filepath.Join(root, ImageManagerDir, "pulled")
	pulling := filepath.Join(root, ImageManagerDir, "pulling")
	for _, d := range []string{pulled, pulling} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	write := func(dir, name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const refA, refB, refC, refD = "sha256:aaaa", "sha256:bbbb", "sha256:cccc", "sha256:dddd"
	// As the kubelet writes them (pkg/kubelet/images/pullmanager/testdata has the same shape).
	write(pulled, RecordFileName(refA), `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1beta1","lastUpdatedTime":"2026-01-02T03:04:05Z","imageRef":"sha256:aaaa","credentialMapping":{"registry.example/app":{"nodePodsAccessible":true},"registry.example/other":{"kubernetesSecrets":[{"uid":"u1","namespace":"team","name":"regcred","credentialHash":"h"}],"kubernetesServiceAccounts":[{"uid":"u2","namespace":"team","name":"builder"}]}}}`)
	write(pulled, RecordFileName(refB), `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1alpha1","lastUpdatedTime":"2026-01-02T03:04:05Z","imageRef":"sha256:bbbb"}`)
	v2 := write(pulled, RecordFileName(refC), `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v2","lastUpdatedTime":"2026-01-02T03:04:05Z","imageRef":"sha256:cccc","credentialMapping":{"x":{}}}`)
	wrongName := write(pulled, "sha256-0000", `{"kind":"ImagePulledRecord","apiVersion":"kubelet.config.k8s.io/v1beta1","lastUpdatedTime":"2026-01-02T03:04:05Z","imageRef":"sha256:dddd"}`)
	bad := write(pulled, RecordFileName("garbage"), `{not json`)
	write(pulled, RecordFileName(refD)+".tmp", `ignored`)
	write(pulled, "README", `ignored`)
	write(pulling, RecordFileName("registry.example/app:v2"), `{"kind":"ImagePullIntent","apiVersion":"kubelet.config.k8s.io/v1beta1","image":"registry.example/app:v2"}`)

	got, err := ReadImageRecords(root)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	want := []PulledRecord{
		{File: filepath.Join(pulled, RecordFileName(refA)), APIVersion: "kubelet.config.k8s.io/v1beta1", ImageRef: refA, LastUpdated: at, Images: []RecordImage{
			{Image: "registry.example/app", Access: AccessNode},
			{Image: "registry.example/other", Access: AccessPods, Secrets: []string{"team/regcred (uid u1)"}, ServiceAccounts: []string{"team/builder (uid u2)"}},
		}},
		{File: filepath.Join(pulled, RecordFileName(refB)), APIVersion: "kubelet.config.k8s.io/v1alpha1", ImageRef: refB, LastUpdated: at, Images: []RecordImage{}},
		{File: v2, APIVersion: "kubelet.config.k8s.io/v2", ImageRef: refC, LastUpdated: at, Images: []RecordImage{{Image: "x", Access: AccessUnknown}}},
		{File: wrongName, APIVersion: "kubelet.config.k8s.io/v1beta1", ImageRef: refD, LastUpdated: at, Images: []RecordImage{}},
	}
	if diff := cmp.Diff(want, got.Pulled); diff != "" {
		t.Errorf("ReadImageRecords pulled (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"registry.example/app:v2"}, got.Pulling); diff != "" {
		t.Errorf("ReadImageRecords pulling (-want +got):\n%s", diff)
	}
	var files []string
	for _, p := range got.Problems {
		if p.Severity != SeverityWarning {
			t.Errorf("problem %v: want a warning", p)
		}
		files = append(files, p.File)
	}
	if diff := cmp.Diff(sorted(bad, v2, wrongName), sorted(files...)); diff != "" {
		t.Errorf("ReadImageRecords problems (-want +got):\n%s\n%v", diff, got.Problems)
	}

	if _, err := ReadImageRecords(t.TempDir()); err == nil {
		t.Error("ReadImageRecords(a dir without image_manager) = nil error")
	}
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
