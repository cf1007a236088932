package kubelet

import (
	"fmt"
	"slices"
	"sort"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/kubelet/pkg/apis/credentialprovider/install"

	"github.com/pullkeys/pullkeys/providers"
)

// requestCodecs encodes requests the way the kubelet does: the internal request converted to
// the provider's apiVersion by the API's own conversion functions.
var requestCodecs = sync.OnceValue(func() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
})

// EncodeRequest encodes req as a CredentialProviderRequest in apiVersion, as the kubelet writes
// it on a plugin's stdin: one JSON document and a newline. In v1beta1 and v1alpha1 the
// service account fields do not exist and are left out.
func EncodeRequest(req *providers.Request, apiVersion string) ([]byte, error) {
	if !slices.Contains(providers.APIVersions(), apiVersion) {
		return nil, fmt.Errorf("encode request: %w %q (want one of %v)", providers.ErrUnsupportedVersion, apiVersion, providers.APIVersions())
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	info, _ := runtime.SerializerInfoForMediaType(requestCodecs().SupportedMediaTypes(), runtime.ContentTypeJSON)
	out := req.DeepCopy()
	out.APIVersion, out.Kind = "", ""
	data, err := runtime.Encode(requestCodecs().EncoderForVersion(info.Serializer, gv), out)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	return data, nil
}

// ServiceAccount is what the kubelet knows of the pod's service account when it calls a
// provider with tokenAttributes: a token it requested for the provider's audience, and the
// service account's annotations.
type ServiceAccount struct {
	// Token is the service account token. It is a secret: it is never printed.
	Token string
	// Annotations are all the service account's annotations; the kubelet passes on only those
	// listed in the provider's tokenAttributes.
	Annotations map[string]string
}

// BuildRequest builds the request the kubelet sends to p for image (normalised), or returns a
// reason why the kubelet does not call p at all for this pod. sa is the pod's service account,
// nil for a pod without one (a static pod). Only providers with tokenAttributes get a token:
//
//   - no service account and requireServiceAccount: true: the plugin is skipped;
//   - a required annotation key missing from the service account: the plugin is skipped
//     (the kubelet logs this at verbosity 5 only, which makes it a silent skip);
//   - otherwise the request holds the token and the listed annotations the account has.
func BuildRequest(p Provider, image string, sa *ServiceAccount) (req *providers.Request, skip string) {
	req = &providers.Request{Image: image}
	ta := p.TokenAttributes
	if ta == nil || ta.ServiceAccountTokenAudience == "" {
		return req, ""
	}
	if sa == nil || sa.Token == "" {
		if ta.RequireServiceAccount != nil && *ta.RequireServiceAccount {
			return nil, "tokenAttributes.requireServiceAccount is true and the pod has no service account (give one with --service-account-token): the kubelet skips this plugin, logging it at verbosity 5 only"
		}
		return req, ""
	}
	annotations := make(map[string]string, len(ta.RequiredServiceAccountAnnotationKeys)+len(ta.OptionalServiceAccountAnnotationKeys))
	var missing []string
	for _, k := range ta.RequiredServiceAccountAnnotationKeys {
		v, ok := sa.Annotations[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		annotations[k] = v
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Sprintf("the service account lacks the required annotation(s) %q (tokenAttributes.requiredServiceAccountAnnotationKeys; give them with --service-account-annotation): the kubelet skips this plugin, logging it at verbosity 5 only", missing)
	}
	for _, k := range ta.OptionalServiceAccountAnnotationKeys {
		if v, ok := sa.Annotations[k]; ok {
			annotations[k] = v
		}
	}
	req.ServiceAccountToken = sa.Token
	req.ServiceAccountAnnotations = annotations
	return req, ""
}
