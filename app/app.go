// Package app wires wod's packages into the roles the binary runs (server,
// all-in-one) and the operator commands. It holds no logic of its own beyond
// the order in which things start and stop.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wod-dev/wod"
	"github.com/wod-dev/wod/config"
	"github.com/wod-dev/wod/emailpolicy"
	"github.com/wod-dev/wod/engine"
	"github.com/wod-dev/wod/gitcontent"
	"github.com/wod-dev/wod/httpapi"
	"github.com/wod-dev/wod/lti"
	"github.com/wod-dev/wod/mail"
	"github.com/wod-dev/wod/metrics"
	"github.com/wod-dev/wod/operator"
	"github.com/wod-dev/wod/rehearsal"
	"github.com/wod-dev/wod/secret"
	"github.com/wod-dev/wod/store"
	"github.com/wod-dev/wod/web"
	"github.com/wod-dev/wod/webhook"
)

// Version is set at build time with -ldflags "-X github.com/wod-dev/wod/app.Version=…".
var Version = "dev"

// App is one running wod process.
type App struct {
	Config *config.Config
	Logger *slog.Logger
	Clock  wod.Clock
	Stderr io.Writer

	DB   *store.DB
	Keys *secret.Keys

	Engine     *engine.Engine
	Dispatcher *engine.Dispatcher
	// Webhooks delivers the webhook messages the store queues.
	Webhooks *engine.WebhookDispatcher
	Metrics  *metrics.Metrics
	// NotebookExecutor runs a rehearsal's notebooks through the hub; set
	// it before Build. Without it, rehearsals are refused (503) and only
	// those a restart interrupted are swept.
	NotebookExecutor wod.NotebookExecutor
	// Rehearsals runs rehearsals (built by Build).
	Rehearsals *rehearsal.Runner
	// ContentSync follows the --content-repo repositories (built by Build
	// when there are some).
	ContentSync *gitcontent.Syncer
	// ImportLocation is where new workshops of a content sync go (wod up's
	// local location); empty: the only location.
	ImportLocation string
	// ContentWait is the --content that waits for a first location (see
	// WaitForLocation); Serve imports it once one appears.
	ContentWait *operator.ContentWait
	handler     http.Handler
	repos       []*gitcontent.Repo
}

// NewLogger builds the process logger from the configuration.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Open connects to the store and brings its schema up to date.
func (a *App) Open(ctx context.Context) error {
	if a.Clock == nil {
		a.Clock = wod.SystemClock{}
	}
	db, err := store.Open(ctx, a.Config.DB, a.Clock)
	if err != nil {
		return err
	}
	n, err := db.Migrate(ctx)
	if err != nil {
		db.Close()
		return err
	}
	if n > 0 {
		a.Logger.Info("database migrated", "dialect", db.Dialect(), "applied", n)
	}
	a.DB = db
	return nil
}

// OpenKeys loads (or, on first start, generates) the server's keys.
func (a *App) OpenKeys() error {
	keys, err := secret.LoadOrCreateKeys(a.Config.Data)
	if err != nil {
		return err
	}
	a.Keys = keys
	return nil
}

// Close releases the store.
func (a *App) Close() {
	if a.DB != nil {
		a.DB.Close()
	}
}

// Build assembles the server role: the lifecycle engine, the outbox
// dispatcher and the HTTP handler.
func (a *App) Build() error {
	mc, bc := a.Config.Mail, a.Config.Branding
	renderer, err := mail.NewRenderer(a.Config.MailBranding(), mc.Templates)
	if err != nil {
		return err
	}
	var transport mail.Transport = mail.Keep{}
	if mc.SMTPHost != "" {
		smtp, err := mail.NewSMTP(mail.SMTPConfig{Host: mc.SMTPHost, Port: mc.SMTPPort, Security: mc.SMTPSecurity,
			Username: mc.SMTPUsername, Password: mc.SMTPPassword, Timeout: mc.SMTPTimeout})
		if err != nil {
			return err
		}
		transport = smtp
	}
	host, _ := os.Hostname()
	a.Engine = &engine.Engine{
		Store:             a.DB,
		Policy:            emailpolicy.New(a.Config.DenyList, nil),
		Composer:          renderer,
		Keys:              a.Keys,
		Clock:             a.Clock,
		Logger:            a.Logger,
		PublicURL:         a.Config.PublicURL,
		ProvisionTimeout:  a.Config.ProvisionTimeout,
		RemindBefore:      a.Config.RemindBefore,
		WaitMax:           a.Config.WaitMax,
		NotebookRetention: a.Config.NotebookRetention,
		AgentLease:        engine.DefaultAgentLease,
		AgentStale:        a.Config.AgentStale,
		AlertTo:           mc.AlertTo,
		Worker:            fmt.Sprintf("%s:%d", host, os.Getpid()),
	}
	if err := a.buildCommands(); err != nil {
		return err
	}
	ltiKey, err := lti.LoadOrCreateKey(filepath.Join(a.Config.Data, lti.KeyFile))
	if err != nil {
		return err
	}
	tool := &lti.Tool{Platforms: a.DB, Clock: a.Clock, PublicURL: a.Config.PublicURL, Key: ltiKey}
	a.Engine.Grades = tool
	a.Metrics = metrics.New(a.DB, a.Clock, Version, a.Logger)
	a.Engine.Observer = a.Metrics
	a.Dispatcher = &engine.Dispatcher{Store: a.DB, Transport: transport, Keys: a.Keys, Clock: a.Clock,
		Logger: a.Logger, From: mc.From, Wake: a.Engine.Notified, SendTimeout: mc.SMTPTimeout, Observer: a.Metrics}
	if err := a.buildContentSync(); err != nil {
		return err
	}
	notebooks := rehearsal.ContentNotebooks(a.Config.Content)
	if a.ContentSync != nil {
		// The notebooks of the commits the catalogue was imported from.
		notebooks = func(ctx context.Context, slug string) ([]string, error) {
			dirs, err := a.ContentSync.Current(ctx)
			if err != nil {
				return nil, err
			}
			return rehearsal.ContentNotebooks(dirs)(ctx, slug)
		}
	}
	a.Webhooks = &engine.WebhookDispatcher{Store: a.DB, Client: webhook.NewClient(engine.DefaultWebhookTimeout, "wod/"+Version),
		Keys: a.Keys, Clock: a.Clock, Logger: a.Logger.With("component", "webhooks"), Alerts: a.Engine, Wake: a.Engine.Notified}
	a.Rehearsals = &rehearsal.Runner{Store: a.DB, Engine: a.Engine, Executor: a.NotebookExecutor,
		Notebooks: notebooks, Clock: a.Clock,
		Logger: a.Logger.With("component", "rehearsal"), Observer: a.Metrics,
		CellTimeout: a.Config.Rehearsal.CellTimeout, Input: a.Config.Rehearsal.Input, Every: a.Config.Rehearsal.Every,
		ReadyTimeout: a.Config.ProvisionTimeout + time.Minute}
	ops := a.Operator()
	api := &httpapi.Server{
		Workshops: a.DB, Locations: a.DB, Seats: a.DB, Registrations: a.DB, Registrar: a.Engine, Operator: ops,
		Agents: a.Engine, AgentAuth: a.DB, Jobs: a.DB, Mails: a.DB, Users: a.DB, Tokens: a.DB, Sessions: a.DB,
		Events: a.DB, Announcements: a.DB, LTI: a.DB, Webhooks: a.DB, Health: a.DB, Keys: a.Keys, Clock: a.Clock, Logger: a.Logger,
		PublicURL: a.Config.PublicURL, Version: Version, RegistrationRate: a.Config.RegistrationRate, AgentStale: a.Config.AgentStale,
		TrustProxy: a.Config.TrustProxy, SessionTTL: a.Config.SessionTTL, LoginConcurrency: a.Config.LoginConcurrency,
		LegacyRoutes: a.Config.LegacyRoutes, Backends: a.Engine,
	}
	if a.ContentSync != nil {
		api.ContentHookSecret = a.ContentHookSecret()
	}
	pages := &web.Pages{Workshops: a.DB, Registrations: a.DB, Locations: a.DB, Registrar: a.Engine, Operator: ops,
		Announcements: a.DB, Badges: a.DB, Jobs: a.DB, Mails: a.DB, Users: a.DB, Tokens: a.DB, Stats: a.DB,
		Events: a.DB, Webhooks: a.DB, Checks: a.DB, Gate: api, Keys: a.Keys, Clock: a.Clock, Logger: a.Logger,
		Brand: web.Branding{Name: bc.Name, Logo: bc.Logo, Color: bc.Color, URL: bc.URL,
			Support: bc.Support, Links: brandLinks(bc)},
		Announcement:      a.Config.Announcement,
		NotebookRetention: a.Config.NotebookRetention,
		LTI:               tool}
	if a.ContentSync != nil {
		pages.ContentHookURL = a.Config.PublicURL + httpapi.ContentHookPath
		pages.ContentHookSecret = a.ContentHookSecret()
	}
	// /metrics on the main address is for operators (a Prometheus scrape
	// with a bearer token); --metrics-addr serves it openly elsewhere.
	mountMetrics := func(mux *http.ServeMux) { mux.Handle("GET /metrics", api.RequireOperator(a.Metrics.Handler())) }
	a.handler = a.Metrics.Instrument(logRequests(a.Logger, httpapi.Compress(api.Handler(pages.Register, mountMetrics))),
		httpapi.WithRoute)
	return nil
}

// Serve runs the HTTP server, the engine's timers and the outbox until ctx
// ends, then drains the HTTP server.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	if a.handler == nil {
		if err := a.Build(); err != nil {
			return err
		}
	}
	if a.Config.MetricsAddr != "" {
		stopMetrics, err := a.serveMetrics()
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	srv := &http.Server{
		Handler:           a.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn),
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { a.Engine.Run(ctx) })
	wg.Go(func() { a.Engine.FollowAgentJobs(ctx) })
	wg.Go(func() { a.Engine.RunLegacy(ctx) })
	wg.Go(func() { a.Dispatcher.Run(ctx) })
	wg.Go(func() { a.Webhooks.Run(ctx) })
	wg.Go(func() { a.Rehearsals.Run(ctx) })
	if a.ContentSync != nil {
		wg.Go(func() { a.ContentSync.Run(ctx) })
	}
	if checks := a.serverChecks(); checks != nil {
		wg.Go(func() { checks.Run(ctx) })
	}
	if a.ContentWait != nil {
		wg.Go(func() { a.ContentWait.Run(ctx, a.Operator()) })
	}
	if a.Config.Retention > 0 || a.Config.NotebookRetention > 0 {
		h := &engine.Housekeeper{Store: a.DB, Clock: a.Clock, Logger: a.Logger, Retention: a.Config.Retention,
			NotebookRetention: a.Config.NotebookRetention}
		wg.Go(func() { h.Run(ctx) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	a.Logger.Info("serving", "addr", ln.Addr().String(), "url", a.Config.PublicURL, "version", Version)
	var err error
	select {
	case err = <-errc:
		err = fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
		shutdown, cancelShutdown := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancelShutdown()
		if serr := srv.Shutdown(shutdown); serr != nil {
			err = fmt.Errorf("http shutdown: %w", serr)
		} else if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
			err = fmt.Errorf("http server: %w", serr)
		}
	}
	cancel()
	wg.Wait()
	return err
}

// serveMetrics serves /metrics alone, openly, on --metrics-addr, until
// the returned stop, which returns once the server has.
func (a *App) serveMetrics() (stop func(), err error) {
	ln, err := net.Listen("tcp", a.Config.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			a.Logger.Error("metrics server", "error", err)
		}
	}()
	a.Logger.Info("serving metrics", "addr", ln.Addr().String())
	return func() { srv.Close(); <-done }, nil
}

// Handler is the server's HTTP handler (API and pages), once built.
func (a *App) Handler() http.Handler { return a.handler }

// Listen opens the configured address.
func (a *App) Listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w (choose another with --addr)", a.Config.Addr, err)
	}
	return ln, nil
}

// EnsureAdmin creates the first admin when there is no user (see
// operator.Service.EnsureAdmin), with the password in the data directory.
func (a *App) EnsureAdmin(ctx context.Context) (string, error) {
	return a.Operator().EnsureAdmin(ctx, a.Config.Data)
}

// logRequests logs each request at debug level, and server errors at warn.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		logger.Log(r.Context(), level, "request", "method", r.Method, "path", redactPath(r.URL.Path), "status", rec.status,
			"duration", time.Since(start).Round(time.Microsecond))
	})
}

// redactPath keeps signed participant links out of the log; query strings
// are never logged at all.
func redactPath(p string) string {
	for _, prefix := range []string{httpapi.APIPrefix + "/status/", "/status/"} {
		if strings.HasPrefix(p, prefix) {
			return prefix + "…"
		}
	}
	return p
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// brandLinks are the footer links of the pages.
func brandLinks(bc config.Branding) []web.Link {
	var links []web.Link
	for _, l := range []web.Link{{Label: "Community", URL: bc.Slack}, {Label: "X", URL: bc.X},
		{Label: "Feedback", URL: bc.FeedbackURL}} {
		if strings.HasPrefix(l.URL, "https://") || strings.HasPrefix(l.URL, "http://") {
			links = append(links, l)
		}
	}
	return links
}
