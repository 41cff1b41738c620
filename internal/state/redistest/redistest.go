// Package redistest starts throwaway Redis servers for tests: one server, or
// a three-master cluster, each on free ports in a temp dir, never the
// machine's own Redis. Tests skip when redis-server is not installed.
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Server is one running redis-server.
type Server struct {
	Addr string
	Dir  string
	t    testing.TB
	bin  string
	args []string
	cmd  *exec.Cmd
	// exited closes when the server process has been waited for.
	exited chan struct{}
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Durable are the settings the redis backend requires.
var Durable = []string{"--appendonly", "yes", "--maxmemory-policy", "noeviction"}

// Start starts a durable server (appendonly, noeviction) and stops it when
// the test ends. Extra arguments override the defaults
// (e.g. "--appendonly", "no").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := requireBin(t, "redis-server")
	dir := t.TempDir()
	port := freePort(t)
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--save", "", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log")}, Durable...)
	args = append(args, extra...)
	return launch(t, bin, dir, port, args)
}

// Cluster is a running three-master Redis Cluster.
type Cluster struct {
	Nodes []*Server
}

// Addrs lists the masters' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// URL is the cluster's redis+cluster:// URL.
func (c *Cluster) URL() string { return "redis+cluster://" + strings.Join(c.Addrs(), ",") }

// StartCluster starts three durable cluster-enabled servers, joins them
// with redis-cli --cluster create (no replicas) and waits for
// cluster_state:ok.
func StartCluster(t testing.TB) *Cluster {
	t.Helper()
	bin := requireBin(t, "redis-server")
	cli := requireBin(t, "redis-cli")
	c := &Cluster{}
	for range 3 {
		dir := t.TempDir()
		port := freePort(t)
		args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
			"--save", "", "--daemonize", "no", "--logfile", filepath.Join(dir, "redis.log"),
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			"--cluster-node-timeout", "5000"}, Durable...)
		c.Nodes = append(c.Nodes, launch(t, bin, dir, port, args))
	}
	create := append([]string{"--cluster", "create"}, c.Addrs()...)
	create = append(create, "--cluster-replicas", "0", "--cluster-yes")
	if out, err := exec.Command(cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.Nodes {
		for {
			info, err := command(n.Addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster at %s not ok: %v %s", n.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

func requireBin(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed (apt-get install redis-server): skipping the Redis tests", name)
	}
	return p
}

func launch(t testing.TB, bin, dir string, port int, args []string) *Server {
	t.Helper()
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir, t: t, bin: bin, args: args}
	if err := s.start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(s.Stop)
	s.waitUp()
	return s
}

// start runs the server from a goroutine locked to its OS thread, kept
// until the server exits. The server dies with the test binary even when
// the test is killed (its parent-death signal), but Linux sends that
// signal when the forking *thread* ends, and a thread ends whenever a
// goroutine locked to it returns — as the plugin host's do when a plugin
// exits — which would take the server down in the middle of a test.
func (s *Server) start() error {
	cmd := exec.Command(s.bin, s.args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			runtime.UnlockOSThread()
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		close(exited)
		// Hand the thread back alive: a goroutine that ends locked ends its
		// thread, which would fire the parent-death signal of any other
		// child the process once started from it (vomosim, a worker).
		runtime.UnlockOSThread()
	}()
	if err := <-started; err != nil {
		return err
	}
	s.cmd, s.exited = cmd, exited
	return nil
}

func (s *Server) waitUp() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// PING answers LOADING while the AOF is replayed; wait for PONG.
		if out, err := command(s.Addr, "PING"); err == nil && out == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
			s.t.Fatalf("redis-server on %s did not start:\n%s", s.Addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Restart kills the server (like a crash: no shutdown save) and starts it
// again on the same port and directory, so it recovers from its AOF.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart redis-server: %v", err)
	}
	s.waitUp()
}

// Stop kills the server; safe to call twice.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// freePort finds a port free for the server and for its cluster bus
// (port + 10000), away from the default 6379.
func freePort(t testing.TB) int {
	t.Helper()
	for range 100 {
		p := 20000 + rand.IntN(30000)
		if portFree(p) && portFree(p+10000) {
			return p
		}
	}
	t.Fatal("no free port pair for redis-server")
	return 0
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// command sends one command over RESP and returns a simple or bulk reply.
func command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	switch {
	case strings.HasPrefix(line, "+"):
		return line[1:], nil
	case strings.HasPrefix(line, "-"):
		return "", fmt.Errorf("redis: %s", line[1:])
	case strings.HasPrefix(line, "$"):
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	}
	return line, nil
}
