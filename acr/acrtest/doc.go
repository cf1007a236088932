// Package acrtest is a fake of the Azure endpoints the acr provider talks to, for tests: three
// loopback servers speaking the wire formats the real azidentity and azcontainerregistry
// clients speak, so that tests exercise the real clients, their retries and error decoding.
//
//   - IMDS (plain HTTP, as on a VM): GET /metadata/identity/oauth2/token?api-version=…&
//     resource=…[&client_id=…|&mi_res_id=…] with the header "Metadata: true" (400 without it,
//     and without api-version); the answer is {"access_token","client_id","expires_in",
//     "expires_on","ext_expires_in","not_before","resource","token_type"} with numbers as
//     strings, as IMDS writes them. An identity the VM does not have is 400
//     {"error":"invalid_request","error_description":"Identity not found"}.
//   - AAD (TLS): GET /<tenant>/v2.0/.well-known/openid-configuration, which MSAL reads to find
//     the token endpoint, and POST /<tenant>/oauth2/v2.0/token with grant_type
//     client_credentials and either client_secret or client_assertion_type
//     urn:ietf:params:oauth:client-assertion-type:jwt-bearer and client_assertion. The answer
//     is {"token_type":"Bearer","expires_in","ext_expires_in","access_token"}; errors are
//     AAD's {"error","error_description","error_codes":[…]} (invalid_client AADSTS7000215 for
//     a wrong secret, AADSTS700016 for an unknown application, invalid_request
//     AADSTS700213 for an assertion without a matching federated credential).
//   - The registry (TLS): POST /oauth2/exchange, a form of grant_type=access_token, service,
//     tenant and access_token, answered {"refresh_token":…}; 401 for a token the fake did not
//     issue, one for another audience (an ARM token), or a service it does not host. GET /v2/
//     answers 401 with the Bearer challenge (realm https://<service>/oauth2/token).
//
// Access tokens and refresh tokens are unsigned JWTs whose claims say who they were issued to
// (tid, appid, aud, exp), so a test can tell which identity and which call a password came
// from; Requests records each call. Fail injects an HTTP error for the next n calls of an
// operation, Block holds them until the client gives up (a slow endpoint), and Counts counts.
//
// # Use in a test
//
//	f := acrtest.Start(t)                    // closed at the end of the test
//	f.AddApp(acrtest.App{ClientID: …, Tenant: …, Secret: …})
//	p, _ := acr.New(acr.Options{IMDSEndpoint: f.IMDSURL(), AuthorityHost: f.AADURL(),
//		ExchangeEndpoint: f.RegistryURL(), Transport: f.Client()})
//
// Env and Args give the environment and flags that point a plugin binary at the fake
// (SSL_CERT_FILE trusts its certificate).
package acrtest
