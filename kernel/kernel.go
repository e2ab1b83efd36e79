// Package kernel runs Jupyter kernels written in Go: the messaging protocol
// (5.3 over ZeroMQ, HMAC-signed) is here once, and each language is an
// Interpreter behind it (kernel/bash, kernel/ssh, kernel/gointerp).
// `wod kernel NAME -f CONNECTION_FILE` is how a notebook server starts one.
package kernel

import (
	"context"
	"errors"
)

// Interpreter is a language behind the protocol. The kernel calls it from
// one goroutine at a time, in the order requests arrive on shell.
type Interpreter interface {
	// Info describes the implementation and the language for
	// kernel_info_reply.
	Info() Info
	// Execute runs one cell. Output goes to out as it comes. ctx is
	// cancelled when the kernel is interrupted (SIGINT or
	// interrupt_request) or shut down; Execute then stops the cell and
	// returns promptly with ErrInterrupted.
	Execute(ctx context.Context, code string, out Output) error
	// Complete proposes completions of code at cursor (in code points).
	Complete(ctx context.Context, code string, cursor int) Completion
	// IsComplete tells whether code is a whole cell: "complete",
	// "incomplete", "invalid" or "unknown", and the indent to continue.
	IsComplete(code string) (status, indent string)
	// Restart starts the language afresh (a restart shutdown_request).
	Restart(ctx context.Context) error
	// Close ends the language and whatever it started.
	Close() error
}

// Info is what kernel_info_reply says of the kernel.
type Info struct {
	Implementation        string
	ImplementationVersion string
	Banner                string
	Language              LanguageInfo
}

// LanguageInfo is kernel_info_reply's language_info.
type LanguageInfo struct {
	Name              string `json:"name"`
	Version           string `json:"version,omitempty"`
	MIMEType          string `json:"mimetype,omitempty"`
	FileExtension     string `json:"file_extension,omitempty"`
	CodeMirrorMode    string `json:"codemirror_mode,omitempty"`
	PygmentsLexer     string `json:"pygments_lexer,omitempty"`
	NBConvertExporter string `json:"nbconvert_exporter,omitempty"`
}

// Output is where a cell's effects go while it runs.
type Output interface {
	// Stream sends text on "stdout" or "stderr".
	Stream(name, text string)
	// Display sends display_data (or update_display_data when update and
	// the id was shown before): data is MIME type to value.
	Display(data map[string]any, displayID string, update bool)
	// Result sends execute_result, the value of the cell.
	Result(data map[string]any)
	// Input asks the front end for a line (input_request on stdin). It
	// fails with ErrNoStdin when the request did not allow stdin, and with
	// ctx's error when the cell is interrupted while waiting.
	Input(ctx context.Context, prompt string, password bool) (string, error)
}

// Completion is complete_reply's matches and the range they replace.
type Completion struct {
	Matches     []string
	CursorStart int
	CursorEnd   int
}

// Error is a cell that failed: execute_reply status "error" with its ename,
// evalue and traceback (also published as an error message on iopub).
type Error struct {
	Name      string
	Value     string
	Traceback []string
}

func (e *Error) Error() string {
	if e.Name == "" {
		return e.Value
	}
	return e.Name + ": " + e.Value
}

var (
	// ErrInterrupted is a cell stopped by an interrupt.
	ErrInterrupted = errors.New("kernel: interrupted")
	// ErrNoStdin is an input request of a cell run without stdin.
	ErrNoStdin = errors.New("kernel: the front end does not accept input")
)
