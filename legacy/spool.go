package legacy

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
)

// Entry is a command on its way: received, run (maybe several times), its
// outcome reported to the api-db. It stays in the spool until then, so a
// crash at any step repeats that step (every step is idempotent).
type Entry struct {
	ID         int64     `json:"id"`
	Command    Command   `json:"command"`
	ReceivedAt time.Time `json:"received_at"`
	From       string    `json:"from,omitempty"`   // envelope sender
	Remote     string    `json:"remote,omitempty"` // the sender's address
	// Attempts counts the runs of the operation.
	Attempts  int       `json:"attempts"`
	NotBefore time.Time `json:"not_before,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Reset is the workshop's reset flag when the operation ran, for the
	// report of a cleanup.
	Reset bool `json:"reset,omitempty"`
	// Result is the operation's outcome once it succeeded; the entry
	// leaves the spool when the api-db has it.
	Result *wod.AgentResult `json:"result,omitempty"`
}

// Spool keeps entries as one JSON file each in a directory, written before
// the SMTP answer that accepts the mail. Entries that failed for good move
// to its "failed" subdirectory, for operators.
type Spool struct {
	Dir string

	mu     sync.Mutex
	lastID int64
}

const failedDir = "failed"

// Open creates the directories.
func (s *Spool) Open() error {
	if err := os.MkdirAll(filepath.Join(s.Dir, failedDir), 0o700); err != nil {
		return fmt.Errorf("legacy spool: %w", err)
	}
	return nil
}

// Add keeps new entries, durably, and gives them their ids.
func (s *Spool) Add(entries ...*Entry) error {
	for _, e := range entries {
		e.ID = s.nextID()
		if err := s.Save(e); err != nil {
			return err
		}
	}
	return nil
}

// nextID is the time in nanoseconds, made unique: ids sort in arrival
// order across restarts without a counter on disk.
func (s *Spool) nextID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := time.Now().UnixNano()
	if id <= s.lastID {
		id = s.lastID + 1
	}
	s.lastID = id
	return id
}

func (s *Spool) path(id int64) string { return filepath.Join(s.Dir, fmt.Sprintf("%020d.json", id)) }

// Save writes an entry atomically and durably.
func (s *Spool) Save(e *Entry) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	if err := writeDurably(s.path(e.ID), b); err != nil {
		return fmt.Errorf("legacy spool: %w", err)
	}
	return nil
}

// Load reads one pending entry; os.ErrNotExist if it left the spool.
func (s *Spool) Load(id int64) (*Entry, error) {
	b, err := os.ReadFile(s.path(id))
	if err != nil {
		return nil, err
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("legacy spool: entry %d: %w", id, err)
	}
	return &e, nil
}

// Remove forgets a finished entry.
func (s *Spool) Remove(id int64) error {
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("legacy spool: %w", err)
	}
	return nil
}

// Fail moves an entry to the failed directory.
func (s *Spool) Fail(e *Entry) error {
	if err := s.Save(e); err != nil {
		return err
	}
	to := filepath.Join(s.Dir, failedDir, filepath.Base(s.path(e.ID)))
	if err := os.Rename(s.path(e.ID), to); err != nil {
		return fmt.Errorf("legacy spool: %w", err)
	}
	return nil
}

// Entries lists the pending entries in arrival order. An unreadable file
// is moved aside (with a .bad suffix) and reported, not left to block the
// rest.
func (s *Spool) Entries() ([]*Entry, []error) {
	return readQueue(s.Dir, "legacy spool", func(e *Entry) int64 { return e.ID })
}

// readQueue reads a directory of queued items, one JSON file each named
// by its id (%020d.json), in id order. An unreadable file, or one whose
// name is not its id's, is moved aside (with a .bad suffix) and reported,
// not left to block the rest.
func readQueue[T any](dir, what string, id func(*T) int64) ([]*T, []error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", what, err)}
	}
	var out []*T
	var errs []error
	for _, de := range des {
		name := de.Name()
		if de.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		p := filepath.Join(dir, name)
		var item T
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue // done and removed since the directory was read
		}
		if err == nil {
			err = json.Unmarshal(b, &item)
		}
		if err == nil && fmt.Sprintf("%020d.json", id(&item)) != name {
			err = fmt.Errorf("its id %d does not match its name", id(&item))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s set aside: %v", what, name, err))
			_ = os.Rename(p, p+".bad")
			continue
		}
		out = append(out, &item)
	}
	slices.SortFunc(out, func(a, b *T) int { return cmp.Compare(id(a), id(b)) })
	return out, errs
}

func writeDurably(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
