package sdk_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	destpb "github.com/siphonhq/siphon/plugins/proto"
	"github.com/siphonhq/siphon/plugins/sdk"
)

const envRole = "SIPHON_SDK_TEST_ROLE"

// TestMain lets the test binary be a plugin ("serve") or a parent that
// starts one without a parent-death signal and waits ("parent").
func TestMain(m *testing.M) {
	switch os.Getenv(envRole) {
	case "serve":
		sdk.Serve(stub{})
	case "parent":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), envRole+"=serve", destpb.Handshake.MagicCookieKey+"="+destpb.Handshake.MagicCookieValue)
		handshake, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err == nil {
			// Wait for the handshake: by then the plugin knows its parent.
			_, err = bufio.NewReader(handshake).ReadString('\n')
		}
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println(cmd.Process.Pid)
		select {}
	default:
		os.Exit(m.Run())
	}
}

// TestPluginExitsWhenParentDies: a plugin whose parent is killed (and which
// got no parent-death signal) notices and exits by itself.
func TestPluginExitsWhenParentDies(t *testing.T) {
	parent := exec.Command(os.Args[0])
	parent.Env = append(os.Environ(), envRole+"=parent")
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("parent said %q", line)
	}
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = parent.Wait()
	// The bound only keeps a broken test from hanging.
	deadline := time.Now().Add(20 * time.Second)
	for !gone(pid) {
		if time.Now().After(deadline) {
			st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			t.Fatalf("plugin %d still runs after its parent died:\n%s", pid, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// gone reports whether pid no longer runs (absent or an unreaped zombie).
func gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// stub is the smallest destination.
type stub struct{}

func (stub) Info() sdk.Info                                        { return sdk.Info{Name: "stub"} }
func (stub) Configure(context.Context, sdk.Config) sdk.Diagnostics { return nil }
func (stub) Check(context.Context, string) error                   { return nil }
func (stub) EnsureObject(context.Context, sdk.ObjectSpec) error    { return nil }
func (stub) Write(_ context.Context, b sdk.Batch) ([]sdk.Result, error) {
	return make([]sdk.Result, len(b.Records)), nil
}
func (stub) Keys(context.Context, sdk.KeysRequest) ([]sdk.KeyEntry, error) { return nil, nil }
func (stub) Read(context.Context, string, string, []string) ([]sdk.Row, error) {
	return nil, nil
}
func (stub) Changes(context.Context, sdk.ChangesRequest) (sdk.ChangesPage, error) {
	return sdk.ChangesPage{}, sdk.ErrUnsupported
}
func (stub) Close(context.Context) error { return nil }
