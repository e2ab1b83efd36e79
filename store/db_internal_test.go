package store

import "testing"

// TestPoolSize: pool_max_conns is taken out of a PostgreSQL URL (the
// server would refuse it as a setting of its own), the other parameters
// stay, and a size that is no number of connections is refused.
func TestPoolSize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		dsn, want string
		n         int
		bad       bool
	}{
		{dsn: "postgres://u@h/db?sslmode=disable", want: "postgres://u@h/db?sslmode=disable", n: 20},
		{dsn: "postgres://u@h/db?pool_max_conns=40&sslmode=disable", want: "postgres://u@h/db?sslmode=disable", n: 40},
		{dsn: "postgres://u@h/db?pool_max_conns=7", want: "postgres://u@h/db", n: 7},
		{dsn: "postgres://u@h/db?pool_max_conns=0", bad: true},
		{dsn: "postgres://u@h/db?pool_max_conns=many", bad: true},
	} {
		dsn, n, err := poolSize(c.dsn, 20)
		if c.bad {
			if err == nil {
				t.Errorf("poolSize(%q) = %q, %d; want an error", c.dsn, dsn, n)
			}
			continue
		}
		if err != nil || dsn != c.want || n != c.n {
			t.Errorf("poolSize(%q) = %q, %d, %v; want %q, %d", c.dsn, dsn, n, err, c.want, c.n)
		}
	}
}

// TestDefaultPoolSize: four connections per CPU, from 8 to 20.
func TestDefaultPoolSize(t *testing.T) {
	t.Parallel()
	for cpus, want := range map[int]int{1: 8, 2: 8, 3: 12, 4: 16, 5: 20, 64: 20} {
		if got := defaultPoolSize(cpus); got != want {
			t.Errorf("defaultPoolSize(%d) = %d, want %d", cpus, got, want)
		}
	}
}
