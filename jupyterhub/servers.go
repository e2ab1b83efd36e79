package jupyterhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

const (
	defaultPollEvery = 250 * time.Millisecond
	maxPollEvery     = time.Second
	// pendingRetries bounds how often a start/stop is re-asked after the hub
	// said the server was in the opposite transition: it only loops if
	// someone else keeps flipping the server.
	pendingRetries = 5
)

// StartServer starts the default server of user name and returns once it is
// ready, the spawn failed, or ctx ends. A server that is already running is
// success. The hub answers 201 when the spawn finished within its
// slow_spawn_timeout (10 s) and 202 otherwise; a 202 is followed through the
// spawn-progress event stream, falling back to polling the user model.
func (c *Client) StartServer(ctx context.Context, name string) error {
	path, err := userPath(name, "/server")
	if err != nil {
		return err
	}
	for range pendingRetries {
		resp, err := c.call(ctx, http.MethodPost, path, nil)
		if err != nil {
			return err
		}
		switch {
		case resp.status == http.StatusCreated:
			return nil
		case resp.status == http.StatusAccepted:
			return c.waitReady(ctx, name)
		case resp.status == http.StatusBadRequest && strings.Contains(hubMessage(resp.body), "already running"):
			return nil
		case resp.status == http.StatusBadRequest && strings.Contains(hubMessage(resp.body), "pending stop"):
			// A stop is in flight; 3.0 cannot start until it completes.
			if err := c.waitSettled(ctx, name); err != nil {
				return err
			}
			continue
		}
		return c.apiError(http.MethodPost, path, resp)
	}
	return fmt.Errorf("jupyterhub: starting the server of %s: it kept changing state", name)
}

// StopServer stops the default server of user name and returns once it is
// stopped or ctx ends. Stopping a server that is not running, or of a user
// that does not exist, is success.
func (c *Client) StopServer(ctx context.Context, name string) error {
	path, err := userPath(name, "/server")
	if err != nil {
		return err
	}
	for range pendingRetries {
		resp, err := c.call(ctx, http.MethodDelete, path, nil)
		if err != nil {
			return err
		}
		msg := hubMessage(resp.body)
		switch {
		case resp.status == http.StatusNoContent || resp.status == http.StatusOK:
			return nil
		case resp.status == http.StatusAccepted:
			return c.waitStopped(ctx, name)
		case resp.status == http.StatusNotFound:
			return nil
		case resp.status == http.StatusBadRequest && strings.Contains(msg, "not running"):
			return nil
		case resp.status == http.StatusBadRequest && strings.Contains(msg, "pending"):
			// 3.0 refuses to stop a server whose spawn is still pending
			// ("pending spawn, please wait"; 5.1 lifted this): wait for the
			// spawn to finish one way or the other, then stop.
			if err := c.waitSettled(ctx, name); err != nil {
				return err
			}
			continue
		case resp.status >= 500:
			// 3.0 answers 500 for a user it does not know (the handler
			// dereferences the missing user). Tell that apart from a real
			// failure to keep stop idempotent.
			if _, uerr := c.User(ctx, name); errors.Is(uerr, ErrNotFound) {
				return nil
			}
		}
		return c.apiError(http.MethodDelete, path, resp)
	}
	return fmt.Errorf("jupyterhub: stopping the server of %s: it kept changing state", name)
}

// waitReady waits until the default server of name is ready.
func (c *Client) waitReady(ctx context.Context, name string) error {
	p := c.newPoller()
	for {
		u, err := c.User(ctx, name)
		if err != nil {
			return fmt.Errorf("jupyterhub: waiting for the server of %s: %w", name, err)
		}
		s, active := u.Servers[""]
		switch {
		case active && s.Ready:
			return nil
		case active && s.Pending == "spawn":
			// The event stream returns as soon as the spawn resolves, so
			// following it is faster than polling and carries the failure
			// message. If the stream breaks, fall back to polling.
			ev, err := c.progress(ctx, name)
			if err == nil && ev.Failed {
				return &SpawnError{User: name, Message: ev.Message}
			}
			if err == nil && ev.Ready {
				return nil
			}
		case active && s.Pending == "stop":
			return &SpawnError{User: name, Message: "the server is being stopped"}
		case !active:
			// Not running and not pending: the spawn failed (or someone
			// stopped it). The stream reports a failed spawn's message.
			msg := "the server is not running"
			if ev, err := c.progress(ctx, name); err == nil && ev.Failed && ev.Message != "" {
				msg = ev.Message
			}
			return &SpawnError{User: name, Message: msg}
		}
		if err := p.wait(ctx); err != nil {
			return fmt.Errorf("jupyterhub: waiting for the server of %s: %w", name, err)
		}
	}
}

// waitStopped waits until the default server of name is no longer active.
func (c *Client) waitStopped(ctx context.Context, name string) error {
	return c.waitServer(ctx, name, "stop", func(s Server, active bool) bool {
		return !active || (!s.Ready && s.Pending == "")
	})
}

// waitSettled waits until the default server of name is not pending.
func (c *Client) waitSettled(ctx context.Context, name string) error {
	return c.waitServer(ctx, name, "settle", func(s Server, active bool) bool {
		return !active || s.Pending == ""
	})
}

// waitServer polls the user model until done holds of the default server
// of name (active: the user has one), the user is gone, or ctx ends. The
// hub offers no event for a stop or the end of a pending state, hence the
// poll; what says the server does what is for the error.
func (c *Client) waitServer(ctx context.Context, name, does string, done func(s Server, active bool) bool) error {
	p := c.newPoller()
	for {
		u, err := c.User(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("jupyterhub: waiting for the server of %s to %s: %w", name, does, err)
		}
		s, active := u.Servers[""]
		if done(s, active) {
			return nil
		}
		if err := p.wait(ctx); err != nil {
			return fmt.Errorf("jupyterhub: waiting for the server of %s to %s: %w", name, does, err)
		}
	}
}

// SpawnError is a server that did not become ready; Message is the hub's
// reason (e.g. "Spawn failed: Timeout", or the spawner's exception).
type SpawnError struct {
	User    string
	Message string
}

func (e *SpawnError) Error() string {
	return fmt.Sprintf("jupyterhub: server of %s did not start: %s", e.User, e.Message)
}

// poller sleeps between state polls, slowing from pollEvery to a second.
type poller struct{ next time.Duration }

func (c *Client) newPoller() *poller {
	d := c.pollEvery
	if d <= 0 {
		d = defaultPollEvery
	}
	return &poller{next: d}
}

func (p *poller) wait(ctx context.Context) error {
	t := time.NewTimer(p.next)
	defer t.Stop()
	p.next = min(p.next*3/2, maxPollEvery)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// activeServersPage is how many users ActiveServers asks for at once (the
// hub's largest page, api_page_max_limit, is 200 by default).
const activeServersPage = 200

// ActiveServers names the users whose default server is running or
// changing state (spawn or stop pending), in a request per 200 such users
// rather than one per user.
func (c *Client) ActiveServers(ctx context.Context) (map[string]bool, error) {
	active := map[string]bool{}
	for offset := 0; ; {
		path := fmt.Sprintf("/users?state=active&offset=%d&limit=%d", offset, activeServersPage)
		resp, err := c.call(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		if resp.status != http.StatusOK {
			return nil, c.apiError(http.MethodGet, path, resp)
		}
		var users []User
		if err := json.Unmarshal(resp.body, &users); err != nil {
			return nil, fmt.Errorf("jupyterhub: GET %s: decoding users: %w", path, err)
		}
		for _, u := range users {
			if u.Server != "" || u.Pending != "" {
				active[u.Name] = true
			}
		}
		if len(users) < activeServersPage {
			return active, nil
		}
		offset += len(users)
	}
}
