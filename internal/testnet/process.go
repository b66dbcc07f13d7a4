package testnet

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a program a test started inside a namespace, its output
// captured (the end-to-end tests run the example programs this way, as
// an operator would).
type Process struct {
	// Cmd is the running command.
	Cmd *exec.Cmd
	// Stdout and Stderr capture the program's output.
	Stdout, Stderr *Buffer
	// Done receives the exit status once, when the program ends.
	Done chan error
}

// Start runs name with args inside the namespace, with env added to the
// test's own environment.
func (ns *NS) Start(env []string, name string, args ...string) (*Process, error) {
	p := &Process{Stdout: &Buffer{}, Stderr: &Buffer{}, Done: make(chan error, 1)}
	p.Cmd = ns.Command(context.Background(), name, args...)
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if err := p.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.Done <- p.Cmd.Wait() }()
	return p, nil
}

// Terminate sends SIGTERM, as systemd or Ctrl-C would, and waits up to d
// for the exit; after d it kills the program. It reports whether the
// program ended within d, and its exit status.
func (p *Process) Terminate(d time.Duration) (inTime bool, err error) {
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.Done:
		return true, err
	case <-time.After(d):
		_ = p.Cmd.Process.Kill()
		return false, <-p.Done
	}
}
