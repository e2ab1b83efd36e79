package httpapi_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wod-dev/wod/httpapi"
)

func TestCompress(t *testing.T) {
	t.Parallel()
	page := strings.Repeat("<p>a workshop card</p>\n", 500)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, page)
	})
	mux.HandleFunc("GET /png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		io.WriteString(w, page)
	})
	mux.HandleFunc("GET /empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	small := `{"id":42,"state":"pending"}`
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, small)
	})
	// A page written in small pieces crosses the threshold on the way.
	mux.HandleFunc("GET /pieces", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		for line := range strings.Lines(page) {
			io.WriteString(w, line)
		}
	})
	srv := httptest.NewServer(httpapi.Compress(mux))
	defer srv.Close()
	get := func(path, accept string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		// A bare Transport: the client must not ask for and undo gzip itself.
		res, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}

	res, body := get("/page", "br, gzip;q=0.8")
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("page not compressed: %v", res.Header)
	}
	zr, err := gzip.NewReader(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != page || len(body) > len(page)/10 {
		t.Fatalf("gzip round trip: %d bytes for %d, equal %v", len(body), len(page), string(plain) == page)
	}
	for _, c := range []struct{ path, accept string }{{"/page", ""}, {"/page", "gzip;q=0"}, {"/png", "gzip"}} {
		res, body := get(c.path, c.accept)
		if res.Header.Get("Content-Encoding") != "" || string(body) != page {
			t.Errorf("%s with %q: encoding %q", c.path, c.accept, res.Header.Get("Content-Encoding"))
		}
	}
	// Below a packet, the body goes as it is, with its status.
	if res, body := get("/small", "gzip"); res.StatusCode != 201 || string(body) != small || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("small JSON: %d %q %v", res.StatusCode, body, res.Header)
	}
	res, body = get("/pieces", "gzip")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("a page in pieces not compressed: %v", res.Header)
	}
	if zr, err = gzip.NewReader(strings.NewReader(string(body))); err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != page {
		t.Errorf("a page in pieces: %d bytes back, want %d", len(plain), len(page))
	}
	if res, body := get("/empty", "gzip"); res.StatusCode != 204 || len(body) != 0 || res.Header.Get("Content-Encoding") != "" {
		t.Errorf("204: %d %q %v", res.StatusCode, body, res.Header)
	}
}
