package ecrtest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
)

// clients returns real SDK clients pointed at srv with BaseEndpoint, without retries.
func clients(srv *ecrtest.Server) (*ecr.Client, *ecrpublic.Client, *sts.Client) {
	cfg := aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider(ecrtest.NodeAccessKeyID, ecrtest.NodeSecretAccessKey, ""),
		Retryer:     func() aws.Retryer { return aws.NopRetryer{} },
		HTTPClient:  inMemoryBodies{awshttp.NewBuildableClient()},
	}
	url := aws.String(srv.URL())
	return ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.BaseEndpoint = url }),
		ecrpublic.NewFromConfig(cfg, func(o *ecrpublic.Options) { o.BaseEndpoint = url; o.Region = "us-east-1" }),
		sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = url })
}

// inMemoryBodies sends each request with its body read into memory first. smithy-go closes
// the request body as soon as Do returns, that is as soon as the response headers are in, and
// a read of its closed body answers io.EOF as an error to a WriterTo caller. net/http's write
// loop can still be in the body then (a fast loopback server answers once it has the bytes,
// before the loop's final read for bytes past Content-Length): it takes that io.EOF for a
// failed write and closes the connection under the response body, and a response larger than
// the transport's read buffer (TestRemote's 3000-byte password) fails with "use of closed
// network connection". That is an SDK race, not the fake's doing; with the body in memory
// net/http finishes reading it before sending anything.
type inMemoryBodies struct{ c aws.HTTPClient }

func (h inMemoryBodies) Do(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return h.c.Do(r)
	}
	body, err := io.ReadAll(r.Body)
	r.Body.Close()
	if err != nil {
		return nil, err
	}
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	return h.c.Do(r)
}

func decode(t *testing.T, tok *string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(aws.ToString(tok))
	if err != nil {
		t.Fatalf("token is not base64: %v", err)
	}
	return string(b)
}

func TestWireProtocols(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	srv := ecrtest.StartWith(t, ecrtest.Options{Now: func() time.Time { return now }})
	ec, pub, st := clients(srv)
	ctx := context.Background()

	out, err := ec.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{RegistryIds: []string{"123456789012", "210987654321"}})
	if err != nil {
		t.Fatalf("GetAuthorizationToken error: %v", err)
	}
	if len(out.AuthorizationData) != 2 || aws.ToString(out.AuthorizationData[1].ProxyEndpoint) != "https://210987654321.dkr.ecr.eu-west-1.amazonaws.com" ||
		!aws.ToTime(out.AuthorizationData[0].ExpiresAt).Equal(now.Add(12*time.Hour)) {
		t.Errorf("GetAuthorizationToken = %+v, want two entries expiring in 12h", out.AuthorizationData)
	}
	r := srv.Requests(ecrtest.GetAuthorizationToken)[0]
	if got := decode(t, out.AuthorizationData[0].AuthorizationToken); got != "AWS:"+r.Password {
		t.Errorf("token decodes to %q, want AWS:%s", got, r.Password)
	}
	want := ecrtest.Request{Op: ecrtest.GetAuthorizationToken, Host: strings.TrimPrefix(srv.URL(), "http://"),
		AccessKeyID: ecrtest.NodeAccessKeyID, Region: "eu-west-1", Service: "ecr",
		RegistryIDs: []string{"123456789012", "210987654321"}, Password: r.Password, ExpiresAt: now.Add(12 * time.Hour)}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("recorded request (-want +got):\n%s", diff)
	}

	pout, err := pub.GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatalf("ecrpublic GetAuthorizationToken error: %v", err)
	}
	if got := decode(t, pout.AuthorizationData.AuthorizationToken); !strings.HasPrefix(got, "AWS:pw-") {
		t.Errorf("public token decodes to %q", got)
	}
	if r := srv.Requests(ecrtest.PublicGetAuthorizationToken)[0]; r.Service != "ecr-public" || r.Region != "us-east-1" {
		t.Errorf("public request signed for %s in %s, want ecr-public in us-east-1", r.Service, r.Region)
	}

	sout, err := st.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String("jwt")})
	if err != nil {
		t.Fatalf("AssumeRoleWithWebIdentity error: %v", err)
	}
	sr := srv.Requests(ecrtest.AssumeRoleWithWebIdentity)[0]
	if aws.ToString(sout.Credentials.AccessKeyId) != sr.IssuedKeyID || !aws.ToTime(sout.Credentials.Expiration).Equal(now.Add(time.Hour)) ||
		aws.ToString(sout.AssumedRoleUser.Arn) != "arn:aws:sts::123456789012:assumed-role/r/s" {
		t.Errorf("AssumeRoleWithWebIdentity = %+v, %+v", sout.Credentials, sout.AssumedRoleUser)
	}
	if sr.RoleARN != "arn:aws:iam::123456789012:role/r" || sr.RoleSessionName != "s" || sr.WebIdentityToken != "jwt" || sr.AccessKeyID != "" {
		t.Errorf("recorded STS request = %+v, want role r, session s, token jwt, unsigned", sr)
	}

	// A token for the session's credentials ends with the session.
	ec2 := ecr.NewFromConfig(aws.Config{Region: "eu-west-1", Retryer: func() aws.Retryer { return aws.NopRetryer{} },
		Credentials: credentials.NewStaticCredentialsProvider(sr.IssuedKeyID, "x", "y"), HTTPClient: inMemoryBodies{awshttp.NewBuildableClient()}},
		func(o *ecr.Options) { o.BaseEndpoint = aws.String(srv.URL()) })
	out, err = ec2.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToTime(out.AuthorizationData[0].ExpiresAt); !got.Equal(now.Add(time.Hour)) {
		t.Errorf("token for a session expires at %v, want the session's end %v", got, now.Add(time.Hour))
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		op       ecrtest.Op
		fault    ecrtest.Fault
		wantCode string // API error code; "" for a decoding failure
		retry    bool
	}{
		{"ecr throttle", ecrtest.GetAuthorizationToken, ecrtest.Throttle, "ThrottlingException", true},
		{"ecr 500", ecrtest.GetAuthorizationToken, ecrtest.ServerError, "ServerException", true},
		{"ecr access denied", ecrtest.GetAuthorizationToken, ecrtest.AccessDenied, "AccessDeniedException", false},
		{"ecr malformed", ecrtest.GetAuthorizationToken, ecrtest.Malformed, "", false},
		{"ecr wrong type", ecrtest.GetAuthorizationToken, ecrtest.WrongType, "", false},
		{"public throttle", ecrtest.PublicGetAuthorizationToken, ecrtest.Throttle, "ThrottlingException", true},
		{"public malformed", ecrtest.PublicGetAuthorizationToken, ecrtest.Malformed, "", false},
		{"sts throttle", ecrtest.AssumeRoleWithWebIdentity, ecrtest.Throttle, "Throttling", true},
		{"sts 500", ecrtest.AssumeRoleWithWebIdentity, ecrtest.ServerError, "InternalFailure", true},
		{"sts access denied", ecrtest.AssumeRoleWithWebIdentity, ecrtest.AccessDenied, "AccessDenied", false},
		{"sts malformed", ecrtest.AssumeRoleWithWebIdentity, ecrtest.Malformed, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := ecrtest.Start(t)
			ec, pub, st := clients(srv)
			srv.Inject(tc.op, tc.fault, 1)
			call := func() error {
				var err error
				switch tc.op {
				case ecrtest.GetAuthorizationToken:
					_, err = ec.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
				case ecrtest.PublicGetAuthorizationToken:
					_, err = pub.GetAuthorizationToken(ctx, &ecrpublic.GetAuthorizationTokenInput{})
				default:
					_, err = st.AssumeRoleWithWebIdentity(ctx, &sts.AssumeRoleWithWebIdentityInput{
						RoleArn: aws.String("arn:aws:iam::123456789012:role/r"), RoleSessionName: aws.String("s"), WebIdentityToken: aws.String("t")})
				}
				return err
			}
			err := call()
			var api smithy.APIError
			switch {
			case err == nil:
				t.Fatalf("%s with %s injected: no error", tc.op, tc.fault)
			case tc.wantCode == "" && errors.As(err, &api):
				t.Errorf("%s with %s injected: API error %v, want a decoding failure", tc.op, tc.fault, err)
			case tc.wantCode != "" && (!errors.As(err, &api) || api.ErrorCode() != tc.wantCode):
				t.Errorf("%s with %s injected: error %v, want code %s", tc.op, tc.fault, err, tc.wantCode)
			case tc.wantCode != "" && retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err).Bool() != tc.retry:
				t.Errorf("%s with %s injected: SDK retryable = %v, want %v", tc.op, tc.fault, !tc.retry, tc.retry)
			}
			if err := call(); err != nil {
				t.Errorf("%s after the fault: %v", tc.op, err)
			}
			if got := srv.Requests(tc.op); len(got) != 2 || got[0].Fault != tc.fault || got[1].Fault != "" {
				t.Errorf("recorded faults = %+v, want %s then none", got, tc.fault)
			}
		})
	}
}

func TestInjectQueue(t *testing.T) {
	srv := ecrtest.Start(t)
	ec, _, _ := clients(srv)
	srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.Throttle, 2)
	srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.ServerError, 1)
	for range 4 {
		ec.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{})
	}
	var got []ecrtest.Fault
	for _, r := range srv.Requests(ecrtest.GetAuthorizationToken) {
		got = append(got, r.Fault)
	}
	want := []ecrtest.Fault{ecrtest.Throttle, ecrtest.Throttle, ecrtest.ServerError, ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("faults answered (-want +got):\n%s", diff)
	}
}

func TestUnsignedECRCallRefused(t *testing.T) {
	srv := ecrtest.Start(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL(), strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken")
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned GetAuthorizationToken: status %d, want 400", resp.StatusCode)
	}
}

func TestRemote(t *testing.T) {
	srv := ecrtest.Start(t)
	remote := ecrtest.Remote{URL: srv.URL()}
	ec, _, _ := clients(srv)
	if err := remote.Inject(ecrtest.GetAuthorizationToken, ecrtest.AccessDenied, 1); err != nil {
		t.Fatal(err)
	}
	if err := remote.SetPasswordLength(3000); err != nil {
		t.Fatal(err)
	}
	if err := remote.SetTokenLifetime(time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := ec.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{}); err == nil {
		t.Errorf("GetAuthorizationToken after remote Inject: no error")
	}
	if _, err := ec.GetAuthorizationToken(context.Background(), &ecr.GetAuthorizationTokenInput{}); err != nil {
		t.Fatal(err)
	}
	reqs, err := remote.Requests(ecrtest.GetAuthorizationToken)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 2 || reqs[0].Fault != ecrtest.AccessDenied || len(reqs[1].Password) != 3000 {
		t.Errorf("remote Requests = %d requests, first fault %q, second password %d long; want 2, access-denied, 3000",
			len(reqs), reqs[0].Fault, len(reqs[1].Password))
	}
	if n, err := remote.Calls(""); err != nil || n != 2 {
		t.Errorf("remote Calls = %d, %v; want 2", n, err)
	}
	if err := remote.Reset(); err != nil {
		t.Fatal(err)
	}
	if n, _ := remote.Calls(""); n != 0 {
		t.Errorf("Calls after Reset = %d, want 0", n)
	}
	if err := remote.Inject("s3:GetObject", ecrtest.Throttle, 1); err == nil {
		t.Errorf("remote Inject of an unknown op: no error")
	}
}

func TestNewServerRefusesNonLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.0.0.1:0", "example.com:0"} {
		if s, err := ecrtest.NewServer(ecrtest.Options{Addr: addr}); err == nil {
			s.Close()
			t.Errorf("NewServer(Addr: %q) = nil error, want a refusal", addr)
		}
	}
}

func TestEnv(t *testing.T) {
	srv := ecrtest.Start(t)
	env := strings.Join(srv.Env(), "\n")
	for _, want := range []string{"AWS_ENDPOINT_URL_ECR=" + srv.URL(), "AWS_ENDPOINT_URL_ECR_PUBLIC=" + srv.URL(),
		"AWS_ENDPOINT_URL_STS=" + srv.URL(), "AWS_EC2_METADATA_DISABLED=true", "AWS_ACCESS_KEY_ID=" + ecrtest.NodeAccessKeyID} {
		if !strings.Contains(env, want) {
			t.Errorf("Env() lacks %s", want)
		}
	}
}
