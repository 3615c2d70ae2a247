//go:build go1.22

package main

import "net/http"

// Go 1.22+ patterns: the route reaches spans as http.route.
func registerRoutes(front, back *http.ServeMux) {
	front.HandleFunc("GET /users/{id}", users)
	front.HandleFunc("GET /fail", fail)
	back.HandleFunc("GET /backend/{id}", backend)
}
