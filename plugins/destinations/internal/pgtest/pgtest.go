// Package pgtest starts a throwaway PostgreSQL server for a package's tests:
// initdb into a temporary directory, postgres on a free port bound to
// 127.0.0.1 with its socket in that directory, one server per test binary
// (start it in TestMain). As root, initdb runs through `runuser -u postgres`
// and the server with the postgres user's credentials. It never touches a
// server already running on the machine.
package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNotInstalled is returned by Start when no PostgreSQL binaries exist.
var ErrNotInstalled = errors.New("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb; `make deps` installs it)")

// startTimeout bounds how long the new server may take to accept
// connections.
const startTimeout = 60 * time.Second

// Server is a running throwaway PostgreSQL.
type Server struct {
	bin  string
	dir  string
	data string
	port int
	cmd  *exec.Cmd
	// exited is closed when the server process has exited.
	exited chan struct{}
	// runAs is the user the server runs as ("" when not root).
	runAs string
	log   string
}

// Start initialises and starts a server.
func Start() (*Server, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, ErrNotInstalled
	}
	sort.Slice(bins, func(i, j int) bool { return version(bins[i]) > version(bins[j]) })
	s := &Server{bin: filepath.Dir(bins[0])}
	dir, err := os.MkdirTemp("", "siphon-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	s.dir, s.data, s.log = dir, filepath.Join(dir, "data"), filepath.Join(dir, "postgres.log")
	if os.Geteuid() == 0 {
		// postgres refuses to run as root.
		s.runAs = "postgres"
		if err := chownTo(dir, s.runAs); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	if out, err := s.command("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions").CombinedOutput(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("pgtest initdb: %w: %s", err, out)
	}
	if s.port, err = freePort(); err != nil {
		s.cleanup()
		return nil, err
	}
	logf, err := os.Create(s.log)
	if err != nil {
		s.cleanup()
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	defer logf.Close()
	if s.runAs != "" {
		if err := chownTo(s.log, s.runAs); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	// The server is started directly rather than through runuser, so that
	// the parent-death signal reaches the postmaster itself: if the test
	// binary dies, SIGQUIT shuts the server and its backends down at once.
	s.cmd = exec.Command(filepath.Join(s.bin, "postgres"), "-D", s.data, "-p", strconv.Itoa(s.port), "-k", s.dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGQUIT}
	if s.runAs != "" {
		cred, err := credential(s.runAs)
		if err != nil {
			s.cleanup()
			return nil, err
		}
		s.cmd.SysProcAttr.Credential = cred
	}
	if err := s.startOnLockedThread(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("pgtest start postgres: %w", err)
	}
	if err := s.waitReady(); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// startOnLockedThread starts the server from a goroutine locked to its OS
// thread and keeps that thread until the server exits: Linux sends the
// parent-death signal when the forking *thread* ends, and a thread ends
// whenever a goroutine locked to it returns (as the plugin host's do when
// a plugin exits), which would shut the server down under the tests.
func (s *Server) startOnLockedThread() error {
	started := make(chan error, 1)
	s.exited = make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := s.cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		_ = s.cmd.Wait()
		close(s.exited)
		// Hand the thread back alive: a goroutine that ends locked ends its
		// thread, which would fire the parent-death signal of any other
		// child the process once started from it.
		runtime.UnlockOSThread()
	}()
	return <-started
}

// DSN returns a connection string for database db.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// CreateDatabase creates database name and returns its DSN.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return "", fmt.Errorf("pgtest create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("pgtest create database %s: %w", name, err)
	}
	return s.DSN(name), nil
}

// StartDatabase starts a server and creates database name in it, for a
// TestMain; it returns the server and the database's DSN. The error is
// ErrNotInstalled when there is no PostgreSQL to start; on any other error
// no server is left running.
func StartDatabase(ctx context.Context, name string) (*Server, string, error) {
	s, err := Start()
	if err != nil {
		return nil, "", err
	}
	dsn, err := s.CreateDatabase(ctx, name)
	if err != nil {
		s.Stop()
		return nil, "", err
	}
	return s, dsn, nil
}

// Stop shuts the server down (fast shutdown) and removes its directory.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		<-s.exited
	}
	s.cleanup()
}

func (s *Server) cleanup() { os.RemoveAll(s.dir) }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(s.bin, name)
	if s.runAs == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", s.runAs, "--", path}, args...)...)
}

func (s *Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, s.DSN("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("pgtest: postgres did not accept connections within %s: %w\n%s", startTimeout, err, log)
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("pgtest: postgres exited: %s", log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func chownTo(path, name string) error {
	cred, err := credential(name)
	if err != nil {
		return err
	}
	if err := os.Chown(path, int(cred.Uid), int(cred.Gid)); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("pgtest: user %s: %w", name, err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("pgtest: user %s: gid %q: %w", name, u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// version is the major version in an initdb path, for picking the newest.
func version(initdb string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(initdb))))
	return n
}

// CPUTime is the CPU time the server's processes have used so far (with
// that of backends already gone), for benchmarks that must count the
// server's share of the work on a shared machine.
func (s *Server) CPUTime() time.Duration {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	type proc struct{ ppid, ticks int64 }
	procs := map[int64]proc{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// After the parenthesized command name: ppid is the 2nd field,
		// utime, stime, cutime and cstime the 12th to 15th.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.ParseInt(filepath.Base(filepath.Dir(path)), 10, 64)
		var p proc
		p.ppid, _ = strconv.ParseInt(f[1], 10, 64)
		for _, n := range f[11:15] {
			v, _ := strconv.ParseInt(n, 10, 64)
			p.ticks += v
		}
		procs[pid] = p
	}
	// Backends start their own sessions, so the server is found as the
	// process tree under the started command.
	var ticks int64
	for pid, p := range procs {
		for q, hops := pid, 0; hops < 8; hops++ {
			if q == int64(s.cmd.Process.Pid) {
				ticks += p.ticks
				break
			}
			parent, ok := procs[q]
			if !ok {
				break
			}
			q = parent.ppid
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc/*/stat times (100 on Linux).
const clockTicks = 100
