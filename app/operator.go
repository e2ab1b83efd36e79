package app

import "github.com/wod-dev/wod/operator"

// Operator is the operators' service over this process's store, as the
// API, the pages and the CLI's commands use it. A content import reads the
// configured content directories and checks them with the notebooks'
// variables.
func (a *App) Operator() *operator.Service {
	s := &operator.Service{Users: a.DB, Tokens: a.DB, Announcements: a.DB, Workshops: a.DB, Locations: a.DB,
		LTI: a.DB, Jobs: a.DB, Events: a.DB, Clock: a.Clock, Logger: a.Logger, AgentTokens: a.DB,
		ContentDirs: a.Config.Content, ContentVars: a.NotebookVars(),
		StrictContent: a.Config.ContentCheck == "strict", RehearsalStore: a.DB, Webhooks: a.DB}
	if a.ContentSync != nil {
		s.ContentSync, s.ContentRepos = a.ContentSync, a.DB
	}
	s.ContentWait = a.ContentWait
	if a.Keys != nil {
		s.WebhookKeys = a.Keys
	}
	if a.Rehearsals != nil && a.NotebookExecutor != nil {
		s.Rehearser = a.Rehearsals
	}
	return s
}
