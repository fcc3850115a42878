// Command mockidp is an OpenID Connect provider for the browser tests
// (web/e2e/04-sso): mockoidc on loopback. It prints its issuer, client and
// queue URL on stdout as one JSON line; POST {"sub","email","groups"} to
// the queue URL picks who signs in next (else mockoidc's default user). It
// runs until stdin closes.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"

	"github.com/oauth2-proxy/mockoidc"
)

func main() {
	m, err := mockoidc.Run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mockidp:", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "mockidp:", err)
		os.Exit(1)
	}
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var u struct {
				Sub, Email string
				Groups     []string
			}
			if err := json.NewDecoder(r.Body).Decode(&u); err != nil || r.Method != http.MethodPost || u.Sub == "" || u.Email == "" {
				http.Error(w, "POST {sub, email, groups}", http.StatusBadRequest)
				return
			}
			m.QueueUser(&mockoidc.MockUser{Subject: u.Sub, Email: u.Email, EmailVerified: true, PreferredUsername: u.Sub, Groups: u.Groups})
			w.WriteHeader(http.StatusNoContent)
		}))
	}()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]string{"issuer": m.Issuer(), "clientId": m.ClientID, "clientSecret": m.ClientSecret,
		"queue": "http://" + ln.Addr().String() + "/queue"})
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = m.Shutdown()
}
