// A gRPC server and client (grpc-go from the module proxy) for tests: one service,
// demo.Echo, with a unary method (Say: echoes, or fails with the status the request names)
// and a server-streaming one (Count: as many messages as the request's length). Messages are
// raw bytes through a codec registered under the proto name, so no generated code is needed.
// Say "get:URL" makes an HTTP GET of URL from inside the handler and answers its status;
// Say "call:ADDR" calls Say "hello" of the gRPC server at ADDR (plaintext) and answers that.
//
//	grpc serve ADDR [CERT KEY]      serve until killed (over TLS with CERT and KEY); prints
//	                                "ready" once listening
//	grpc call ADDR                  Say "hello", Say "fail:5", Count "abcd", then exits
//	grpc client ADDR [CA]           prints "ready", then makes those three calls (over TLS
//	                                trusting CA) for each line read, printing "done" after;
//	                                a line "get URL" makes one call, Say "get:URL", instead;
//	                                a line "h2get URL" a GET of URL with x/net/http2's own
//	                                Transport (cleartext, prior knowledge), printing its status;
//	                                "call ADDR" one call, Say "call:ADDR"
//	grpc h2c ADDR                   net/http over cleartext HTTP/2 (prior knowledge and the
//	                                Upgrade: h2c path): /hello answers, anything else 404
//	grpc xnet ADDR CERT KEY         net/http over TLS with x/net/http2's own server
//	                                (http2.ConfigureServer) instead of the bundled one
//	grpc mounted ADDR [CERT KEY]    the gRPC server mounted on net/http (grpc.Server.ServeHTTP)
//	                                over cleartext HTTP/2, or over TLS with CERT and KEY
//	grpc mountedh2c ADDR            the gRPC server behind x/net's h2c.NewHandler
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/h2c"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
)

type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *(v.(*[]byte)), nil }
func (rawCodec) Unmarshal(b []byte, v any) error {
	*(v.(*[]byte)) = append([]byte(nil), b...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

func say(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
	var in []byte
	if err := dec(&in); err != nil {
		return nil, err
	}
	if url, ok := strings.CutPrefix(string(in), "get:"); ok {
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			return nil, err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		resp.Body.Close()
		out := []byte(resp.Status)
		return &out, nil
	}
	if addr, ok := strings.CutPrefix(string(in), "call:"); ok {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		hello, out := []byte("hello"), []byte(nil)
		if err := conn.Invoke(ctx, "/demo.Echo/Say", &hello, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
	if s, ok := strings.CutPrefix(string(in), "fail:"); ok {
		code, _ := strconv.Atoi(s)
		return nil, status.Error(codes.Code(code), "failed as asked")
	}
	return &in, nil
}

func count(_ any, stream grpc.ServerStream) error {
	var in []byte
	if err := stream.RecvMsg(&in); err != nil {
		return err
	}
	for i := range len(in) {
		out := []byte(fmt.Sprintf("message %d", i))
		if err := stream.SendMsg(&out); err != nil {
			return err
		}
	}
	return nil
}

var desc = grpc.ServiceDesc{
	ServiceName: "demo.Echo",
	HandlerType: (*any)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Say", Handler: say}},
	Streams:     []grpc.StreamDesc{{StreamName: "Count", Handler: count, ServerStreams: true}},
}

func main() {
	encoding.RegisterCodec(rawCodec{})
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: grpc serve|call ADDR")
		os.Exit(2)
	}
	addr := os.Args[2]
	switch os.Args[1] {
	case "serve":
		l := listen(addr)
		var opts []grpc.ServerOption
		if len(os.Args) >= 5 {
			creds, err := credentials.NewServerTLSFromFile(os.Args[3], os.Args[4])
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			opts = append(opts, grpc.Creds(creds))
		}
		s := grpc.NewServer(opts...)
		s.RegisterService(&desc, struct{}{})
		fmt.Println("ready")
		_ = s.Serve(l)
	case "h2c":
		l := listen(addr)
		fmt.Println("ready")
		_ = http.Serve(l, h2c.NewHandler(helloMux(), &http2.Server{}))
	case "mountedh2c":
		l := listen(addr)
		s := grpc.NewServer()
		s.RegisterService(&desc, struct{}{})
		fmt.Println("ready")
		_ = http.Serve(l, h2c.NewHandler(s, &http2.Server{}))
	case "mounted":
		l := listen(addr)
		s := grpc.NewServer()
		s.RegisterService(&desc, struct{}{})
		srv := &http.Server{Handler: s, Protocols: new(http.Protocols)}
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetHTTP2(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
		fmt.Println("ready")
		if len(os.Args) >= 5 {
			_ = srv.ServeTLS(l, os.Args[3], os.Args[4])
		} else {
			_ = srv.Serve(l)
		}
	case "xnet":
		l := listen(addr)
		srv := &http.Server{Handler: helloMux()}
		if err := http2.ConfigureServer(srv, &http2.Server{}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("ready")
		_ = srv.ServeTLS(l, os.Args[3], os.Args[4])
	case "call":
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer conn.Close()
		calls(conn)
	case "client":
		creds := insecure.NewCredentials()
		if len(os.Args) >= 4 {
			var err error
			if creds, err = credentials.NewClientTLSFromFile(os.Args[3], ""); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer conn.Close()
		fmt.Println("ready")
		lines := bufio.NewScanner(os.Stdin)
		for lines.Scan() {
			if url, ok := strings.CutPrefix(lines.Text(), "h2get "); ok {
				fmt.Println(h2get(url))
			} else if url, ok := strings.CutPrefix(lines.Text(), "get "); ok {
				in, out := []byte("get:"+url), []byte(nil)
				err := conn.Invoke(context.Background(), "/demo.Echo/Say", &in, &out)
				fmt.Printf("Say get: %q %v\n", out, status.Code(err))
			} else if addr, ok := strings.CutPrefix(lines.Text(), "call "); ok {
				in, out := []byte("call:"+addr), []byte(nil)
				err := conn.Invoke(context.Background(), "/demo.Echo/Say", &in, &out)
				fmt.Printf("Say call: %q %v\n", out, status.Code(err))
			} else {
				calls(conn)
			}
			fmt.Println("done")
		}
	}
}

// h2c2 is x/net/http2's Transport used directly, over cleartext HTTP/2.
var h2c2 = &http2.Transport{
	AllowHTTP: true,
	DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	},
}

// h2get GETs url through h2c2: its status, or the error.
func h2get(url string) string {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err.Error()
	}
	resp, err := h2c2.RoundTrip(req)
	if err != nil {
		return err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return strconv.Itoa(resp.StatusCode)
}

// listen listens on addr, or exits saying why.
func listen(addr string) net.Listener {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	return l
}

// helloMux answers /hello and 404s anything else.
func helloMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "hello over %s\n", r.Proto)
	})
	return mux
}

// calls makes a unary call that succeeds, one that fails with status 5 (NOT_FOUND) and a
// server-streaming call of four messages.
func calls(conn *grpc.ClientConn) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, req := range []string{"hello", "fail:5"} {
		in, out := []byte(req), []byte(nil)
		err := conn.Invoke(ctx, "/demo.Echo/Say", &in, &out)
		fmt.Printf("Say %s: %q %v\n", req, out, status.Code(err))
	}
	stream, err := conn.NewStream(ctx, &desc.Streams[0], "/demo.Echo/Count")
	if err != nil {
		fmt.Printf("Count: %v\n", status.Code(err))
		return
	}
	in := []byte("abcd")
	_ = stream.SendMsg(&in)
	_ = stream.CloseSend()
	n := 0
	for {
		var out []byte
		if stream.RecvMsg(&out) != nil {
			break
		}
		n++
	}
	fmt.Printf("Count: %d messages\n", n)
}
