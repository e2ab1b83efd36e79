package jupyterhub

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// agentScopes are the scopes the agent's token needs, as JupyterHub 3.0
// names them (jupyterhub/scopes.py): create/delete users, start/stop servers
// (and read their state and spawn progress), mint user tokens, list and read
// users.
// (A function rather than a package variable: nothing can modify it.)
func agentScopes() []string {
	return []string{"admin:users", "admin:servers", "tokens", "list:users", "read:users"}
}

// externalCheckTimeout bounds the checks NewExternal makes.
const externalCheckTimeout = 15 * time.Second

// NewExternal returns a Client for a hub the operator runs (external mode),
// after checking that hubURL is an http(s) URL, that a JupyterHub answers
// there, and that token is accepted and carries the scopes the agent needs.
// The checks end with ctx, and after externalCheckTimeout at most.
func NewExternal(ctx context.Context, hubURL, token string) (*Client, error) {
	u, err := url.Parse(hubURL)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: hub URL %q: %w", hubURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("jupyterhub: hub URL %q: want http(s)://host[:port][/base], the hub's base URL", hubURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("jupyterhub: hub URL %q: must not carry a query, fragment or credentials (give the token separately)", hubURL)
	}
	// Accept both the base URL and the API URL people copy from docs.
	u.Path = strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/hub/api")
	u.Path = strings.TrimSuffix(u.Path, "/hub")
	token = strings.TrimSpace(token)
	if token == "" {
		return nil, errors.New("jupyterhub: an API token is required for an external hub (--hub-token)")
	}
	c := &Client{URL: strings.TrimRight(u.String(), "/"), Token: token}

	ctx, cancel := context.WithTimeout(ctx, externalCheckTimeout)
	defer cancel()
	if _, err := c.Version(ctx); err != nil {
		return nil, fmt.Errorf("jupyterhub: no JupyterHub answers at %s: %w", c.URL, err)
	}
	_, _, scopes, err := c.whoami(ctx)
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: the hub at %s refuses the token: %w", c.URL, err)
	}
	if missing := missingScopes(scopes, agentScopes()); len(missing) > 0 {
		return nil, fmt.Errorf("jupyterhub: the token for %s lacks the scopes %s; give it a role with %s",
			c.URL, strings.Join(missing, ", "), strings.Join(agentScopes(), ", "))
	}
	return c, nil
}

// missingScopes returns the wanted scopes that have is missing. A filtered
// scope ("admin:users!group=students") counts: restricting the agent to its
// students is an operator's legitimate choice.
func missingScopes(have, want []string) []string {
	base := make([]string, len(have))
	for i, s := range have {
		base[i], _, _ = strings.Cut(s, "!")
	}
	var missing []string
	for _, w := range want {
		if !slices.Contains(base, w) {
			missing = append(missing, w)
		}
	}
	return missing
}

// CheckToken proves the client's token now: the hub accepts it, with the
// scopes the agent needs (a daily check: a hub's tokens can be revoked or
// its roles edited under a running agent).
func (c *Client) CheckToken(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, externalCheckTimeout)
	defer cancel()
	_, _, scopes, err := c.whoami(ctx)
	if err != nil {
		return fmt.Errorf("jupyterhub: the hub at %s refuses the agent's token: %w", c.URL, err)
	}
	if missing := missingScopes(scopes, agentScopes()); len(missing) > 0 {
		return fmt.Errorf("jupyterhub: the agent's token for %s lacks the scopes %s", c.URL, strings.Join(missing, ", "))
	}
	return nil
}
