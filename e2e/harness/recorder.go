package harness

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
)

// RecorderOptions configures StartRecorder.
type RecorderOptions struct {
	// CA signs the recorder's certificate. Nil: a new CA.
	CA *CA
	// Hosts are extra names its certificate covers (it always covers 127.0.0.1, localhost).
	Hosts []string
	// Status answers every request. Zero: 401 with a Basic challenge, as a registry that
	// requires credentials answers.
	Status int
	// StatusWithCredential, when nonzero, answers the requests that carry a credential;
	// the others still get Status. With the default Status, 503 makes a registry that asks
	// for credentials and then fails, as a broken mirror or cache does after authentication.
	StatusWithCredential int
	// PlainHTTP serves HTTP instead of TLS; CA and Hosts then go unused.
	// containerd speaks plain HTTP to a registry on a loopback address that no hosts.toml
	// line names (the default server of 127.0.0.1:<port> or localhost:<port>), so a recorder
	// that stands in for such a registry must too.
	PlainHTTP bool
}

// Recorder is a recording stand-in for a registry a test must prove nothing reaches (an
// upstream behind a mirror, a host a credential must not be sent to): a TLS server on
// 127.0.0.1 (plain HTTP with RecorderOptions.PlainHTTP) that records every request with the
// credential it carried and answers each with RecorderOptions.Status, or StatusWithCredential
// when set and the request carries a credential.
type Recorder struct {
	// Addr is its host:port on loopback.
	Addr string
	// CA signed its certificate.
	CA *CA

	srv      *httptest.Server
	mu       sync.Mutex
	requests []Request
}

// StartRecorder starts a recording stand-in. Close it when done.
func StartRecorder(opts RecorderOptions) (*Recorder, error) {
	ca := opts.CA
	if ca == nil {
		var err error
		if ca, err = NewCA(); err != nil {
			return nil, err
		}
	}
	cert, err := ca.Issue(append([]string{"127.0.0.1", "localhost"}, opts.Hosts...)...)
	if err != nil {
		return nil, err
	}
	status := opts.Status
	if status == 0 {
		status = http.StatusUnauthorized
	}
	r := &Recorder{CA: ca}
	r.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		seen := authOf(req)
		status := status
		if opts.StatusWithCredential != 0 && seen.Scheme != "" {
			status = opts.StatusWithCredential
		}
		r.mu.Lock()
		r.requests = append(r.requests, Request{Method: req.Method, Host: req.Host, Path: req.URL.Path, User: seen.User, Status: status, Auth: seen})
		r.mu.Unlock()
		if status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Basic realm="pullkeys-e2e-recorder"`)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":"UNKNOWN","message":"recording stand-in answers %d"}]}`+"\n", status)
	}))
	r.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if opts.PlainHTTP {
		r.srv.Start()
	} else {
		r.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		r.srv.StartTLS()
	}
	r.Addr = r.srv.Listener.Addr().String()
	return r, nil
}

// Requests returns the requests recorded so far, oldest first.
func (r *Recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.requests...)
}

// Close stops the recorder.
func (r *Recorder) Close() { r.srv.Close() }
