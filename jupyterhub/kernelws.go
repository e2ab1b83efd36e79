package jupyterhub

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// The kernel client a notebook page is: the notebook server's kernels REST
// API and a kernel's channels websocket through the hub's proxy, with the
// participant's cookies. Participant.Execute and the Rehearser share it.

// startKernel starts a kernel of the kernelspec name and returns its id.
func (p *Participant) startKernel(ctx context.Context, name string) (string, error) {
	var k struct {
		ID string `json:"id"`
	}
	if err := p.API(ctx, http.MethodPost, "/api/kernels", map[string]string{"name": name}, &k); err != nil {
		return "", fmt.Errorf("starting a %s kernel: %w", name, err)
	}
	return k.ID, nil
}

// shutdownKernel ends a kernel, even when ctx has ended: a kernel left
// running holds memory in the participant's server.
func (p *Participant) shutdownKernel(ctx context.Context, id string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	return p.API(ctx, http.MethodDelete, "/api/kernels/"+url.PathEscape(id), nil, nil)
}

// interruptKernel asks the server to interrupt the kernel (SIGINT or an
// interrupt_request, as its kernelspec says).
func (p *Participant) interruptKernel(ctx context.Context, id string) error {
	return p.API(ctx, http.MethodPost, "/api/kernels/"+url.PathEscape(id)+"/interrupt", nil, nil)
}

// restartKernel restarts the kernel in place (same id, fresh state).
func (p *Participant) restartKernel(ctx context.Context, id string) error {
	return p.API(ctx, http.MethodPost, "/api/kernels/"+url.PathEscape(id)+"/restart", nil, nil)
}

// kernelMsg is one Jupyter message as the notebook server's websocket
// carries it (JSON, with the channel named).
type kernelMsg struct {
	Channel      string         `json:"channel"`
	Header       map[string]any `json:"header"`
	ParentHeader map[string]any `json:"parent_header"`
	Metadata     map[string]any `json:"metadata"`
	Content      map[string]any `json:"content"`
}

func (m *kernelMsg) msgType() string  { s, _ := m.Header["msg_type"].(string); return s }
func (m *kernelMsg) parentID() string { s, _ := m.ParentHeader["msg_id"].(string); return s }

// kernelConn is an open channels websocket of one kernel. A goroutine reads
// it into msgs, because a Read whose context ends closes the connection,
// and the caller needs timeouts that do not.
type kernelConn struct {
	ws       *websocket.Conn
	username string
	session  string
	msgs     chan kernelMsg
	done     chan struct{} // closed when the reader stops; err says why
	err      error
	stop     context.CancelFunc
}

// dialKernel opens /user/<name>/api/kernels/<id>/channels through the
// proxy with the session cookies, as the notebook page does.
func (p *Participant) dialKernel(ctx context.Context, id string) (*kernelConn, error) {
	session := rand.Text()
	u, err := url.Parse(p.userBase + "/api/kernels/" + url.PathEscape(id) + "/channels?session_id=" + session)
	if err != nil {
		return nil, err
	}
	var cookies []string
	for _, c := range p.jar.Cookies(u) {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	hdr := http.Header{}
	hdr.Set("Cookie", strings.Join(cookies, "; "))
	ws, _, err := websocket.Dial(ctx, u.String(), &websocket.DialOptions{HTTPHeader: hdr})
	if err != nil {
		return nil, fmt.Errorf("kernel channels: %w", err)
	}
	ws.SetReadLimit(1 << 24)
	rctx, stop := context.WithCancel(context.Background())
	k := &kernelConn{ws: ws, username: p.Name, session: session, msgs: make(chan kernelMsg, 64),
		done: make(chan struct{}), stop: stop}
	go k.read(rctx)
	return k, nil
}

func (k *kernelConn) read(ctx context.Context) {
	defer close(k.done)
	for {
		typ, data, err := k.ws.Read(ctx)
		if err != nil {
			k.err = fmt.Errorf("kernel channels: %w", err)
			return
		}
		var m kernelMsg
		if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
			continue // binary frames carry buffers (widgets): not ours
		}
		select {
		case k.msgs <- m:
		case <-ctx.Done():
			return
		}
	}
}

// close closes the websocket; the kernel goes on.
func (k *kernelConn) close() {
	k.stop()
	k.ws.CloseNow()
	<-k.done
}

// send writes a message on a channel and returns its msg_id.
func (k *kernelConn) send(ctx context.Context, channel, msgType string, parent map[string]any, content any) (string, error) {
	id := rand.Text()
	if parent == nil {
		parent = map[string]any{}
	}
	msg := map[string]any{
		"header": map[string]any{"msg_id": id, "username": k.username, "session": k.session, "msg_type": msgType,
			"version": "5.3", "date": time.Now().UTC().Format(time.RFC3339Nano)},
		"parent_header": parent, "metadata": map[string]any{}, "content": content, "buffers": []any{}, "channel": channel,
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return "", err
	}
	if err := k.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return "", fmt.Errorf("kernel channels: %s: %w", msgType, err)
	}
	return id, nil
}

// execute sends an execute_request and returns its msg_id; await
// collects what it produces.
func (k *kernelConn) execute(ctx context.Context, code string, allowStdin, stopOnError bool) (string, error) {
	return k.send(ctx, "shell", "execute_request", nil, map[string]any{"code": code, "silent": false,
		"store_history": true, "user_expressions": map[string]any{}, "allow_stdin": allowStdin, "stop_on_error": stopOnError})
}

// execution is what one execute_request produced, with its outputs in
// nbformat 4 form, as the notebook page writes them into the cell.
type execution struct {
	replied, idle bool
	status        string // the reply's: ok, error, abort(ed)
	count         int
	ename, evalue string
	traceback     []string
	outputs       []map[string]any
	clearPending  bool // clear_output(wait=True): clear at the next output
	inputs        int
}

// errWaitOver is await's timeout channel firing before the execution ended.
var errWaitOver = errors.New("the execution did not finish in time")

// await reads the messages of the request msgID into ex until its reply
// (shell) has come and the kernel is idle again (iopub): the two travel on
// different sockets, so a cell's last output may come after its reply.
// Input requests are answered with *input, or refused (empty value) when
// input is nil. It returns errWaitOver when timeout fires first, and
// errKernelDied when the server reports the kernel dead.
func (k *kernelConn) await(ctx context.Context, msgID string, ex *execution, input *string, timeout <-chan time.Time) error {
	for !ex.replied || !ex.idle {
		var m kernelMsg
		select {
		case m = <-k.msgs:
		case <-k.done:
			return k.err
		case <-timeout:
			return errWaitOver
		case <-ctx.Done():
			return ctx.Err()
		}
		// The server announces a kernel that died (and that it restarts)
		// on iopub with no parent: this request will never be answered.
		if m.msgType() == "status" && (m.Content["execution_state"] == "restarting" || m.Content["execution_state"] == "dead") {
			return errKernelDied
		}
		if m.parentID() != msgID {
			continue
		}
		switch m.msgType() {
		case "status":
			ex.idle = ex.idle || m.Content["execution_state"] == "idle"
		case "execute_input":
			if n, ok := m.Content["execution_count"].(float64); ok && ex.count == 0 {
				ex.count = int(n)
			}
		case "execute_reply":
			ex.replied = true
			ex.status, _ = m.Content["status"].(string)
			if n, ok := m.Content["execution_count"].(float64); ok && n > 0 {
				ex.count = int(n)
			}
			if ex.status == "error" && ex.ename == "" {
				ex.ename, _ = m.Content["ename"].(string)
				ex.evalue, _ = m.Content["evalue"].(string)
				ex.traceback = stringList(m.Content["traceback"])
			}
		case "input_request":
			value := ""
			if input != nil {
				value = *input
				ex.inputs++
				// The page echoes the prompt and the answer into the output.
				if pw, _ := m.Content["password"].(bool); !pw {
					prompt, _ := m.Content["prompt"].(string)
					ex.addStream("stdout", prompt+value+"\n")
				}
			}
			if _, err := k.send(ctx, "stdin", "input_reply", m.Header, map[string]any{"value": value}); err != nil {
				return err
			}
		case "stream":
			name, _ := m.Content["name"].(string)
			text, _ := m.Content["text"].(string)
			ex.addStream(name, text)
		case "execute_result":
			ex.add(map[string]any{"output_type": "execute_result", "execution_count": m.Content["execution_count"],
				"data": orEmpty(m.Content["data"]), "metadata": orEmpty(m.Content["metadata"])})
		case "display_data":
			ex.add(map[string]any{"output_type": "display_data",
				"data": orEmpty(m.Content["data"]), "metadata": orEmpty(m.Content["metadata"])})
		case "error":
			ex.ename, _ = m.Content["ename"].(string)
			ex.evalue, _ = m.Content["evalue"].(string)
			ex.traceback = stringList(m.Content["traceback"])
			ex.add(map[string]any{"output_type": "error", "ename": ex.ename, "evalue": ex.evalue,
				"traceback": ex.traceback})
		case "clear_output":
			if wait, _ := m.Content["wait"].(bool); wait {
				ex.clearPending = true
			} else {
				ex.outputs = nil
			}
		}
	}
	return nil
}

func (ex *execution) add(out map[string]any) {
	if ex.clearPending {
		ex.outputs, ex.clearPending = nil, false
	}
	ex.outputs = append(ex.outputs, out)
}

// addStream appends text to the last output when it is the same stream,
// as the notebook page merges them.
func (ex *execution) addStream(name, text string) {
	if n := len(ex.outputs); n > 0 && !ex.clearPending {
		last := ex.outputs[n-1]
		if last["output_type"] == "stream" && last["name"] == name {
			last["text"] = last["text"].(string) + text
			return
		}
	}
	ex.add(map[string]any{"output_type": "stream", "name": name, "text": text})
}

// printed is the text of the execution's stream outputs.
func (ex *execution) printed() string {
	var b strings.Builder
	for _, o := range ex.outputs {
		if o["output_type"] == "stream" {
			b.WriteString(o["text"].(string))
		}
	}
	return b.String()
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, s := range l {
		if s, ok := s.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func orEmpty(v any) any {
	if v == nil {
		return map[string]any{}
	}
	return v
}
