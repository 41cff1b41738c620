package jsonl

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/siphonhq/siphon/plugins/sdk"
	"github.com/zclconf/go-cty/cty"
)

// holdEnv makes the test binary a process that holds a jsonl directory
// until its stdin closes.
const holdEnv = "SIPHON_JSONL_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		os.Exit(hold(dir))
	}
	os.Exit(m.Run())
}

func hold(dir string) int {
	d := New()
	d.Configure(context.Background(), sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{"dir": cty.StringVal(dir)})})
	if err := d.Check(context.Background(), "acme"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("held")
	io.Copy(io.Discard, os.Stdin)
	d.Close(context.Background())
	return 0
}

// Another process holding the directory makes this one fail at once, naming
// that process; when it exits, however it exits, the directory is free.
func TestLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("holder said %q, %v", line, err)
	}

	d := configured(t, dir)
	err = d.Check(context.Background(), "acme")
	if err == nil {
		t.Fatal("took a directory another process holds")
	}
	if want := fmt.Sprintf("pid %d on host", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the holder (%q)", err, want)
	}

	cmd.Process.Kill() // no clean shutdown: the kernel drops the lock
	stdin.Close()
	cmd.Wait()
	if err := d.Check(context.Background(), "acme"); err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	d.Close(context.Background())
}
