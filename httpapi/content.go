package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/operator"
)

// The content repositories (--content-repo): their state, a sync by hand,
// and the push webhook a forge calls.

// ContentHookPath is where forges post push events.
const ContentHookPath = APIPrefix + "/content/hook"

// maxHookBody bounds a push event: GitHub's are at most 25 MB, but those
// of a content repository are a few kilobytes; the body only proves the
// signature, the server reads nothing else from it.
const maxHookBody = 4 << 20

func (s *Server) registerContent() {
	tags := []string{"Content"}
	register(s, huma.Operation{OperationID: "list-content-repos", Method: http.MethodGet, Path: APIPrefix + "/content",
		Summary: "Content repositories", Tags: tags,
		Description: "The git repositories the server follows (`--content-repo`), in overlay order: the commit the " +
			"catalogue was imported from (agents deploy that one), the branch's head at the last fetch, when, and " +
			"the last error. Empty when the server follows none."},
		wod.RoleModerator, s.listContentRepos)
	register(s, huma.Operation{OperationID: "sync-content", Method: http.MethodPost, Path: APIPrefix + "/content/sync",
		Summary: "Sync the content repositories now", Tags: tags,
		Description: "Fetches every repository and imports them with the checks of any import, even when no head " +
			"moved (`wod workshop sync`). When a fetch or the content fails the last good content stays live, " +
			"the error is recorded and operators are alerted; the answer is then an error with the reason."},
		operator.CatalogueChangeRole, s.syncContent)
	register(s, huma.Operation{OperationID: "content-hook", Method: http.MethodPost, Path: ContentHookPath,
		Summary: "Push webhook of the content repositories", Tags: tags, DefaultStatus: http.StatusAccepted,
		MaxBodyBytes: maxHookBody,
		Description: "A forge calls it on a push: the server syncs its content repositories soon after (the " +
			"answer does not wait). The request must carry the shared secret shown to admins on the admin " +
			"workshops page: GitHub (and Gitea, Forgejo) sign the body with it, `X-Hub-Signature-256: " +
			"sha256=<HMAC-SHA256 in hex>`; GitLab sends it as `X-Gitlab-Token`. A missing or wrong one is " +
			"refused (401). The body is otherwise not read: any push syncs every repository.",
		Errors: []int{http.StatusUnauthorized, http.StatusNotFound}},
		"", s.contentHook)
}

type contentRepos struct {
	Repos []*wod.ContentRepo `json:"repos" nullable:"false"`
}

func (s *Server) listContentRepos(ctx context.Context, _ *struct{}) (*body[contentRepos], error) {
	repos, err := s.Operator.ContentStatus(ctx)
	if err != nil {
		return nil, err
	}
	if repos == nil {
		repos = []*wod.ContentRepo{}
	}
	return &body[contentRepos]{contentRepos{repos}}, nil
}

type contentSync struct {
	Repos   []*wod.ContentRepo `json:"repos" nullable:"false"`
	Results []wod.ImportResult `json:"results" nullable:"false" doc:"What the import did to each workshop"`
}

func (s *Server) syncContent(ctx context.Context, _ *struct{}) (*body[contentSync], error) {
	repos, res, err := s.Operator.SyncContent(ctx, CallerFrom(ctx))
	if err != nil {
		return nil, err
	}
	if res == nil {
		res = []wod.ImportResult{}
	}
	return &body[contentSync]{contentSync{repos, res}}, nil
}

type contentHookInput struct {
	GitHub  string `header:"X-Hub-Signature-256" doc:"GitHub's signature: sha256= and the HMAC-SHA256 of the body with the shared secret, in hex"`
	GitLab  string `header:"X-Gitlab-Token" doc:"GitLab's shared secret"`
	RawBody []byte
}

type contentHookOutput struct {
	Body struct {
		Status string `json:"status" example:"sync requested"`
	}
}

func (s *Server) contentHook(_ context.Context, in *contentHookInput) (*contentHookOutput, error) {
	if s.ContentHookSecret == "" || !s.Operator.FollowsRepos() {
		return nil, wod.Errorf(wod.ENOTFOUND, "this server follows no content repository (--content-repo)")
	}
	if !VerifyContentHook(s.ContentHookSecret, in.GitHub, in.GitLab, in.RawBody) {
		return nil, wod.Errorf(wod.EUNAUTHORIZED, "the push is not signed with this server's content hook secret")
	}
	s.Operator.KickContentSync()
	out := &contentHookOutput{}
	out.Body.Status = "sync requested"
	return out, nil
}

// VerifyContentHook checks a push against the shared secret: GitHub's
// X-Hub-Signature-256 (HMAC-SHA256 of the body) or GitLab's X-Gitlab-Token,
// in constant time.
func VerifyContentHook(secret, githubSig, gitlabToken string, body []byte) bool {
	if secret == "" {
		return false
	}
	if githubSig != "" {
		hexSig, ok := strings.CutPrefix(githubSig, "sha256=")
		if !ok {
			return false
		}
		got, err := hex.DecodeString(hexSig)
		if err != nil {
			return false
		}
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		return hmac.Equal(got, m.Sum(nil))
	}
	if gitlabToken != "" {
		return hmac.Equal([]byte(gitlabToken), []byte(secret))
	}
	return false
}
