package legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// APIDB is a client of the original's api-db REST API, as its backend
// scripts use it: a moderator logs in and sends the JWT as x-access-token.
type APIDB struct {
	// URL is the API's base, e.g. https://apidb.example:8021/api.
	URL      string
	User     string
	Password string
	HTTP     *http.Client

	mu      sync.Mutex
	token   string
	tokenAt time.Time
}

// The api-db's tokens live 180 s; one older than this is renewed first.
const tokenReuse = 150 * time.Second

// Workshop is what the bridge reads of an api-db workshop.
type Workshop struct {
	ID             int64  `json:"id"`
	Name           string `json:"name"`
	Notebook       string `json:"notebook"`
	Location       string `json:"location"`
	Reset          bool   `json:"reset"`
	LDAP           bool   `json:"ldap"`
	Compile        string `json:"compile"`
	MonoAppliance  bool   `json:"monoappliance"`
	MultiAppliance bool   `json:"multiappliance"`
	Range          []int  `json:"range"`
}

// Student is an api-db student row (a seat).
type Student struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
	Assigned bool   `json:"assigned"`
	Location string `json:"location"`
}

// Workshops lists the api-db's workshops (a public route).
func (c *APIDB) Workshops(ctx context.Context) ([]Workshop, error) {
	var ws []Workshop
	if err := c.call(ctx, http.MethodGet, "/workshops", nil, false, &ws); err != nil {
		return nil, err
	}
	return ws, nil
}

// Students lists the api-db's student rows.
func (c *APIDB) Students(ctx context.Context) ([]Student, error) {
	var ss []Student
	if err := c.call(ctx, http.MethodGet, "/students", nil, true, &ss); err != nil {
		return nil, err
	}
	return ss, nil
}

// PutStudent updates a student row by its global id. Values are strings,
// as the original's scripts send them (Sequelize converts them).
func (c *APIDB) PutStudent(ctx context.Context, id int64, fields map[string]string) error {
	return c.call(ctx, http.MethodPut, "/student/"+strconv.FormatInt(id, 10), fields, true, nil)
}

// PutCustomer updates a customer (registration).
func (c *APIDB) PutCustomer(ctx context.Context, id int64, fields map[string]string) error {
	return c.call(ctx, http.MethodPut, "/customer/"+strconv.FormatInt(id, 10), fields, true, nil)
}

// call sends one request; with auth, a refused token is renewed once.
func (c *APIDB) call(ctx context.Context, method, path string, body any, auth bool, out any) error {
	for try := 0; ; try++ {
		token := ""
		if auth {
			var err error
			if token, err = c.sessionToken(ctx, try > 0); err != nil {
				return err
			}
		}
		status, b, err := c.do(ctx, method, path, body, token)
		if err != nil {
			return err
		}
		if auth && try == 0 && (status == http.StatusUnauthorized || status == http.StatusForbidden) {
			continue // expired: log in again
		}
		if status/100 != 2 {
			return fmt.Errorf("api-db %s %s: %d %s", method, path, status, snippet(b))
		}
		if out != nil {
			if err := json.Unmarshal(b, out); err != nil {
				return fmt.Errorf("api-db %s %s: the answer is not what the original api-db sends: %w", method, path, err)
			}
		}
		return nil
	}
}

func (c *APIDB) sessionToken(ctx context.Context, renew bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !renew && c.token != "" && time.Since(c.tokenAt) < tokenReuse {
		return c.token, nil
	}
	at := time.Now()
	status, b, err := c.do(ctx, http.MethodPost, "/login", map[string]string{"username": c.User, "password": c.Password}, "")
	if err != nil {
		return "", err
	}
	if status/100 != 2 {
		return "", fmt.Errorf("api-db login as %s: %d %s", c.User, status, snippet(b))
	}
	var res struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(b, &res); err != nil || res.AccessToken == "" {
		return "", fmt.Errorf("api-db login as %s: no accessToken in the answer", c.User)
	}
	c.token, c.tokenAt = res.AccessToken, at
	return c.token, nil
}

func (c *APIDB) do(ctx context.Context, method, path string, body any, token string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.URL, "/")+path, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("api-db %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("x-access-token", token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("api-db %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return 0, nil, fmt.Errorf("api-db %s %s: %w", method, path, err)
	}
	return res.StatusCode, b, nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	return truncate(s, 200)
}

// errNoWorkshop says the api-db has no workshop of that notebook.
var errNoWorkshop = errors.New("the api-db has no workshop of that notebook")
