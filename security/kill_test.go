//go:build linux

package security

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pullkeys/pullkeys/ecr/ecrtest"
	"github.com/pullkeys/pullkeys/gcr"
	"github.com/pullkeys/pullkeys/gcr/gcrtest"
	"github.com/pullkeys/pullkeys/providers"
)

// storm is the setting of TestHundredProcessesKilledAtRandom: the fakes, one shared cache
// directory, and the keys (registry and identity) the processes ask for.
type storm struct {
	ecr   *ecrtest.Server
	md    *gcrtest.Metadata
	dir   string
	nodeA env // two node identities for ECR: different access keys
	nodeB env
	gcr   env
}

const (
	otherAccessKeyID = "AKIAFAKEOTHERNODE000"
	robotAccount     = "robot@fake-project.iam.gserviceaccount.com"
	robotToken       = "ya29.robot-fixed-token"
)

// stormKey is one registry and identity: what the shared cache keys an entry by, and what the
// fake must see at most one call for.
type stormKey struct {
	binary   string
	identity string // "node-a", "node-b"; or the GCE service account
	registry string // ECR host; "" for GCR (one token for every Google registry)
}

func (k stormKey) String() string { return k.binary + "/" + k.identity + "/" + k.registry }

// job is one plugin process of the storm.
type job struct {
	key   stormKey
	image string
	cmd   *exec.Cmd
	out   bytes.Buffer
	errb  bytes.Buffer
	kill  bool // chosen to be killed
	ended *os.ProcessState
	life  time.Duration
}

var stormECRImages = []string{
	"111111111111.dkr.ecr.us-east-1.amazonaws.com/team/app",
	"111111111111.dkr.ecr.eu-west-1.amazonaws.com/team/app",
	"222222222222.dkr.ecr.us-east-1.amazonaws.com/other/app",
	"333333333333.dkr.ecr.ap-southeast-2.amazonaws.com/other/app",
	"public.ecr.aws/team/app",
}

var stormGCRImages = []string{"gcr.io/p/app", "us-docker.pkg.dev/p/r/app", "eu.gcr.io/p/other"}

func newStorm(t *testing.T) *storm {
	s := &storm{ecr: ecrtest.Start(t), md: gcrtest.NewMetadata(), dir: t.TempDir()}
	t.Cleanup(s.md.Close)
	s.md.SetAccount(robotAccount, gcrtest.Account{Email: robotAccount, Scopes: []string{gcrtest.ScopeDevstorageReadOnly}, Token: robotToken})
	base := newEnv(t)
	s.nodeA = base.with(s.ecr.Env()...)
	s.nodeB = s.nodeA.with("AWS_ACCESS_KEY_ID=" + otherAccessKeyID)
	s.gcr = base.with("GCE_METADATA_HOST=" + s.md.Host())
	return s
}

// newJob returns the i-th process: the first 70 ECR, over every registry and both identities,
// the next 30 GCR over both service accounts and several registries.
func (s *storm) newJob(t *testing.T, i int) *job {
	j := &job{}
	var args []string
	var e env
	if i < 70 {
		j.image = stormECRImages[i%len(stormECRImages)]
		host, _, _ := strings.Cut(j.image, "/")
		j.key = stormKey{binary: ecrBin, identity: "node-a", registry: host}
		e = s.nodeA
		if (i/len(stormECRImages))%2 == 1 {
			j.key.identity, e = "node-b", s.nodeB
		}
		args = []string{"--max-backoff=1ms"}
	} else {
		c := i - 70
		j.image = stormGCRImages[c%len(stormGCRImages)]
		j.key = stormKey{binary: gcrBin, identity: "default"}
		e = s.gcr
		if (c/len(stormGCRImages))%2 == 1 {
			j.key.identity = robotAccount
		}
		args = []string{"--service-account=" + j.key.identity}
	}
	args = append(args, "--cache-dir="+s.dir, "--timeout=30s")
	j.cmd = exec.Command(binary(t, j.key.binary), args...)
	j.cmd.Env = e.list()
	j.cmd.Dir = s.dir
	j.cmd.Stdin = strings.NewReader(request(providers.APIVersionV1, j.image, "", nil))
	j.cmd.Stdout, j.cmd.Stderr = &j.out, &j.errb
	return j
}

// issued returns what the fakes issued for k (passwords or tokens) and how many calls k made.
func (s *storm) issued(k stormKey) (passwords map[string]bool, calls int) {
	passwords = map[string]bool{}
	if k.binary == gcrBin {
		calls = s.md.Calls(gcrtest.TokenPath(k.identity))
		for _, tok := range s.md.Issued() {
			if (tok == robotToken) == (k.identity == robotAccount) {
				passwords[tok] = true
			}
		}
		return passwords, calls
	}
	accessKey := ecrtest.NodeAccessKeyID
	if k.identity == "node-b" {
		accessKey = otherAccessKeyID
	}
	for _, r := range s.ecr.Requests("") {
		if r.AccessKeyID != accessKey || r.Op == ecrtest.AssumeRoleWithWebIdentity {
			continue
		}
		account, region := "public", "us-east-1"
		if !strings.HasPrefix(k.registry, "public.") {
			account, _, _ = strings.Cut(k.registry, ".")
			region = strings.Split(k.registry, ".")[3]
		}
		if len(r.RegistryIDs) > 0 && r.RegistryIDs[0] != account || r.Region != region ||
			(r.Op == ecrtest.PublicGetAuthorizationToken) != (account == "public") {
			continue
		}
		calls++
		if r.Password != "" {
			passwords[r.Password] = true
		}
	}
	return passwords, calls
}

// checkAnswer checks a survivor's answer: the right keys, and a password the fakes issued for
// the job's registry and identity.
func (s *storm) checkAnswer(t *testing.T, what string, k stormKey, stdout string) {
	t.Helper()
	resp, err := providers.DecodeResponse([]byte(stdout), providers.APIVersionV1)
	if err != nil {
		t.Errorf("%s: DecodeResponse(stdout) = %v", what, err)
		return
	}
	want := []string{k.registry}
	if k.binary == gcrBin {
		want = gcr.DefaultRegistries()
		sort.Strings(want)
	}
	if diff := cmp.Diff(want, keysOf(resp.Auth)); diff != "" {
		t.Errorf("%s: auth keys mismatch (-want +got):\n%s", what, diff)
		return
	}
	passwords, _ := s.issued(k)
	for key, a := range resp.Auth {
		if !passwords[a.Password] {
			t.Errorf("%s: the password for %s is not one the fake issued for %v", what, key, k)
		}
	}
}

// TestHundredProcessesKilledAtRandom starts 100 plugin processes at once (ECR and GCR, mixed
// registries, regions, accounts and identities, one shared --cache-dir) and SIGKILLs a random
// third of them at random moments. Every process that was not killed must answer correctly;
// the fakes must see at most one call per registry and identity, plus one for each process
// of that key that was killed (a process killed after the API answered, before it wrote the
// entry, takes the token with it: nothing can avoid that second call); and the cache must be
// readable afterwards: one more process per key answers from it without a call when a
// survivor had answered, or rebuilds it with at most one.
func TestHundredProcessesKilledAtRandom(t *testing.T) {
	s := newStorm(t)
	const n = 100
	jobs := make([]*job, n)
	for i := range jobs {
		jobs[i] = s.newJob(t, i)
		jobs[i].kill = rand.IntN(3) == 0
	}
	// Each chosen process is killed after a random delay of up to 250ms from its start: the
	// span in which, on a loaded node, a plugin starts, reads the cache, waits for the lock,
	// calls the API and writes the entry.
	var wg sync.WaitGroup
	var timers []*time.Timer
	killErrs := make(chan error, n)
	for _, j := range jobs {
		if err := j.cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", j.key.binary, err)
		}
		start := time.Now()
		if j.kill {
			timers = append(timers, time.AfterFunc(time.Duration(rand.Int64N(int64(250*time.Millisecond))), func() {
				if err := j.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
					killErrs <- err
				}
			}))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			j.cmd.Wait()
			j.ended = j.cmd.ProcessState
			j.life = time.Since(start)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(kubeletKill):
		for _, j := range jobs {
			j.cmd.Process.Kill()
		}
		<-done
		t.Fatalf("the processes were still running after the kubelet's %v kill", kubeletKill)
	}
	for _, tm := range timers { // every process has ended: kills not yet sent are moot
		tm.Stop()
	}
	select {
	case err := <-killErrs:
		t.Errorf("SIGKILL: %v", err)
	default:
	}

	killed := map[stormKey]int{}
	survivors := map[stormKey]int{}
	for i, j := range jobs {
		what := fmt.Sprintf("process %d (%s for %s)", i, j.key.binary, j.image)
		if ws, ok := j.ended.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			killed[j.key]++
			continue
		}
		survivors[j.key]++
		if j.ended.ExitCode() != 0 || j.errb.Len() != 0 {
			t.Errorf("%s: exit %d, stderr %q; want an answer and a quiet stderr", what, j.ended.ExitCode(), j.errb.String())
			continue
		}
		s.checkAnswer(t, what, j.key, j.out.String())
	}
	nKilled := 0
	for _, c := range killed {
		nKilled += c
	}
	keys := map[stormKey]bool{}
	for _, j := range jobs {
		keys[j.key] = true
	}
	var lives []time.Duration
	for _, j := range jobs {
		lives = append(lives, j.life)
	}
	sort.Slice(lives, func(a, b int) bool { return lives[a] < lives[b] })
	t.Logf("%d processes, %d killed, %d keys; lifetimes %v %v %v", n, nKilled, len(keys), lives[0], lives[n/2], lives[n-1])

	before := map[stormKey]int{}
	for k := range keys {
		_, calls := s.issued(k)
		before[k] = calls
		if calls > 1+killed[k] {
			t.Errorf("%v: the fake saw %d calls, want at most 1 + %d (processes of the key killed)", k, calls, killed[k])
		}
	}

	// One more process per key, on the cache the storm left.
	for k := range keys {
		var j *job
		for i := 0; j == nil; i++ {
			if c := s.newJob(t, i); c.key == k {
				j = c
			}
		}
		if err := j.cmd.Run(); err != nil {
			t.Errorf("after the storm, %v: %v; stderr %q", k, err, j.errb.String())
			continue
		}
		s.checkAnswer(t, fmt.Sprintf("after the storm, %v", k), k, j.out.String())
		_, calls := s.issued(k)
		switch {
		case survivors[k] > 0 && calls != before[k]:
			t.Errorf("after the storm, %v: %d new calls, want 0: a survivor's entry must be on disk", k, calls-before[k])
		case calls > before[k]+1:
			t.Errorf("after the storm, %v: %d new calls, want at most 1", k, calls-before[k])
		}
	}
}
