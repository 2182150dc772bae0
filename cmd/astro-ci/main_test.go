package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
)

func TestFirstSignalCancelsSecondExits(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal)
	var mu sync.Mutex
	var out bytes.Buffer
	exited := make(chan int, 1)
	ctx, stop := onSignals(context.Background(), sigs, func(code int) { exited <- code }, lockedWriter{&mu, &out})
	defer stop()
	sigs <- syscall.SIGTERM
	<-ctx.Done()
	if c := context.Cause(ctx); c == nil || !strings.Contains(c.Error(), "received terminated") {
		t.Fatalf("cause %v", c)
	}
	select {
	case code := <-exited:
		t.Fatalf("exited (%d) at the first signal", code)
	default:
	}
	sigs <- syscall.SIGINT
	if code := <-exited; code != 130 {
		t.Fatalf("exit %d, want 130", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(out.String(), "a second signal exits at once") || !strings.Contains(out.String(), "exiting now") {
		t.Fatal(out.String())
	}
}

func TestStopEndsTheWatcher(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal)
	ctx, stop := onSignals(context.Background(), sigs, func(int) { t.Error("exit") }, &bytes.Buffer{})
	stop()
	<-ctx.Done()
	select {
	case sigs <- syscall.SIGINT:
		t.Fatal("a signal was taken after stop")
	default:
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
