// Package ecrtest is a fake of Amazon ECR, ECR Public and STS for tests: one loopback HTTP
// server speaking the wire protocols the real AWS SDK clients speak, so that tests exercise
// the real clients, their serialisation, signing, retries and error decoding.
//
//   - ECR GetAuthorizationToken: AWS JSON 1.1, POST / with
//     X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken and a body of
//     {"registryIds":[…]}; the answer is {"authorizationData":[{"authorizationToken":…,
//     "expiresAt":<epoch seconds>,"proxyEndpoint":"https://<account>.dkr.ecr.<region>.amazonaws.com"}]},
//     one entry per registry ID. The request must be SigV4-signed; the fake records the access
//     key, region and service of the signature (it does not check the signature itself).
//   - ECR Public GetAuthorizationToken: AWS JSON 1.1 with
//     X-Amz-Target: SpencerFrontendService.GetAuthorizationToken; the answer is
//     {"authorizationData":{"authorizationToken":…,"expiresAt":…}}.
//   - STS AssumeRoleWithWebIdentity: the query protocol (form POST with Action and Version)
//     answered in XML with temporary credentials. A token issued later to those credentials
//     expires no later than their session: a modelling choice (ECR documents 12 hours), which
//     lets tests see a lifetime other than the default.
//
// Errors take the services' own shapes: {"__type":"ThrottlingException","message":…} with
// status 400 for the JSON services, <ErrorResponse><Error><Code>… for STS.
//
// Tokens decode to "AWS:pw-<n>-<access key>-<account>-<region>", padded to
// SetPasswordLength, so a test can tell which identity and which call a password came from;
// Requests records, for each call, what was asked and what was issued.
//
// # Use in a test
//
//	srv := ecrtest.Start(t)   // closed at the end of the test
//	srv.Setenv(t)             // AWS_ENDPOINT_URL_ECR, …_ECR_PUBLIC, …_STS, static keys, IMDS off
//	srv.Inject(ecrtest.GetAuthorizationToken, ecrtest.Throttle, 2)
//	… run the provider …
//	srv.Calls(ecrtest.GetAuthorizationToken) // 3
//
// Knobs: Inject (throttling, 5xx, access denied, malformed or wrongly typed answers,
// undecodable tokens, missing data; for the next n calls or for good), SetLatency,
// SetTokenLifetime, SetPasswordLength, Reset; Options.Now for a fake clock.
//
// # Throttling at cluster scale
//
// SetBucket models ECR's rate limit of GetAuthorizationToken, a token bucket per account and
// region (about 20 calls a second, a burst of 200): a call that finds it empty gets ECR's
// 400 ThrottlingException. SetGate(n) holds the next n token calls until the n-th arrives and
// releases them together, so that n plugin processes, however long they took to start, ask at
// the same instant, as the nodes of a new node group do; Gate says when.
//
// # In another process
//
// NewServer runs the fake outside a test, and the fake-aws command (cmd/fake-aws) runs it as
// a process on a loopback port, printing its URL. Env gives the environment that points a
// plugin binary at it, and Remote drives it through its control API under /_fake/.
package ecrtest
