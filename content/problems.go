package content

import (
	"fmt"
	"slices"

	"github.com/wod-dev/wod"
)

// problems gathers what is wrong with content files, so that one import
// reports every problem of every file at once instead of one per attempt.
type problems struct {
	fields []wod.FieldError
}

// field is how a problem names where it is: "<path>: <key>", or the path
// alone for a problem of the whole file or folder.
func field(path, key string) string {
	if key == "" {
		return path
	}
	return path + ": " + key
}

// add records a problem with key of the file at path (key "" for the file).
func (p *problems) add(path, key, format string, args ...any) {
	p.fields = append(p.fields, wod.FieldError{Field: field(path, key), Message: fmt.Sprintf(format, args...)})
}

// has reports whether a problem with key of path was recorded, so that a
// broader check (Workshop.Validate) does not report the same mistake twice.
func (p *problems) has(path, key string) bool {
	f := field(path, key)
	return slices.ContainsFunc(p.fields, func(fe wod.FieldError) bool { return fe.Field == f })
}

// len returns how many problems were recorded.
func (p *problems) len() int { return len(p.fields) }

// err returns nil when nothing was recorded, else an EINVALID *wod.Error
// listing every problem in Fields.
func (p *problems) err() error {
	if len(p.fields) == 0 {
		return nil
	}
	return &wod.Error{Code: wod.EINVALID, Message: "content is not valid", Fields: p.fields}
}
