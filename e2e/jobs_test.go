package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// logLine is a line of a worker's JSON log, as far as these tests read it.
type logLine struct {
	Time      time.Time `json:"time"`
	Msg       string    `json:"msg"`
	Tenant    string    `json:"tenant"`
	Job       string    `json:"job"`
	Owner     string    `json:"owner"`
	Fence     int64     `json:"fence"`
	LeaseLost bool      `json:"lease_lost"`
}

// lines reads the worker's log so far; lines that are not JSON (a last
// line cut by SIGKILL) are skipped.
func (w *worker) lines() []logLine {
	b, _ := os.ReadFile(w.logPath)
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			out = append(out, l)
		}
	}
	return out
}

// jobRun is one held lease of one job, from the start and end lines.
type jobRun struct {
	worker     string
	start, end time.Time // end is zero when the worker died holding it
	fence      int64
	lost       bool
}

// runs reads the job runs a worker logged, by tenant/job.
func (w *worker) runs() map[string][]*jobRun {
	out := map[string][]*jobRun{}
	open := map[string]*jobRun{}
	for _, l := range w.lines() {
		key := l.Tenant + "/" + l.Job
		id := fmt.Sprintf("%s#%d", key, l.Fence)
		switch l.Msg {
		case "job started":
			r := &jobRun{worker: w.name, start: l.Time, fence: l.Fence}
			open[id] = r
			out[key] = append(out[key], r)
		case "job finished":
			if r := open[id]; r != nil {
				r.end, r.lost = l.Time, l.LeaseLost
				delete(open, id)
			}
		}
	}
	return out
}

// polling reports whether the worker is in the middle of a job: a job
// started and not finished in its log.
func (w *worker) polling() bool {
	for _, rs := range w.runs() {
		if r := rs[len(rs)-1]; r.end.IsZero() {
			return true
		}
	}
	return false
}

// assertJobsNeverOverlap checks, across every worker's log, that each
// job's runs took rising fencing tokens and never overlapped: a run that
// ended with its lease held ended before the next run began. A run whose
// worker was killed holding the lease has no end; the next one could only
// begin after that lease expired. It returns how many runs each worker
// made.
func (e *env) assertJobsNeverOverlap() map[string]int {
	t := e.t
	t.Helper()
	byJob := map[string][]*jobRun{}
	perWorker := map[string]int{}
	for _, w := range e.workers {
		for key, rs := range w.runs() {
			byJob[key] = append(byJob[key], rs...)
			perWorker[w.name] += len(rs)
		}
	}
	overlaps := 0
	for key, rs := range byJob {
		sort.Slice(rs, func(i, j int) bool { return rs[i].fence < rs[j].fence })
		for i := 1; i < len(rs); i++ {
			a, b := rs[i-1], rs[i]
			switch {
			case a.fence == b.fence:
				t.Errorf("%s: %s and %s both ran under fence %d", key, a.worker, b.worker, a.fence)
			case b.start.Before(a.start):
				t.Errorf("%s: fence %d (%s) started at %s, before fence %d (%s) at %s", key,
					b.fence, b.worker, b.start.Format(time.RFC3339Nano), a.fence, a.worker, a.start.Format(time.RFC3339Nano))
			case !a.end.IsZero() && !a.lost && b.start.Before(a.end):
				overlaps++
				msg := fmt.Sprintf("%s: %s ran fence %d from %s to %s while %s started fence %d at %s", key, a.worker, a.fence,
					a.start.Format(time.RFC3339Nano), a.end.Format(time.RFC3339Nano), b.worker, b.fence, b.start.Format(time.RFC3339Nano))
				if a.end.Sub(a.start) < leaseTTL/2 {
					// The lease was granted for leaseTTL just before the
					// start line, so it was held all through this run:
					// two processes ran the job at once.
					t.Error(msg)
				} else {
					// A run this long lives on renewals; one that came too
					// late on a starved machine lets the lease expire and
					// the fence, not the lease, keeps the runs apart.
					t.Log(msg + " (long enough for its lease to expire between renewals)")
				}
			}
		}
	}
	if len(perWorker) <= 4 {
		t.Logf("job runs per worker: %v; %d jobs, %d overlaps", perWorker, len(byJob), overlaps)
	} else {
		runs := 0
		for _, n := range perWorker {
			runs += n
		}
		t.Logf("%d job runs by %d workers; %d jobs, %d overlaps", runs, len(perWorker), len(byJob), overlaps)
	}
	return perWorker
}

// assertLogsClean checks every worker's log: each line one JSON object
// whose keys are unique (a repeated key, such as a trace id added twice,
// is read differently by every log pipeline), and no tenant's token
// anywhere. A worker killed with SIGKILL may leave its last line cut.
func (e *env) assertLogsClean() {
	e.t.Helper()
	for _, w := range e.workers {
		b, err := os.ReadFile(w.logPath)
		if err != nil {
			e.t.Fatal(err)
		}
		for tenant, tok := range e.sim.tokens {
			if strings.Contains(string(b), tok) {
				e.t.Errorf("%s's log holds the token of %s", w.name, tenant)
			}
		}
		lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
		bad := 0
		for i, line := range lines {
			if len(line) == 0 || line[0] != '{' {
				continue // the summary line of --once, not a log line
			}
			dup, err := duplicateKey(line)
			if err != nil && w.killed && i == len(lines)-1 {
				continue
			}
			if (err != nil || dup != "") && bad < 3 {
				e.t.Errorf("%s log line %d: duplicate key %q, %v: %s", w.name, i+1, dup, err, e.redact(line))
			}
			if err != nil || dup != "" {
				bad++
			}
		}
	}
}

// duplicateKey returns the first key a JSON object's top level repeats.
func duplicateKey(line []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", fmt.Errorf("not a JSON object: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		if seen[key] {
			return key, nil
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", err
		}
	}
	return "", nil
}
