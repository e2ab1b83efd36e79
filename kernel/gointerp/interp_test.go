package gointerp

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wod-dev/wod/kernel"
)

// recorder records what a cell sends.
type recorder struct {
	mu      sync.Mutex
	streams map[string]string
	results []string
	onText  func(string) // called with each stream text, if set
}

func (o *recorder) Stream(name, text string) {
	o.mu.Lock()
	if o.streams == nil {
		o.streams = map[string]string{}
	}
	o.streams[name] += text
	f := o.onText
	o.mu.Unlock()
	if f != nil {
		f(text)
	}
}

func (o *recorder) Display(map[string]any, string, bool) {}

func (o *recorder) Result(data map[string]any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.results = append(o.results, data["text/plain"].(string))
}

func (o *recorder) Input(context.Context, string, bool) (string, error) {
	return "", kernel.ErrNoStdin
}

func (o *recorder) stream(name string) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.streams[name]
}

func startInterp(t *testing.T) *Interpreter {
	t.Helper()
	in, err := New(nil)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

// run executes a cell that must succeed.
func run(t *testing.T, in *Interpreter, code string) *recorder {
	t.Helper()
	out := &recorder{}
	if err := in.Execute(context.Background(), code, out); err != nil {
		t.Fatalf("cell %q: %v", code, err)
	}
	return out
}

// fail executes a cell that must fail with a kernel.Error.
func fail(t *testing.T, in *Interpreter, code string) *kernel.Error {
	t.Helper()
	err := in.Execute(context.Background(), code, &recorder{})
	var kerr *kernel.Error
	if !errors.As(err, &kerr) {
		t.Fatalf("cell %q: got %v, want a *kernel.Error", code, err)
	}
	if kerr.Name != "ERROR" || len(kerr.Traceback) == 0 {
		t.Errorf("cell %q: error %+v, want gophernotes' ename ERROR and a traceback", code, kerr)
	}
	return kerr
}

func wantResult(t *testing.T, out *recorder, want ...string) {
	t.Helper()
	if !slices.Equal(out.results, want) {
		t.Errorf("results %q, want %q", out.results, want)
	}
}

func TestCellsShareDeclarations(t *testing.T) {
	in := startInterp(t)
	run(t, in, "x := 20")
	run(t, in, "func double(n int) int { return 2 * n }")
	run(t, in, "type point struct{ X, Y int }")
	wantResult(t, run(t, in, "double(x) + 2"), "42")
	wantResult(t, run(t, in, "point{1, 2}"), "{1 2}")
}

func TestLastExpressionIsTheResult(t *testing.T) {
	in := startInterp(t)
	wantResult(t, run(t, in, "a := 1\nb := 2\na + b"), "3")
	wantResult(t, run(t, in, "c := 4")) // a statement has no value
	wantResult(t, run(t, in, `import "strconv"; strconv.Atoi("7")`), "7 <nil>")
	wantResult(t, run(t, in, "var e error\ne")) // all nil: nothing
	wantResult(t, run(t, in, "\n  \n"))
}

func TestPrintStreamsToStdoutAndStderr(t *testing.T) {
	in := startInterp(t)
	out := run(t, in, `import ("fmt"; "os")
fmt.Println("hello", 42)
fmt.Fprintln(os.Stderr, "warning")
fmt.Printf("héllo %s\n", "wörld")`)
	if got, want := out.stream("stdout"), "hello 42\nhéllo wörld\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got := out.stream("stderr"); got != "warning\n" {
		t.Errorf("stderr %q, want %q", got, "warning\n")
	}
	if os.Stdout.Name() == "|1" || os.Stderr.Name() == "|1" {
		t.Error("os.Stdout or os.Stderr still captured after the cell")
	}
}

func TestStandardLibraryImports(t *testing.T) {
	in := startInterp(t)
	run(t, in, `import "strings"`)
	wantResult(t, run(t, in, `strings.ToUpper("go") + strings.Repeat("!", 2)`), "GO!!")
	wantResult(t, run(t, in, `import "math"
math.Sqrt(16)`), "4")
	wantResult(t, run(t, in, `import "sort"
s := []int{3, 1, 2}
sort.Ints(s)
s`), "[1 2 3]")
}

func TestCompileErrorIsAnErrorReply(t *testing.T) {
	in := startInterp(t)
	kerr := fail(t, in, "y := undefinedThing + 1")
	if strings.HasPrefix(kerr.Value, "panic") {
		t.Errorf("compile error %q reads like a panic", kerr.Value)
	}
	if !strings.Contains(kerr.Value, "undefinedThing") {
		t.Errorf("evalue %q does not name the undefined identifier", kerr.Value)
	}
	fail(t, in, `var s string = len("x")`)
	if kerr := fail(t, in, "func broken( {"); strings.HasPrefix(kerr.Value, "panic") {
		t.Errorf("syntax error %q reads like a panic", kerr.Value)
	}
	wantResult(t, run(t, in, "1 + 1"), "2")
}

func TestPanicIsRecoveredAsAnError(t *testing.T) {
	in := startInterp(t)
	run(t, in, "kept := 5")
	kerr := fail(t, in, `panic("boom")`)
	if kerr.Value != "panic: boom" {
		t.Errorf("evalue %q, want %q", kerr.Value, "panic: boom")
	}
	kerr = fail(t, in, "var s []int\ns[3]")
	if !strings.Contains(kerr.Value, "index out of range") {
		t.Errorf("evalue %q, want an index out of range", kerr.Value)
	}
	wantResult(t, run(t, in, "kept"), "5")
}

// startCell runs code in the background and returns once it has printed
// "started", with the cancel that interrupts it and the channel of its
// result.
func startCell(t *testing.T, in *Interpreter, code string) (context.CancelFunc, <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	started := make(chan struct{})
	var once sync.Once
	out := &recorder{onText: func(s string) {
		if strings.Contains(s, "started") {
			once.Do(func() { close(started) })
		}
	}}
	errc := make(chan error, 1)
	go func() { errc <- in.Execute(ctx, code, out) }()
	select {
	case <-started:
	case err := <-errc:
		t.Fatalf("cell ended before it started: %v", err)
	}
	return cancel, errc
}

func TestInterruptedSleepLeavesAUsableKernel(t *testing.T) {
	in := startInterp(t)
	cancel, errc := startCell(t, in, `import ("fmt"; "time")
fmt.Println("started")
time.Sleep(time.Hour)`)
	cancel()
	if err := <-errc; !errors.Is(err, kernel.ErrInterrupted) {
		t.Fatalf("interrupted cell: %v, want ErrInterrupted", err)
	}
	wantResult(t, run(t, in, `import "strings"
strings.Repeat("ok", 2)`), "okok")
}

func TestRestartForgetsDeclarations(t *testing.T) {
	in := startInterp(t)
	run(t, in, "gone := 1")
	if err := in.Restart(context.Background()); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	fail(t, in, "gone")
	wantResult(t, run(t, in, "fresh := 2\nfresh"), "2")
}

func TestMagics(t *testing.T) {
	in := startInterp(t)
	out := run(t, in, "$ echo hello from echo")
	if got := out.stream("stdout"); got != "hello from echo\n" {
		t.Errorf("$ echo: stdout %q", got)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "marker.txt"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	out = run(t, in, "%cd "+dir+"\n$ ls\n"+`import "os"
_, err := os.Stat("marker.txt")
err == nil`)
	if got := out.stream("stdout"); !strings.Contains(got, "marker.txt") {
		t.Errorf("%%cd then $ ls: stdout %q", got)
	}
	wantResult(t, out, "true")
	if !strings.Contains(run(t, in, "%help").stream("stdout"), "%cd") {
		t.Error("the help magic says nothing of cd")
	}
	fail(t, in, "%nosuchmagic")
	fail(t, in, "$ /nonexistent/program")
}

func TestComplete(t *testing.T) {
	in := startInterp(t)
	run(t, in, `import "strings"`)
	run(t, in, "myVariable := 1")
	code := "x := strings.ToUp"
	c := in.Complete(context.Background(), code, len(code))
	if !slices.Contains(c.Matches, "ToUpper") && !slices.Contains(c.Matches, "strings.ToUpper") {
		t.Errorf("completions of %q: %+v", code, c)
	}
	code = "myVar"
	c = in.Complete(context.Background(), code, len(code))
	if !slices.Contains(c.Matches, "myVariable") || c.CursorStart != 0 || c.CursorEnd != len(code) {
		t.Errorf("completions of %q: %+v", code, c)
	}
}

func TestIsComplete(t *testing.T) {
	in := startInterp(t)
	for code, want := range map[string]string{
		"x := 1":               "complete",
		"func f() {":           "incomplete",
		"s := `raw":            "incomplete",
		"/* open":              "incomplete",
		"})":                   "invalid",
		"$ ls\nfmt.Println(1)": "complete",
	} {
		if got, _ := in.IsComplete(code); got != want {
			t.Errorf("IsComplete(%q) = %q, want %q", code, got, want)
		}
	}
}

// The shapes of GO101's cells: `import` beside statements in a block, and
// `package main` with func main, called by a later cell; goroutines print.
func TestGO101Patterns(t *testing.T) {
	in := startInterp(t)
	out := run(t, in, `import "fmt"

{
    ints := []int{1, 2, 3}
    fmt.Println(len(ints), cap(ints))
}`)
	if got := out.stream("stdout"); got != "3 3\n" {
		t.Errorf("block cell: stdout %q", got)
	}
	run(t, in, `package main

import (
	"fmt"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	wg.Add(2)
	go hello(&wg, "Hello World!")
	go hello(&wg, "Good Bye!")
	wg.Wait()
}

func hello(wg *sync.WaitGroup, s string) {
	defer wg.Done()
	fmt.Println(s)
}`)
	out = run(t, in, "main()")
	got := out.stream("stdout")
	if !strings.Contains(got, "Hello World!\n") || !strings.Contains(got, "Good Bye!\n") {
		t.Errorf("main() with goroutines: stdout %q", got)
	}
}

func TestInterruptedCommandIsKilled(t *testing.T) {
	in := startInterp(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := in.Execute(ctx, "$ sleep 600", &recorder{}); !errors.Is(err, kernel.ErrInterrupted) {
		t.Fatalf("interrupted $ sleep: %v, want ErrInterrupted", err)
	}
	wantResult(t, run(t, in, "1 + 2"), "3")
}

func TestCloseEndsTheInterpreter(t *testing.T) {
	in := startInterp(t)
	if err := in.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := in.Execute(context.Background(), "1", &recorder{}); err == nil {
		t.Error("a cell ran after Close")
	}
	if err := in.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
