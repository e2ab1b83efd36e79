package gitcontent_test

import (
	"testing"

	"github.com/wod-dev/wod/gitcontent/gittest"
)

func newOrigin(t *testing.T) *gittest.Origin { return gittest.New(t) }

func s(v string) *string { return gittest.Text(v) }
