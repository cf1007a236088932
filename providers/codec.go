package providers

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	credentialprovider "k8s.io/kubelet/pkg/apis/credentialprovider"
	"k8s.io/kubelet/pkg/apis/credentialprovider/install"
	credentialproviderv1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1"
	credentialproviderv1alpha1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1alpha1"
	credentialproviderv1beta1 "k8s.io/kubelet/pkg/apis/credentialprovider/v1beta1"
)

// Kinds of the two protocol documents.
const (
	RequestKind  = "CredentialProviderRequest"
	ResponseKind = "CredentialProviderResponse"
)

// The apiVersions of the protocol, newest first.
var (
	APIVersionV1       = credentialproviderv1.SchemeGroupVersion.String()
	APIVersionV1beta1  = credentialproviderv1beta1.SchemeGroupVersion.String()
	APIVersionV1alpha1 = credentialproviderv1alpha1.SchemeGroupVersion.String()
)

// APIVersions lists the protocol versions, newest first.
func APIVersions() []string { return []string{APIVersionV1, APIVersionV1beta1, APIVersionV1alpha1} }

// Sentinel errors of the protocol, for errors.Is.
var (
	ErrMalformed          = errors.New("malformed JSON")
	ErrWrongKind          = errors.New("wrong kind")
	ErrUnsupportedVersion = errors.New("unsupported apiVersion")
	ErrEmptyImage         = errors.New("empty image")
	ErrTooLarge           = errors.New("request too large")
	ErrInvalidResponse    = errors.New("invalid response")
)

// codecs is built on first use so that a binary pays for the scheme only when it decodes.
var codecs = sync.OnceValue(newCodecs)

// newCodecs builds the scheme of the protocol's versions and its codecs: a fraction of a
// millisecond, paid once per plugin process (BenchmarkNewCodecs).
func newCodecs() serializer.CodecFactory {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	// Strict: the decoder reports unknown and duplicate fields as a strict decoding error
	// alongside the decoded object, so the caller decides (we tolerate, the kubelet does not).
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict)
}

// groupVersion returns the GroupVersion for a protocol apiVersion string.
func groupVersion(apiVersion string) (schema.GroupVersion, error) {
	for _, v := range APIVersions() {
		if v == apiVersion {
			return schema.ParseGroupVersion(v)
		}
	}
	return schema.GroupVersion{}, fmt.Errorf("%w %q (want one of %v)", ErrUnsupportedVersion, apiVersion, APIVersions())
}

// DecodeRequest decodes a CredentialProviderRequest of any supported apiVersion and returns it
// with the apiVersion it came in. Unknown fields are tolerated: they are returned as warnings
// (field names only, never values) for the caller to log.
func DecodeRequest(data []byte) (req *Request, apiVersion string, warnings []string, err error) {
	gvk, err := json.DefaultMetaFactory.Interpret(data)
	if err != nil {
		return nil, "", nil, fmt.Errorf("decode request: %w: %s", ErrMalformed, jsonProblem(err))
	}
	apiVersion = gvk.GroupVersion().String()
	if gvk.Kind != RequestKind {
		return nil, apiVersion, nil, fmt.Errorf("decode request: %w %q, want %q", ErrWrongKind, gvk.Kind, RequestKind)
	}
	if _, err := groupVersion(apiVersion); err != nil {
		return nil, apiVersion, nil, fmt.Errorf("decode request: %w", err)
	}
	obj, _, err := codecs().UniversalDecoder().Decode(data, nil, nil)
	if strict, ok := runtime.AsStrictDecodingError(err); ok && obj != nil {
		for _, e := range strict.Errors() {
			warnings = append(warnings, e.Error())
		}
		sort.Strings(warnings)
		err = nil
	}
	if err != nil {
		return nil, apiVersion, nil, fmt.Errorf("decode request: %w: %s", ErrMalformed, jsonProblem(err))
	}
	req, ok := obj.(*credentialprovider.CredentialProviderRequest)
	if !ok {
		return nil, apiVersion, nil, fmt.Errorf("decode request: %w %T", ErrWrongKind, obj)
	}
	return req, apiVersion, warnings, nil
}

// ValidateResponse checks what the kubelet checks of a decoded response before it uses it:
// the cacheKeyType must be one it knows.
func ValidateResponse(resp *Response) error {
	if resp == nil {
		return fmt.Errorf("%w: nil response", ErrInvalidResponse)
	}
	switch resp.CacheKeyType {
	case CacheKeyImage, CacheKeyRegistry, CacheKeyGlobal:
	default:
		return fmt.Errorf("%w: cacheKeyType %q is not Image, Registry or Global", ErrInvalidResponse, resp.CacheKeyType)
	}
	return nil
}

// EncodeResponse encodes resp as a CredentialProviderResponse in apiVersion, as one JSON
// document followed by a newline.
func EncodeResponse(resp *Response, apiVersion string) ([]byte, error) {
	gv, err := groupVersion(apiVersion)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	if err := ValidateResponse(resp); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	// The kubelet would accept a negative duration (an entry born expired); we never write one.
	if resp.CacheDuration != nil && resp.CacheDuration.Duration < 0 {
		return nil, fmt.Errorf("encode response: %w: negative cacheDuration", ErrInvalidResponse)
	}
	out := resp.DeepCopy()
	out.TypeMeta.APIVersion, out.TypeMeta.Kind = "", ""
	info, _ := runtime.SerializerInfoForMediaType(codecs().SupportedMediaTypes(), runtime.ContentTypeJSON)
	var buf bytes.Buffer
	if err := codecs().EncoderForVersion(info.Serializer, gv).Encode(out, &buf); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return buf.Bytes(), nil
}

// DecodeResponse decodes a response the way the kubelet does: the apiVersion must equal want,
// the kind must be CredentialProviderResponse, decoding is strict (unknown or duplicate fields
// fail) and cacheKeyType must be known. Errors never quote the document, which holds secrets.
func DecodeResponse(data []byte, want string) (*Response, error) {
	gvk, err := json.DefaultMetaFactory.Interpret(data)
	if err != nil {
		return nil, fmt.Errorf("decode response: %w: cannot read apiVersion and kind", ErrMalformed)
	}
	if got := gvk.GroupVersion().String(); got != want {
		return nil, fmt.Errorf("decode response: %w %q, expected %q", ErrUnsupportedVersion, got, want)
	}
	if gvk.Kind != ResponseKind {
		return nil, fmt.Errorf("decode response: %w %q, want %q", ErrWrongKind, gvk.Kind, ResponseKind)
	}
	obj, _, err := codecs().UniversalDecoder().Decode(data, nil, nil)
	if err != nil {
		if strict, ok := runtime.AsStrictDecodingError(err); ok {
			return nil, fmt.Errorf("decode response: %w: %d strict decoding error(s), e.g. %s", ErrInvalidResponse, len(strict.Errors()), firstFieldProblem(strict.Errors()))
		}
		return nil, fmt.Errorf("decode response: %w", ErrMalformed)
	}
	resp, ok := obj.(*credentialprovider.CredentialProviderResponse)
	if !ok {
		return nil, fmt.Errorf("decode response: %w %T", ErrWrongKind, obj)
	}
	if err := ValidateResponse(resp); err != nil {
		return nil, fmt.Errorf("decode response: %w", err)
	}
	return resp, nil
}

// firstFieldProblem names the first strict decoding problem; those messages carry field names
// (unknown field "x", duplicate field "y"), not values.
func firstFieldProblem(errs []error) string {
	if len(errs) == 0 {
		return "unknown"
	}
	return errs[0].Error()
}

// jsonProblem names a decoding problem in one line without quoting the input, which may hold
// a service account token: decoder messages such as "invalid character 'q' in string escape
// code" carry bytes of the document, so only offsets, field names and types are kept.
func jsonProblem(err error) string {
	var syntax *stdjson.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("syntax error at byte %d", syntax.Offset)
	}
	var typ *stdjson.UnmarshalTypeError
	if errors.As(err, &typ) {
		return fmt.Sprintf("field %q is not a %s", typ.Field, typ.Type)
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "unexpected end of JSON input"):
		return "unexpected end of input"
	case strings.Contains(msg, "invalid character"):
		return "syntax error"
	case strings.Contains(msg, "cannot unmarshal"):
		return "a field has the wrong type"
	}
	return "not a JSON object"
}
