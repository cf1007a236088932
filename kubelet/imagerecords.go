package kubelet

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	configv1alpha1 "k8s.io/kubelet/config/v1alpha1"
	configv1beta1 "k8s.io/kubelet/config/v1beta1"
)

// ImageManagerDir is the directory under the kubelet's --root-dir where it keeps its image
// pull records (KEP-2535): pulled/ holds an ImagePulledRecord per image ID, pulling/ an
// ImagePullIntent per image being pulled. Each file is named "sha256-" and the hex SHA-256 of
// the record's imageRef (or intent's image), and holds one JSON document of
// kubelet.config.k8s.io/v1beta1 (older kubelets: v1alpha1, which the kubelet migrates).
const ImageManagerDir = "image_manager"

// How an image name in a pull record was pulled, for ImageRecordImage.Access.
const (
	AccessNode    = "node"    // node-wide credentials (providers without tokenAttributes) or none: every pod may use it
	AccessPods    = "pods"    // only the listed Secrets and service accounts
	AccessUnknown = "unknown" // no credentials recorded: the kubelet verifies every pod
)

// ImageRecords is what the kubelet recorded about the images it pulled.
type ImageRecords struct {
	// Dir is the image_manager directory read.
	Dir string `json:"dir"`
	// Pulled are the ImagePulledRecords, by imageRef.
	Pulled []PulledRecord `json:"pulled"`
	// Pulling are the images of ImagePullIntents: pulls in flight, or interrupted.
	Pulling []string `json:"pulling"`
	// Problems are the files pullkeys could not read (unknown versions included), as warnings.
	Problems Problems `json:"problems"`
}

// PulledRecord is one ImagePulledRecord.
type PulledRecord struct {
	File        string    `json:"file"`
	APIVersion  string    `json:"apiVersion"`
	ImageRef    string    `json:"imageRef"`
	LastUpdated time.Time `json:"lastUpdated"`
	// Images are the image names (as pods wrote them, tag and digest removed) the image was
	// pulled under, and with which credentials; sorted by name.
	Images []RecordImage `json:"images"`
}

// RecordImage is one credentialMapping entry of a pull record.
type RecordImage struct {
	Image string `json:"image"`
	// Access is AccessNode, AccessPods or AccessUnknown.
	Access string `json:"access"`
	// Secrets are the pull Secrets that pulled it, "namespace/name (uid …)".
	Secrets []string `json:"secrets,omitempty"`
	// ServiceAccounts are the service accounts whose token pulled it, "namespace/name (uid …)".
	ServiceAccounts []string `json:"serviceAccounts,omitempty"`
}

// RecordFileName is the name of the kubelet's record file for key (an imageRef for pulled/,
// an image for pulling/).
func RecordFileName(key string) string {
	return fmt.Sprintf("sha256-%x", sha256.Sum256([]byte(key)))
}

// ReadImageRecords reads the kubelet's pull records under rootDir (its --root-dir),
// read-only. Files it does not understand (another apiVersion or kind, bad JSON) are
// reported as warnings and skipped; temporary files (*.tmp) and other names are ignored, as
// the kubelet ignores them. The error is for a directory that cannot be read at all.
func ReadImageRecords(rootDir string) (*ImageRecords, error) {
	dir := filepath.Join(rootDir, ImageManagerDir)
	r := &ImageRecords{Dir: dir, Pulled: []PulledRecord{}, Pulling: []string{}, Problems: Problems{}}
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: the kubelet has not recorded a pull there (is %s its --root-dir, and is the %s gate on?)", dir, rootDir, EnsureSecretPulledImagesGate)
		}
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	err := eachRecord(filepath.Join(dir, "pulled"), func(path string, data []byte) {
		rec, known, err := decodePulledRecord(data)
		switch {
		case err != nil:
			r.Problems = append(r.Problems, warnf(path, "", "", "not read: %s", err))
			return
		case !known:
			r.Problems = append(r.Problems, warnf(path, "apiVersion", "", "%s: a version pullkeys does not know; read as v1beta1", rec.APIVersion))
		}
		if name := filepath.Base(path); name != RecordFileName(rec.ImageRef) {
			r.Problems = append(r.Problems, warnf(path, "imageRef", "", "the file name is not the hash of imageRef %q: the kubelet ignores this record", rec.ImageRef))
		}
		rec.File = path
		r.Pulled = append(r.Pulled, *rec)
	})
	if err != nil {
		return nil, err
	}
	err = eachRecord(filepath.Join(dir, "pulling"), func(path string, data []byte) {
		var intent struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Image      string `json:"image"`
		}
		if err := json.Unmarshal(data, &intent); err != nil || intent.Kind != "ImagePullIntent" || intent.Image == "" {
			r.Problems = append(r.Problems, warnf(path, "", "", "not read: not an ImagePullIntent"))
			return
		}
		if !knownRecordVersion(intent.APIVersion) {
			r.Problems = append(r.Problems, warnf(path, "apiVersion", "", "%s: a version pullkeys does not know", intent.APIVersion))
		}
		r.Pulling = append(r.Pulling, intent.Image)
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(r.Pulled, func(i, j int) bool { return r.Pulled[i].ImageRef < r.Pulled[j].ImageRef })
	sort.Strings(r.Pulling)
	return r, nil
}

func knownRecordVersion(v string) bool {
	return v == configv1beta1.SchemeGroupVersion.String() || v == configv1alpha1.SchemeGroupVersion.String()
}

// eachRecord calls fn for each record file of dir, as the kubelet lists them: regular files
// named "sha256-…" that do not end in ".tmp". A missing dir has no records.
func eachRecord(dir string, fn func(path string, data []byte)) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasPrefix(e.Name(), "sha256-") || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			fn(path, nil)
			continue
		}
		fn(path, data)
	}
	return nil
}

// decodePulledRecord decodes an ImagePulledRecord of v1beta1 or v1alpha1 (the same fields).
// known is false for another apiVersion of the kubelet.config.k8s.io group, decoded
// leniently in the v1beta1 shape.
func decodePulledRecord(data []byte) (*PulledRecord, bool, error) {
	if len(data) == 0 {
		return nil, false, errors.New("empty or unreadable")
	}
	var rec configv1beta1.ImagePulledRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, false, fmt.Errorf("not JSON: %s", jsonProblem(err))
	}
	if rec.Kind != "ImagePulledRecord" {
		return nil, false, fmt.Errorf("kind %q, want ImagePulledRecord", rec.Kind)
	}
	if !strings.HasPrefix(rec.APIVersion, configv1beta1.GroupName+"/") {
		return nil, false, fmt.Errorf("apiVersion %q is not of %s", rec.APIVersion, configv1beta1.GroupName)
	}
	if rec.ImageRef == "" {
		return nil, false, errors.New("no imageRef")
	}
	out := &PulledRecord{APIVersion: rec.APIVersion, ImageRef: rec.ImageRef, LastUpdated: rec.LastUpdatedTime.Time, Images: []RecordImage{}}
	for image, creds := range rec.CredentialMapping {
		ri := RecordImage{Image: image, Access: AccessUnknown}
		for _, s := range creds.KubernetesSecrets {
			ri.Secrets = append(ri.Secrets, fmt.Sprintf("%s/%s (uid %s)", s.Namespace, s.Name, s.UID))
		}
		for _, sa := range creds.KubernetesServiceAccounts {
			ri.ServiceAccounts = append(ri.ServiceAccounts, fmt.Sprintf("%s/%s (uid %s)", sa.Namespace, sa.Name, sa.UID))
		}
		switch {
		case creds.NodePodsAccessible:
			ri.Access = AccessNode
		case len(ri.Secrets)+len(ri.ServiceAccounts) > 0:
			ri.Access = AccessPods
		}
		out.Images = append(out.Images, ri)
	}
	sort.Slice(out.Images, func(i, j int) bool { return out.Images[i].Image < out.Images[j].Image })
	return out, knownRecordVersion(rec.APIVersion), nil
}
