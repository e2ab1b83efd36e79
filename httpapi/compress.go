package httpapi

import (
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"sync"
)

// Compress gzips the responses worth it — pages, JSON, CSS, scripts, CSV —
// for clients that accept it. An admin listing is ~100 KB of HTML that
// shrinks tenfold; participants on conference Wi-Fi and phones feel that.
// Partial content, bodiless responses and anything already encoded pass
// through untouched.
func Compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead || r.Header.Get("Range") != "" || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
			next.ServeHTTP(w, r)
			return
		}
		cw := &compressWriter{ResponseWriter: w}
		defer cw.close()
		next.ServeHTTP(cw, r)
	})
}

func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			return strings.ReplaceAll(strings.TrimSpace(params), " ", "") != "q=0"
		}
	}
	return false
}

var gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression); return w }}

// compressMin is the smallest body worth compressing: below a packet, gzip
// saves nothing on the wire and costs a compressor's reset and flush, per
// response (the agents' claims and reports, most JSON answers).
const compressMin = 1400

// compressWriter decides, from the status and the content type, whether
// the response may be compressed, then holds its first compressMin bytes
// back: a body that ends before is sent as it is.
type compressWriter struct {
	http.ResponseWriter
	status   int  // held back until the encoding is known
	eligible bool // compressible, decided at the header
	decided  bool // the header is decided
	sent     bool // the header went out
	held     []byte
	gz       *gzip.Writer
}

// compressible are the content types gzip shrinks; images and archives
// are compressed already.
var compressible = []string{"text/", "application/json", "application/problem+json", "application/javascript",
	"application/openapi+json", "image/svg+xml"}

func (c *compressWriter) WriteHeader(status int) {
	if c.decided {
		return
	}
	c.decided, c.status = true, status
	h := c.Header()
	if status < 200 || status == http.StatusNoContent || status == http.StatusNotModified ||
		status == http.StatusPartialContent || h.Get("Content-Encoding") != "" {
		c.send(false)
		return
	}
	ct := h.Get("Content-Type")
	for _, prefix := range compressible {
		if strings.HasPrefix(ct, prefix) {
			c.eligible = true
			return
		}
	}
	c.send(false)
}

// send writes the header, gzipped or not, and what was held back.
func (c *compressWriter) send(gzipped bool) error {
	if c.sent {
		return nil
	}
	c.sent = true
	if gzipped {
		h := c.Header()
		h.Set("Content-Encoding", "gzip")
		h.Del("Content-Length")
		c.gz = gzipWriters.Get().(*gzip.Writer)
		c.gz.Reset(c.ResponseWriter)
	}
	c.ResponseWriter.WriteHeader(c.status)
	held := c.held
	c.held = nil
	if len(held) == 0 {
		return nil
	}
	_, err := c.write(held)
	return err
}

func (c *compressWriter) write(b []byte) (int, error) {
	if c.gz != nil {
		return c.gz.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

func (c *compressWriter) Write(b []byte) (int, error) {
	if !c.decided {
		if c.Header().Get("Content-Type") == "" {
			c.Header().Set("Content-Type", http.DetectContentType(b))
		}
		c.WriteHeader(http.StatusOK)
	}
	if c.sent {
		return c.write(b)
	}
	c.held = append(c.held, b...)
	if len(c.held) >= compressMin {
		if err := c.send(true); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// Flush sends what is compressed so far (long-polls and streams).
func (c *compressWriter) Flush() {
	if c.decided && !c.sent {
		c.send(c.eligible)
	}
	if c.gz != nil {
		c.gz.Flush()
	}
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (c *compressWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// close ends the response: a body held back whole goes out as it is.
func (c *compressWriter) close() {
	if c.decided && !c.sent {
		c.send(false)
	}
	if c.gz != nil {
		c.gz.Close()
		c.gz.Reset(io.Discard)
		gzipWriters.Put(c.gz)
		c.gz = nil
	}
}
