package kubelet

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	kuberecord "k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/kubernetes/pkg/credentialprovider"
	kubecontainer "k8s.io/kubernetes/pkg/kubelet/container"
	"k8s.io/kubernetes/pkg/kubelet/images"
	"k8s.io/kubernetes/pkg/kubelet/images/pullmanager"

	"github.com/pullkeys/pullkeys/e2e/harness"
)

// The end of the chain on a node: the kubelet's image manager (pkg/kubelet/images, the code
// that merges a pod's pull Secrets with the credential providers' answers and records the
// pod's events) hands the credentials to the container runtime, here a real containerd
// through the kubelet's CRI client (k8s.io/cri-client).
//
// The one piece in between, kubeGenericRuntimeManager.PullImage (pkg/kubelet/kuberuntime),
// turns each credential into a CRI AuthConfig and calls PullImage once per credential. That
// package cannot be built in this module without cadvisor, the container manager and parts
// of the scheduler (hundreds of packages more), so criRuntime reproduces it, and
// TestCRIPullLoopIsTheKubelets pins the reproduction to the kubelet's source and behaviour.

// criShared is the suite's containerd: one per test binary run, stopped by TestMain.
var criShared harness.SharedContainerd

// criNode is the shared containerd with a catch-all: every registry host without a
// hosts.toml of its own (containerd's certs.d/_default) is a recording stand-in on loopback,
// so no pull leaves the machine and a credential sent to any host but a scenario's registry
// is seen.
type criNode struct {
	c        *harness.Containerd
	catchAll *harness.Recorder
}

var criNodeState struct {
	once sync.Once
	node *criNode
	err  error
}

func sharedCRI(t *testing.T) *criNode {
	t.Helper()
	c := criShared.Get(t)
	st := &criNodeState
	st.once.Do(func() {
		rec, err := harness.StartRecorder(harness.RecorderOptions{})
		if err != nil {
			st.err = err
			return
		}
		ca, err := c.WriteCA(rec.CA)
		if err == nil {
			_, err = c.WriteHosts("_default", harness.Hosts{Server: "https://" + rec.Addr, CA: ca})
		}
		if err != nil {
			rec.Close()
			st.err = err
			return
		}
		st.node = &criNode{c: c, catchAll: rec}
	})
	if st.err != nil {
		t.Fatal(st.err)
	}
	return st.node
}

// stopCRI stops what sharedCRI started; TestMain calls it after the tests.
func stopCRI() error {
	if n := criNodeState.node; n != nil {
		n.catchAll.Close()
	}
	return criShared.Close()
}

// criRuntime is the image half of the kubelet's container runtime manager on a CRI image
// service: kubeGenericRuntimeManager's PullImage, GetImageRef and GetImageSize. It records
// every AuthConfig handed to PullImage, in order.
type criRuntime struct {
	images internalapi.ImageManagerService

	mu    sync.Mutex
	auths []*runtimeapi.AuthConfig // nil entries: a pull without credentials
}

var _ kubecontainer.ImageService = (*criRuntime)(nil)

func toImageSpec(image kubecontainer.ImageSpec) *runtimeapi.ImageSpec {
	annotations := map[string]string{}
	for _, a := range image.Annotations {
		annotations[a.Name] = a.Value
	}
	return &runtimeapi.ImageSpec{Image: image.Image, Annotations: annotations, RuntimeHandler: image.RuntimeHandler}
}

// PullImage is kubeGenericRuntimeManager.PullImage: no credentials, one anonymous pull;
// otherwise one CRI PullImage per credential, in the order given, each as an AuthConfig with
// all six fields copied; the first success wins; when all fail, the errors aggregated.
func (r *criRuntime) PullImage(ctx context.Context, image kubecontainer.ImageSpec, credentials []credentialprovider.TrackedAuthConfig, sandbox *runtimeapi.PodSandboxConfig) (string, *credentialprovider.TrackedAuthConfig, error) {
	spec := toImageSpec(image)
	if len(credentials) == 0 {
		r.record(nil)
		ref, err := r.images.PullImage(ctx, spec, nil, sandbox)
		if err != nil {
			return "", nil, err
		}
		return ref, nil, nil
	}
	var errs []error
	for _, c := range credentials {
		auth := authConfigOf(c)
		r.record(auth)
		ref, err := r.images.PullImage(ctx, spec, auth, sandbox)
		if err == nil {
			return ref, &c, nil
		}
		errs = append(errs, err)
	}
	return "", nil, utilerrors.NewAggregate(errs)
}

func authConfigOf(c credentialprovider.TrackedAuthConfig) *runtimeapi.AuthConfig {
	return &runtimeapi.AuthConfig{
		Username:      c.Username,
		Password:      c.Password,
		Auth:          c.Auth,
		ServerAddress: c.ServerAddress,
		IdentityToken: c.IdentityToken,
		RegistryToken: c.RegistryToken,
	}
}

func (r *criRuntime) record(a *runtimeapi.AuthConfig) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auths = append(r.auths, a)
}

// handed returns the AuthConfigs handed to the runtime so far.
func (r *criRuntime) handed() []*runtimeapi.AuthConfig {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*runtimeapi.AuthConfig(nil), r.auths...)
}

func (r *criRuntime) GetImageRef(ctx context.Context, image kubecontainer.ImageSpec) (string, error) {
	resp, err := r.images.ImageStatus(ctx, toImageSpec(image), false)
	if err != nil || resp.GetImage() == nil {
		return "", err
	}
	return resp.GetImage().Id, nil
}

func (r *criRuntime) GetImageSize(ctx context.Context, image kubecontainer.ImageSpec) (uint64, error) {
	resp, err := r.images.ImageStatus(ctx, toImageSpec(image), false)
	if err != nil || resp.GetImage() == nil {
		return 0, err
	}
	return resp.GetImage().Size, nil
}

// The image manager does not call these on a pull.
func (r *criRuntime) ListImages(context.Context) ([]kubecontainer.Image, error) {
	return nil, fmt.Errorf("criRuntime: ListImages not used")
}
func (r *criRuntime) RemoveImage(context.Context, kubecontainer.ImageSpec) error {
	return fmt.Errorf("criRuntime: RemoveImage not used")
}
func (r *criRuntime) ImageStats(context.Context) (*kubecontainer.ImageStats, error) {
	return nil, fmt.Errorf("criRuntime: ImageStats not used")
}
func (r *criRuntime) ImageFsInfo(context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	return nil, fmt.Errorf("criRuntime: ImageFsInfo not used")
}

type noPullingTimes struct{}

func (noPullingTimes) RecordImageStartedPulling(types.UID)  {}
func (noPullingTimes) RecordImageFinishedPulling(types.UID) {}

// kubeletPull is what one EnsureImageExists of the kubelet's image manager did.
type kubeletPull struct {
	ImageRef string
	// Message and Err are what the kubelet puts in the container's waiting state
	// (ErrImagePull and its message).
	Message string
	Err     error
	// Events are the pod's events as `kubectl describe pod` lists them: type, reason, message.
	Events []string
	// Auths are the AuthConfigs the kubelet handed to the runtime, one CRI PullImage each
	// (nil: a pull without credentials).
	Auths []*runtimeapi.AuthConfig
}

// ensureImage runs the kubelet's image manager for one container of a pod: the providers
// registered in this process and the pod's pull Secrets give the credentials, criRuntime on
// images pulls with them (imagePullPolicy Always).
func ensureImage(t *testing.T, imagesSvc internalapi.ImageManagerService, image string, p pod, secrets []corev1.Secret) kubeletPull {
	t.Helper()
	if p.Name == "" {
		p.Name = "app"
	}
	if p.Namespace == "" {
		p.Namespace = "default"
	}
	if p.UID == "" {
		p.UID = "uid-" + harness.RandomString(8)
	}
	rt := &criRuntime{images: imagesSvc}
	events := kuberecord.NewFakeRecorder(100)
	// The node's own docker config keyring is empty: nothing of the machine running the tests.
	m := images.NewImageManager(events, &credentialprovider.BasicDockerKeyring{}, rt, &pullmanager.NoopImagePullManager{},
		flowcontrol.NewBackOff(time.Second, time.Minute), true, nil, 0, 0, noPullingTimes{})
	podObj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name, UID: types.UID(p.UID)},
		Spec:       corev1.PodSpec{ServiceAccountName: p.ServiceAccount},
	}
	ref := &corev1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: types.UID(p.UID), FieldPath: "spec.containers{app}"}
	sandbox := &runtimeapi.PodSandboxConfig{Metadata: &runtimeapi.PodSandboxMetadata{Name: p.Name, Namespace: p.Namespace, Uid: p.UID}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out kubeletPull
	out.ImageRef, out.Message, out.Err = m.EnsureImageExists(ctx, ref, podObj, image, secrets, sandbox, "", corev1.PullAlways)
	for done := false; !done; {
		select {
		case e := <-events.Events:
			out.Events = append(out.Events, e)
		default:
			done = true
		}
	}
	out.Auths = rt.handed()
	return out
}

// describe renders the events as the Events table of `kubectl describe pod`.
func (k kubeletPull) describe() string {
	var b strings.Builder
	b.WriteString("Events:\n  Type     Reason   Message\n")
	for _, e := range k.Events {
		typ, rest, _ := strings.Cut(e, " ")
		reason, msg, _ := strings.Cut(rest, " ")
		fmt.Fprintf(&b, "  %-8s %-8s %s\n", typ, reason, msg)
	}
	if k.Err != nil {
		fmt.Fprintf(&b, "State: Waiting, Reason: %v, Message: %s\n", k.Err, k.Message)
	}
	return b.String()
}

// passwordsHanded names the AuthConfigs handed to the runtime, in order, as
// "user:<label of its password>" ("(none)" for a pull without credentials), with the labels
// of passwords: the order of the credentials without printing a secret.
func passwordsHanded(auths []*runtimeapi.AuthConfig, passwords map[string]string) []string {
	out := []string{}
	for _, a := range auths {
		if a == nil {
			out = append(out, "(none)")
			continue
		}
		name := "(unknown password)"
		for label, p := range passwords {
			if a.Password == p {
				name = label
			}
		}
		out = append(out, a.Username+":"+name)
	}
	return out
}
