// A fixture for upspan's Go instrumentation: an HTTP server whose /users/{id} handler
// calls a second local HTTP endpoint (a backend listener in the same process) and runs
// database/sql queries against an in-process fake driver, one of them from a goroutine
// the handler starts; /call makes requests to any URL. Standard library only. Prints
// "listening <port> <backend port>".
// With UPSPAN_TLS_CERT and UPSPAN_TLS_KEY set, both listeners serve HTTPS (HTTP/2 by ALPN)
// and the handler's backend calls go over HTTP/2 too.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
)

// fakeDriver answers every query with one row; a query naming missing_table fails.
type fakeDriver struct{}
type fakeConn struct{}
type fakeRows struct {
	value string
	done  bool
}

func (fakeDriver) Open(string) (driver.Conn, error) { return fakeConn{}, nil }

func (fakeConn) Prepare(string) (driver.Stmt, error) { return nil, errors.New("not supported") }
func (fakeConn) Close() error                        { return nil }
func (fakeConn) Begin() (driver.Tx, error)           { return nil, errors.New("not supported") }

func (fakeConn) QueryContext(_ context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if strings.Contains(query, "missing_table") {
		return nil, errors.New("no such table: missing_table")
	}
	v := "none"
	if len(args) > 0 {
		v = fmt.Sprint(args[0].Value)
	}
	return &fakeRows{value: "user-" + v}, nil
}

func (fakeConn) ExecContext(_ context.Context, query string, _ []driver.NamedValue) (driver.Result, error) {
	if strings.Contains(query, "missing_table") {
		return nil, errors.New("no such table: missing_table")
	}
	return driver.RowsAffected(1), nil
}

func (r *fakeRows) Columns() []string { return []string{"name"} }
func (r *fakeRows) Close() error      { return nil }
func (r *fakeRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = r.value
	return nil
}

var (
	db          *sql.DB
	backendBase string
	// Enough idle connections for concurrent handlers: Go's default of 2 per host would
	// redial the backend under load.
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
)

func userID(path string) string {
	return strings.TrimPrefix(path, "/users/")
}

// users: a backend call, a query from a goroutine the handler starts, an exec.
func users(w http.ResponseWriter, r *http.Request) {
	id := userID(r.URL.Path)
	ctx := r.Context()
	req, _ := http.NewRequestWithContext(ctx, "GET", backendBase+"/backend/"+id+"?q=1", nil)
	resp, err := client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	names := make(chan string, 1)
	go func() {
		var name string
		if err := db.QueryRowContext(ctx, "SELECT name FROM users WHERE id = ?", id).Scan(&name); err != nil {
			name = "error"
		}
		names <- name
	}()
	name := <-names
	if _, err := db.ExecContext(ctx, "UPDATE users SET seen = seen + 1 WHERE id = ?", id); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fmt.Fprintf(w, "user %s: %s backend=%s\n", id, name, body)
}

// fail: a failing query, then 500.
func fail(w http.ResponseWriter, r *http.Request) {
	_, err := db.ExecContext(r.Context(), "DELETE FROM missing_table")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "failed: %v\n", err)
}

// call: n requests (?n=, default 1) to ?url=, GET or (?post=1) POST with a small body, each
// with an X-Call header (and ?traceparent= when given); answers with each response's
// status and body, in order.
func call(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	var out bytes.Buffer
	for i := 0; i < n || i == 0; i++ {
		method, body := "GET", io.Reader(nil)
		if q.Get("post") != "" {
			method, body = "POST", strings.NewReader("body "+strconv.Itoa(i))
		}
		req, err := http.NewRequestWithContext(r.Context(), method, q.Get("url"), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Header.Set("X-Call", strconv.Itoa(i))
		if tp := q.Get("traceparent"); tp != "" {
			req.Header.Set("Traceparent", tp)
		}
		resp, err := client.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&out, "%d %s\n", resp.StatusCode, got)
	}
	w.Write(out.Bytes())
}

// backend: what the users handler calls.
func backend(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	fmt.Fprintf(w, "b%s", strings.TrimPrefix(r.URL.Path, "/backend/"))
}

func main() {
	sql.Register("fakedb", fakeDriver{})
	var err error
	if db, err = sql.Open("fakedb", ""); err != nil {
		panic(err)
	}
	front, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	back, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	certFile, keyFile := os.Getenv("UPSPAN_TLS_CERT"), os.Getenv("UPSPAN_TLS_KEY")
	serve := func(l net.Listener, h http.Handler) error { return http.Serve(l, h) }
	backendBase = "http://" + back.Addr().String()
	if certFile != "" {
		pem, err := os.ReadFile(certFile)
		if err != nil {
			panic(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		client.Transport = &http.Transport{
			MaxIdleConnsPerHost: 64,
			ForceAttemptHTTP2:   true,
			TLSClientConfig:     &tls.Config{RootCAs: roots},
		}
		serve = func(l net.Listener, h http.Handler) error { return http.ServeTLS(l, h, certFile, keyFile) }
		backendBase = "https://" + back.Addr().String()
	}
	frontMux, backMux := http.NewServeMux(), http.NewServeMux()
	registerRoutes(frontMux, backMux)
	frontMux.HandleFunc("/call", call)
	go serve(back, backMux)
	fmt.Printf("listening %d %d\n", front.Addr().(*net.TCPAddr).Port, back.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	panic(serve(front, frontMux))
}
