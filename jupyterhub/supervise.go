package jupyterhub

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// hubProc is one launch of the hub.
type hubProc struct {
	cmd     *exec.Cmd
	started time.Time
	done    chan struct{} // closed when the process has exited
	err     error         // exit status, valid after done
	out     *hubLog
	readers sync.WaitGroup
}

// launch starts the hub process. Its stdout and stderr are one pipe whose
// write end is handed to the child as a file, so that exec does not wait for
// the copy: the proxy inherits the pipe and may outlive a killed hub. The
// students' servers write to logs of their own (renderSpawner), not here.
func (m *Managed) launch() (*hubProc, error) {
	s := m.set
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("jupyterhub: %w", err)
	}
	// The login throttle's audit records come on a pipe of their own, so
	// that nothing another process writes to the hub's output (a server
	// started by an older wod still holds it) can pass for one.
	ar, aw, err := os.Pipe()
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("jupyterhub: %w", err)
	}
	cmd := exec.Command(s.command, "-f", s.configPath)
	cmd.Dir = s.dir
	cmd.Env = childEnv([]string{fmt.Sprintf("WOD_AUDIT_FD=%d", auditFD)})
	cmd.Stdout, cmd.Stderr = w, w
	cmd.ExtraFiles = []*os.File{aw} // fd 3 = auditFD
	// Own process group: a Ctrl-C meant for the agent must not reach the hub
	// behind the supervisor's back; Run decides when the hub stops.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p := &hubProc{cmd: cmd, done: make(chan struct{}), out: newHubLog(m.logger(), s.cfg.ServiceToken)}
	if err := cmd.Start(); err != nil {
		r.Close()
		w.Close()
		ar.Close()
		aw.Close()
		return nil, fmt.Errorf("jupyterhub: starting %s: %w", s.command, err)
	}
	w.Close()
	aw.Close()
	p.started = time.Now()
	p.readers.Add(2)
	go func() {
		defer p.readers.Done()
		defer r.Close()
		p.out.copy(r)
	}()
	go func() {
		defer p.readers.Done()
		defer ar.Close()
		m.audit.read(ar, m.logger())
	}()
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	m.logger().Debug("launched jupyterhub", "pid", cmd.Process.Pid, "config", s.configPath)
	return p, nil
}

// waitUp polls until the API answers to the agent's token and the proxy
// routes the hub, the process exits, StartTimeout passes or ctx ends.
func (m *Managed) waitUp(ctx context.Context, c *Client, p *hubProc) error {
	ctx, cancel := context.WithTimeout(ctx, m.set.startTimeout)
	defer cancel()
	// A probe client without retries: the loop here is the retry, and it
	// must notice a dead process at once.
	probe := *c
	probe.HTTP = &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}, Timeout: 2 * time.Second}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	apiUp := false
	for {
		select {
		case <-p.done:
			p.drain(time.Second) // its last words explain why
			return fmt.Errorf("jupyterhub: the hub exited during start (%v); last output:\n%s",
				p.err, strings.Join(p.out.lastLines(tailLines), "\n"))
		case <-ctx.Done():
			return fmt.Errorf("jupyterhub: the hub did not answer within %v: %w; last output:\n%s",
				m.set.startTimeout, ctx.Err(), strings.Join(p.out.lastLines(tailLines), "\n"))
		case <-tick.C:
		}
		if !apiUp {
			resp, err := probe.once(ctx, http.MethodGet, "/user", nil)
			if err != nil {
				continue // not listening yet
			}
			if resp.status == http.StatusForbidden || resp.status == http.StatusUnauthorized {
				// Listening but the token is refused: the configuration did
				// not load as written. Retrying will not help.
				return fmt.Errorf("jupyterhub: the hub refuses the agent's service token (%d); last output:\n%s",
					resp.status, strings.Join(p.out.lastLines(tailLines), "\n"))
			}
			if resp.status != http.StatusOK {
				continue
			}
			apiUp = true
		}
		// The API answers before the hub has routed itself on the proxy:
		// until it has, a student's login meets a 404.
		if m.proxyRoutesHub(ctx, probe.HTTP) {
			return nil
		}
	}
}

// proxyRoutesHub reports whether the hub's health check answers through the
// proxy's public address, i.e. the proxy routes the hub.
func (m *Managed) proxyRoutesHub(ctx context.Context, hc *http.Client) bool {
	host, port, err := net.SplitHostPort(m.set.bind)
	if err != nil {
		return false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	u := "http://" + net.JoinHostPort(host, port) + m.baseURL() + "hub/health"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	res, err := hc.Do(req)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// Run supervises the hub until ctx ends: if it dies it is restarted, after a
// backoff that grows while it keeps dying (1 s doubling to 30 s). When ctx
// ends, the hub gets SIGTERM (it stops its proxy and, unless KeepServers,
// the students' servers), then SIGKILL after StopTimeout, and a proxy left
// behind is stopped too.
// Run starts the hub itself if Start was not called.
func (m *Managed) Run(ctx context.Context) error {
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return errors.New("jupyterhub: Run is already active")
	}
	if m.proc == nil {
		if _, err := m.startLocked(ctx); err != nil {
			m.mu.Unlock()
			return err
		}
	}
	m.running = true
	p := m.proc
	audit := m.audit
	logs := m.set.cfg.ServerLogDir
	m.mu.Unlock()
	auditCtx, stopAudit := context.WithCancel(context.WithoutCancel(ctx))
	auditDone := make(chan struct{})
	go func() {
		defer close(auditDone)
		audit.deliver(auditCtx, m.Audit, m.logger())
	}()
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		keepServerLogsSmall(ctx, logs, m.logger())
	}()
	defer func() {
		<-logsDone
		// After the hub has stopped: its last records go out too.
		stopAudit()
		<-auditDone
		m.mu.Lock()
		m.running = false
		m.mu.Unlock()
	}()

	log := m.logger()
	backoff := restartBackoffMin
	for {
		// ctx first: a dead hub must not win the select over a shutdown.
		if ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-p.done:
			}
		}
		if ctx.Err() != nil {
			m.stopProc(p)
			m.mu.Lock()
			m.proc = nil
			m.mu.Unlock()
			log.Info("jupyterhub stopped")
			return nil
		}
		if time.Since(p.started) > restartHealthyAfter {
			backoff = restartBackoffMin
		}
		p.drain(300 * time.Millisecond) // for its last words
		log.Error("jupyterhub exited; restarting", "err", p.err, "in", backoff,
			"last_output", strings.Join(p.out.lastLines(5), "\n"))
		// The proxy and the students' servers of a killed hub are still
		// running; the next hub finds the proxy by its pid file and
		// replaces it, and takes the servers over from its database.
		np, err := m.restart(ctx, backoff)
		backoff = min(backoff*2, restartBackoffMax)
		if err != nil {
			if ctx.Err() != nil {
				continue // the top of the loop ends it
			}
			log.Error("jupyterhub restart failed", "err", err)
			// Keep a closed done channel so that the loop tries again.
			np = &hubProc{done: closedChan(), err: err, out: p.out, started: time.Now()}
		}
		p = np
		m.mu.Lock()
		m.proc = p
		m.mu.Unlock()
	}
}

// restart waits out the backoff, launches the hub and waits for its API. A
// hub that does not come up is stopped and reported as failed.
func (m *Managed) restart(ctx context.Context, backoff time.Duration) (*hubProc, error) {
	t := time.NewTimer(backoff)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	// The new hub would replace an orphaned proxy itself, but it sleeps a
	// second per signal doing so; stopping it here shortens the outage.
	if pid, err := stopStale(filepath.Join(m.set.dir, proxyPIDFile), "configurable-http-proxy", 3*time.Second); err != nil {
		m.logger().Warn("stopping the orphaned proxy", "err", err)
	} else if pid > 0 {
		m.logger().Debug("stopped the orphaned proxy", "pid", pid)
	}
	p, err := m.launch()
	if err != nil {
		return nil, err
	}
	if err := m.waitUp(ctx, m.client, p); err != nil {
		m.stopProc(p)
		return nil, err
	}
	m.logger().Info("jupyterhub is back", "pid", p.cmd.Process.Pid)
	return p, nil
}

// stopProc stops one launch of the hub and the proxy it may have left.
func (m *Managed) stopProc(p *hubProc) {
	log := m.logger()
	if p.cmd != nil && p.cmd.Process != nil {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			t := time.NewTimer(m.set.stopTime)
			select {
			case <-p.done:
				t.Stop()
			case <-t.C:
				log.Warn("jupyterhub did not stop in time; killing it", "pid", p.cmd.Process.Pid, "grace", m.set.stopTime)
				// The whole group: anything the hub started without a
				// session of its own goes with it.
				_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
				<-p.done
			}
		}
	}
	// After a clean stop the hub has removed the proxy's pid file; after a
	// kill the proxy is still running and listed there.
	if pid, err := stopStale(filepath.Join(m.set.dir, proxyPIDFile), "configurable-http-proxy", 3*time.Second); err != nil {
		log.Error("stopping the proxy", "err", err)
	} else if pid > 0 {
		log.Info("stopped the proxy left by jupyterhub", "pid", pid)
	}
	p.drain(readersGrace)
}

// drain waits up to d for the output pipe to be read to its end. It may not
// end at all: a proxy orphaned by a killed hub holds the write end.
func (p *hubProc) drain(d time.Duration) {
	done := make(chan struct{})
	go func() { p.readers.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// pid returns the pid of the running hub, or 0.
func (m *Managed) pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil || m.proc.cmd == nil || m.proc.cmd.Process == nil {
		return 0
	}
	select {
	case <-m.proc.done:
		return 0
	default:
		return m.proc.cmd.Process.Pid
	}
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}
