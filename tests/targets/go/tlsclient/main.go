// A Go program that speaks HTTP/1.1 by hand over crypto/tls — no net/http, so only the
// crypto/tls probes can see its requests. It waits for a line on stdin (so a tracer can
// attach first), then sends one request per line to the address given as its argument.
package main

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	addr := os.Args[1]
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		path := strings.TrimSpace(in.Text())
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
		body, _ := io.ReadAll(conn)
		conn.Close()
		fmt.Println(strings.SplitN(string(body), "\r\n", 2)[0])
	}
}
