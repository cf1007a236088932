package ecrtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// controlPrefix is the path of the control API, which no AWS client ever calls (they all
// POST to /).
const controlPrefix = "/_fake/"

// control serves the control API, for a fake running in another process (see Remote):
//
//	GET  /_fake/requests[?op=<op>]                 the requests received, as JSON
//	POST /_fake/inject?op=<op>&fault=<fault>&n=<n> Inject
//	POST /_fake/set?latency=<d>&tokenLifetime=<d>&passwordLength=<n>&bucket=<rate>,<burst>&gate=<n>
//	                                               (each optional)
//	POST /_fake/reset                              Reset
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch cmd := strings.TrimPrefix(r.URL.Path, controlPrefix); {
	case cmd == "requests" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		reqs := s.Requests(Op(q.Get("op")))
		if reqs == nil {
			reqs = []Request{}
		}
		json.NewEncoder(w).Encode(reqs)
	case cmd == "inject" && r.Method == http.MethodPost:
		n, err := strconv.Atoi(q.Get("n"))
		if err != nil || !known(Ops(), Op(q.Get("op"))) || !known(Faults(), Fault(q.Get("fault"))) {
			http.Error(w, "want op, fault and n", http.StatusBadRequest)
			return
		}
		s.Inject(Op(q.Get("op")), Fault(q.Get("fault")), n)
	case cmd == "set" && r.Method == http.MethodPost:
		for name, set := range map[string]func(string) error{
			"latency":       durationSetter(s.SetLatency),
			"tokenLifetime": durationSetter(s.SetTokenLifetime),
			"passwordLength": func(v string) error {
				n, err := strconv.Atoi(v)
				if err == nil {
					s.SetPasswordLength(n)
				}
				return err
			},
			"bucket": func(v string) error {
				r, b, ok := strings.Cut(v, ",")
				rate, err := strconv.ParseFloat(r, 64)
				burst, err2 := strconv.Atoi(b)
				if !ok || err != nil || err2 != nil {
					return fmt.Errorf("%q is not <rate>,<burst>", v)
				}
				s.SetBucket(rate, burst)
				return nil
			},
			"gate": func(v string) error {
				n, err := strconv.Atoi(v)
				if err == nil {
					s.SetGate(n)
				}
				return err
			},
		} {
			if q.Has(name) {
				if err := set(q.Get(name)); err != nil {
					http.Error(w, name+": "+err.Error(), http.StatusBadRequest)
					return
				}
			}
		}
	case cmd == "reset" && r.Method == http.MethodPost:
		s.Reset()
	default:
		http.NotFound(w, r)
	}
}

func durationSetter(set func(time.Duration)) func(string) error {
	return func(v string) error {
		d, err := time.ParseDuration(v)
		if err == nil {
			set(d)
		}
		return err
	}
}

func known[T comparable](all []T, v T) bool {
	for _, a := range all {
		if a == v {
			return true
		}
	}
	return false
}

// Remote drives a fake running in another process (see cmd/fake-aws) through its control
// API.
type Remote struct {
	// URL is the fake's base URL, as printed by the fake.
	URL string
	// Client sends the control requests; nil means http.DefaultClient.
	Client *http.Client
}

func (r Remote) do(method, cmd string, q url.Values) ([]byte, error) {
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest(method, strings.TrimRight(r.URL, "/")+controlPrefix+cmd+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ecrtest: %s: %w", cmd, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("ecrtest: %s: %s: %s", cmd, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, err
}

// Inject is Server.Inject.
func (r Remote) Inject(op Op, f Fault, n int) error {
	_, err := r.do(http.MethodPost, "inject", url.Values{"op": {string(op)}, "fault": {string(f)}, "n": {strconv.Itoa(n)}})
	return err
}

// SetLatency is Server.SetLatency.
func (r Remote) SetLatency(d time.Duration) error {
	_, err := r.do(http.MethodPost, "set", url.Values{"latency": {d.String()}})
	return err
}

// SetTokenLifetime is Server.SetTokenLifetime.
func (r Remote) SetTokenLifetime(d time.Duration) error {
	_, err := r.do(http.MethodPost, "set", url.Values{"tokenLifetime": {d.String()}})
	return err
}

// SetPasswordLength is Server.SetPasswordLength.
func (r Remote) SetPasswordLength(n int) error {
	_, err := r.do(http.MethodPost, "set", url.Values{"passwordLength": {strconv.Itoa(n)}})
	return err
}

// SetBucket is Server.SetBucket.
func (r Remote) SetBucket(rate float64, burst int) error {
	_, err := r.do(http.MethodPost, "set", url.Values{"bucket": {strconv.FormatFloat(rate, 'g', -1, 64) + "," + strconv.Itoa(burst)}})
	return err
}

// SetGate is Server.SetGate.
func (r Remote) SetGate(n int) error {
	_, err := r.do(http.MethodPost, "set", url.Values{"gate": {strconv.Itoa(n)}})
	return err
}

// Reset is Server.Reset.
func (r Remote) Reset() error {
	_, err := r.do(http.MethodPost, "reset", nil)
	return err
}

// Requests is Server.Requests.
func (r Remote) Requests(op Op) ([]Request, error) {
	body, err := r.do(http.MethodGet, "requests", url.Values{"op": {string(op)}})
	if err != nil {
		return nil, err
	}
	var out []Request
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("ecrtest: requests: %w", err)
	}
	return out, nil
}

// Calls is Server.Calls.
func (r Remote) Calls(op Op) (int, error) {
	reqs, err := r.Requests(op)
	return len(reqs), err
}
