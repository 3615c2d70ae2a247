//go:build !go1.22

package main

import "net/http"

// Before Go 1.22, ServeMux patterns are plain path prefixes.
func registerRoutes(front, back *http.ServeMux) {
	front.HandleFunc("/users/", users)
	front.HandleFunc("/fail", fail)
	back.HandleFunc("/backend/", backend)
}
