package prepull

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/distribution/reference"
	"github.com/go-logr/logr"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remote "k8s.io/cri-client/pkg"
	"k8s.io/klog/v2"

	"github.com/pullkeys/pullkeys/kubelet"
)

// DefaultRuntimeEndpoint is containerd's CRI socket, the kubelet's usual
// --container-runtime-endpoint.
const DefaultRuntimeEndpoint = "unix:///run/containerd/containerd.sock"

// DefaultRuntimeTimeout is the kubelet's default runtimeRequestTimeout: the limit of every CRI
// call but a pull.
const DefaultRuntimeTimeout = 2 * time.Minute

// ImageService is the part of the CRI image service prepull uses.
type ImageService interface {
	ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec, verbose bool) (*runtimeapi.ImageStatusResponse, error)
	PullImage(ctx context.Context, image *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, podSandboxConfig *runtimeapi.PodSandboxConfig) (string, error)
}

var _ ImageService = internalapi.ImageManagerService(nil)

// Connect dials the runtime's CRI image service at endpoint (unix:///path, or a bare path)
// with the kubelet's CRI client, and checks it answers. timeout bounds the connection and
// every call but PullImage, which only ctx bounds. The client's logs are discarded.
func Connect(ctx context.Context, endpoint string, timeout time.Duration) (internalapi.ImageManagerService, error) {
	ctx = klog.NewContext(ctx, logr.Discard())
	svc, err := remote.NewRemoteImageService(ctx, endpoint, timeout, nil, false)
	if err != nil {
		return nil, fmt.Errorf("connect to the container runtime at %s: %w", endpoint, err)
	}
	return svc, nil
}

// Credential is one credential to try for an image, in the kubelet's order.
type Credential struct {
	Username string
	Password string
	// Source names where it came from ("provider ecr-credential-provider", "secret
	// regcred"): what the report shows, never the password.
	Source string
}

// Credentials gives the credentials for an image (as written) in the order the kubelet
// tries them, and a one-line diagnosis of how they were found (what `pullkeys check` says).
type Credentials func(ctx context.Context, image string) (creds []Credential, diagnosis string)

// Options are the inputs of Run.
type Options struct {
	// Images are the images to pre-pull, as a pod's image field would name them.
	Images []string
	// Service is the runtime's image service.
	Service ImageService
	// Credentials gives each image's credentials; nil pulls anonymously.
	Credentials Credentials
	// CheckOnly reports which images are present and pulls nothing.
	CheckOnly bool
	// Parallel is how many pulls run at once; below 1 means 1, as the kubelet's serial pulls.
	Parallel int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, is called with each result as soon as it is known (from the
	// goroutine that pulled it; calls do not overlap).
	Progress func(Result)
}

// Statuses of a Result.
const (
	StatusPresent = "present" // already in the runtime, not pulled
	StatusPulled  = "pulled"  // pulled now
	StatusMissing = "missing" // not in the runtime, and CheckOnly
	StatusFailed  = "failed"  // the pull (or the image status) failed
)

// Result is what happened to one image.
type Result struct {
	// Image is the image as given; Ref is what the runtime was asked for (":latest" added
	// when the image has neither tag nor digest, as the kubelet does).
	Image string `json:"image"`
	Ref   string `json:"ref,omitempty"`
	// Status is StatusPresent, StatusPulled, StatusMissing or StatusFailed.
	Status string `json:"status"`
	// ID is the runtime's image ID (the config digest); RepoDigests the manifest digests it
	// knows the image by.
	ID          string   `json:"id,omitempty"`
	RepoDigests []string `json:"repoDigests,omitempty"`
	// Size is the image's size in bytes as the runtime reports it.
	Size uint64 `json:"size,omitempty"`
	// Duration is how long the pull took (pulled only).
	Duration string `json:"duration,omitempty"`
	// Credential is the Source of the credential the pull succeeded with; "anonymous" when
	// none was used.
	Credential string `json:"credential,omitempty"`
	// Error is the runtime's error (one per credential tried, in order).
	Error string `json:"error,omitempty"`
	// Diagnosis is how the credentials were found, as `pullkeys check` says it.
	Diagnosis string `json:"diagnosis,omitempty"`
	// AllowlistEntry is the preloadedImagesVerificationAllowlist entry that covers the image.
	AllowlistEntry string `json:"allowlistEntry,omitempty"`
}

// Missing reports whether the image is not in the runtime after the run.
func (r Result) Missing() bool { return r.Status == StatusMissing || r.Status == StatusFailed }

// RuntimeRef returns the reference the kubelet hands to the runtime for image: image as
// written, with ":latest" appended when it has neither tag nor digest.
func RuntimeRef(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", err
	}
	_, tagged := named.(reference.Tagged)
	_, digested := named.(reference.Digested)
	if !tagged && !digested {
		return image + ":latest", nil
	}
	return image, nil
}

// Run pre-pulls opts.Images and returns one Result per image, in the order given. Each image
// is first looked up with ImageStatus; present images are not pulled. Missing ones are pulled
// with each credential in turn until one works (no credential: anonymously), as the kubelet's
// runtime manager does.
func Run(ctx context.Context, opts Options) []Result {
	ctx = klog.NewContext(ctx, logr.Discard()) // the CRI client logs every failed call
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	parallel := opts.Parallel
	if parallel < 1 {
		parallel = 1
	}
	results := make([]Result, len(opts.Images))
	var progress sync.Mutex
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i, image := range opts.Images {
		if ctx.Err() != nil {
			results[i] = Result{Image: image, Status: StatusFailed, Error: ctx.Err().Error()}
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = one(ctx, opts, now, image)
			if opts.Progress != nil {
				progress.Lock()
				opts.Progress(results[i])
				progress.Unlock()
			}
		}()
	}
	wg.Wait()
	return results
}

func one(ctx context.Context, opts Options, now func() time.Time, image string) Result {
	r := Result{Image: image}
	ref, err := RuntimeRef(image)
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
		return r
	}
	r.Ref = ref
	r.AllowlistEntry, _ = kubelet.AllowlistEntry(image)
	spec := &runtimeapi.ImageSpec{Image: ref}
	status, err := opts.Service.ImageStatus(ctx, spec, false)
	if err != nil {
		r.Status, r.Error = StatusFailed, fmt.Sprintf("image status: %s", oneLine(err))
		return r
	}
	if img := status.GetImage(); img != nil {
		r.Status = StatusPresent
		r.setImage(img)
		return r
	}
	if opts.CheckOnly {
		r.Status = StatusMissing
		return r
	}
	var creds []Credential
	if opts.Credentials != nil {
		creds, r.Diagnosis = opts.Credentials(ctx, image)
	}
	start := now()
	imageRef, used, err := pull(ctx, opts.Service, spec, creds)
	if err != nil {
		r.Status, r.Error = StatusFailed, err.Error()
		return r
	}
	r.Status, r.Credential = StatusPulled, used
	r.Duration = now().Sub(start).Round(time.Millisecond).String()
	status, err = opts.Service.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: imageRef}, false)
	switch {
	case err != nil:
		r.ID, r.Error = imageRef, fmt.Sprintf("pulled, but image status: %s", oneLine(err))
	case status.GetImage() == nil:
		r.ID = imageRef
	default:
		r.setImage(status.GetImage())
	}
	return r
}

func (r *Result) setImage(img *runtimeapi.Image) {
	r.ID, r.Size = img.GetId(), img.GetSize()
	r.RepoDigests = append([]string(nil), img.GetRepoDigests()...)
	sort.Strings(r.RepoDigests)
}

// pull tries each credential in order, as the kubelet's runtime manager does, and returns
// the image reference and the Source of the credential that worked.
func pull(ctx context.Context, svc ImageService, spec *runtimeapi.ImageSpec, creds []Credential) (string, string, error) {
	if len(creds) == 0 {
		ref, err := svc.PullImage(ctx, spec, nil, nil)
		if err != nil {
			return "", "", errors.New(oneLine(err))
		}
		return ref, "anonymous", nil
	}
	var errs []string
	for _, c := range creds {
		ref, err := svc.PullImage(ctx, spec, &runtimeapi.AuthConfig{Username: c.Username, Password: c.Password}, nil)
		if err == nil {
			return ref, c.Source, nil
		}
		errs = append(errs, fmt.Sprintf("with %s: %s", c.Source, redact(oneLine(err), c.Password)))
	}
	return "", "", errors.New(strings.Join(errs, "; "))
}

// Allowlist returns the preloadedImagesVerificationAllowlist entries for the images present
// or pulled, sorted and without duplicates.
func Allowlist(results []Result) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range results {
		if r.Missing() || r.AllowlistEntry == "" || seen[r.AllowlistEntry] {
			continue
		}
		seen[r.AllowlistEntry] = true
		out = append(out, r.AllowlistEntry)
	}
	sort.Strings(out)
	return out
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// redact removes a password a runtime might echo in its error.
func redact(s, secret string) string {
	if len(secret) < 4 {
		return s
	}
	return strings.ReplaceAll(s, secret, "********")
}
