package agent

import (
	"context"
	"fmt"

	"github.com/wod-dev/wod"
)

// ContentSource gives the content directories (public first) a job deploys
// from: with content repositories, each at the commit the server imported
// and the job names (gitcontent.Source), never a commit the catalogue has
// not seen.
type ContentSource interface {
	ContentDirs(ctx context.Context, commits []wod.ContentCommit) ([]string, error)
}

// contentDirsKey carries a job's content directories to ContentWorkshops,
// Hooks and Compiler: they belong to the job, as its commits do, while
// those serve every job of the agent at once.
type contentDirsKey struct{}

// WithJobContent resolves the job's content directories with src (the
// repositories at the job's commits) and returns the context the job's
// deployment, hooks and compiled scripts read them from.
func WithJobContent(ctx context.Context, src ContentSource, j *wod.AgentJob) (context.Context, error) {
	dirs, err := src.ContentDirs(ctx, j.Content)
	if err != nil {
		return ctx, fmt.Errorf("content of job %d: %w", j.ID, err)
	}
	return context.WithValue(ctx, contentDirsKey{}, dirs), nil
}

// contentDirs are the job's content directories, else the configured ones.
func contentDirs(ctx context.Context, configured []string) []string {
	if dirs, ok := ctx.Value(contentDirsKey{}).([]string); ok {
		return dirs
	}
	return configured
}
